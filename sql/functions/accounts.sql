-- SPDX-License-Identifier: ISC
-- Lookups the web tier makes before it knows the tenant: security definer
-- functions that run as rally_owner and return no more than the CGI needs
-- to set the context; rows are then read under the policies (sql/README.md,
-- "Lookups before the tenant is known").  rally.current_user_role() stays
-- in migration 0003: the policies are built on it.  First defined in
-- migration 0003; these supersede it.
set local role rally_owner;

-- Login: the active accounts with this address, with their hashes (the
-- CGI verifies the password; several rows mean the address is in several
-- workspaces and the user picks one).  At most 20, each costing the CGI an
-- argon2id verification: those whose address is confirmed first, which no
-- one but its holder can add to (migration 0064), then the oldest.
create or replace function rally.web_login_lookup(p_email text)
returns table (tenant_id uuid, user_id uuid, password_hash text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select u.tenant_id, u.id, u.password_hash
	from rally.users u
	join rally.tenants t on t.tenant_id = u.tenant_id
	where lower(u.email) = lower(p_email)
	    and u.status = 'active' and t.status = 'active'
	    and u.password_hash is not null
	order by u.email_confirmed_at is null, u.created_at
	limit 20
$$;

-- An address changed is not the one that was confirmed; and the account's
-- reset links, mailed to the old one, go: used afterwards, they would
-- confirm the new address (web_reset_complete), which anyone could then
-- set to someone else's (sql/functions/web-accounts.sql).
create or replace function rally.users_email_changed() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	new.email_confirmed_at := null;
	perform rally.password_resets_void(new.tenant_id, new.id);
	return new;
end
$$;
create or replace trigger email_changed before update of email on rally.users
    for each row when (lower(new.email) is distinct from lower(old.email))
    execute function rally.users_email_changed();

-- A request's session cookie: who it belongs to, if it is live and its
-- user may still log in.
create or replace function rally.web_session_lookup(p_id_hash bytea)
returns table (tenant_id uuid, user_id uuid)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select s.tenant_id, s.user_id
	from rally.sessions s
	join rally.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
	join rally.tenants t on t.tenant_id = s.tenant_id
	where s.id_hash = p_id_hash and s.expires_at > now()
	    and u.status = 'active' and t.status = 'active'
$$;

grant execute on function rally.web_login_lookup(text),
    rally.web_session_lookup(bytea) to rally_web;
