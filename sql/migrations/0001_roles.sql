-- Roles, ownership of the schema, and the tenant context that row-level
-- security keys on.  See sql/README.md for how the roles are meant to be
-- used and how operators create login roles.
--
-- This file runs as the migrating role (a superuser, or a CREATEROLE role
-- that is a member of rally_owner); every later file, and the rest of this
-- one, runs as rally_owner so that rally_owner owns everything.

-- NOLOGIN group roles: operators create login roles that are members of
-- them.  Created only when missing, so re-creating a database on a cluster
-- that already has them (or a restore) works.
do $$
declare
	r text;
begin
	foreach r in array array['rally_owner', 'rally_daemon', 'rally_web'] loop
		if not exists (select 1 from pg_catalog.pg_roles where rolname = r) then
			execute pg_catalog.format('create role %I nologin', r);
		end if;
	end loop;
end
$$;

-- The migration runner created the schema and its bookkeeping table as the
-- migrating role; hand both to rally_owner, which records later versions.
alter schema rally owner to rally_owner;
alter table rally.schema_migrations owner to rally_owner;

set local role rally_owner;

revoke all on schema rally from public;
grant usage on schema rally to rally_daemon, rally_web;
grant select on rally.schema_migrations to rally_daemon;

-- Functions are not callable by PUBLIC unless a migration grants it: the
-- security definer functions below and in later files are the web tier's
-- only way across tenants, so each grant is deliberate.
alter default privileges for role rally_owner revoke execute on functions from public;

-- The tenant and user the web tier acts for, as the CGI set them with
-- set_config('rally.tenant_id', ..., true) after authenticating the
-- request.  Unset or empty means none, and so does the nil uuid: it names
-- the system tenant (instances, backups, system jobs), which is the
-- daemon's alone.  An invalid uuid raises, so a bad setting fails closed.
create function rally.current_tenant() returns uuid
language sql stable parallel safe
as $$
	select nullif(
	    nullif(pg_catalog.current_setting('rally.tenant_id', true), '')::uuid,
	    '00000000-0000-0000-0000-000000000000'::uuid)
$$;

create function rally.current_user_id() returns uuid
language sql stable parallel safe
as $$
	select nullif(pg_catalog.current_setting('rally.user_id', true), '')::uuid
$$;

grant execute on function rally.current_tenant(), rally.current_user_id()
    to rally_web, rally_daemon;

-- Every table gets the same baseline: row-level security enabled and
-- forced (so even the owner goes through policies), and policies that let
-- the owner (migrations, the security definer functions) and the daemon
-- (which works across tenants) see every row.  BYPASSRLS would not do for
-- the daemon: role attributes are not inherited by the login roles that
-- are members of rally_daemon.  rally_web gets its own policies per table;
-- without one it sees and writes nothing.
create function rally.secure_table(t regclass) returns void
language plpgsql
as $$
begin
	execute pg_catalog.format('alter table %s enable row level security', t);
	execute pg_catalog.format('alter table %s force row level security', t);
	execute pg_catalog.format('create policy owner_all on %s to rally_owner '
	    'using (true) with check (true)', t);
	execute pg_catalog.format('create policy daemon_all on %s to rally_daemon '
	    'using (true) with check (true)', t);
end
$$;
