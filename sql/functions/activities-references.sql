-- SPDX-License-Identifier: ISC
-- Two references of rally.activities that were foreign keys until
-- migrations 0050 and 0051, kept by triggers that check an INSERT once per
-- statement instead of once per row: a synced activity's connection
-- ((tenant_id, connection_id, owner_id) → rally.google_connections
-- (tenant_id, id, user_id), on delete cascade) and a recurring exception's
-- series ((tenant_id, recurring_activity_id) → rally.activities (tenant_id,
-- id), on delete cascade).  A first sync inserts thousands of rows of one
-- connection in a statement, and PostgreSQL looked that connection up again
-- for every one of them (9.5 % of the apply's instructions), and planned
-- each exception's two lookups again (6 %, docs/calendar-sync.md "Cost").
-- Same guarantees as the constraints: the row referred to exists, checked
-- at the end of each statement that inserts or re-points a row and locked
-- FOR KEY SHARE to the end of the transaction (a concurrent delete of it
-- waits, or the insert fails); deleting it deletes the rows that refer to
-- it; its key cannot change while they exist.  The error is the
-- constraint's (foreign_key_violation).  All security definer, as the
-- foreign keys' own queries were: a reference is checked, and a cascade
-- done, whatever the caller may see.
set local role rally_owner;

-- The connections a set of (tenant_id, connection_id, owner_id) keys need,
-- locked; raises when one is missing.
create or replace function rally.activities_connection_require(p_tenants uuid[],
    p_conns uuid[], p_owners uuid[])
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	n_keys int;
	n_found int;
	k record;
begin
	select count(*) into n_keys
	from (select distinct t, c, o from unnest(p_tenants, p_conns, p_owners) u(t, c, o)) d;
	select count(*) into n_found
	from (select 1 from rally.google_connections g
	    where (g.tenant_id, g.id, g.user_id) in (select t, c, o
	        from unnest(p_tenants, p_conns, p_owners) u(t, c, o))
	    for key share of g) f;
	if n_found = n_keys then
		return;
	end if;
	select t, c, o into k from unnest(p_tenants, p_conns, p_owners) u(t, c, o)
	where not exists (select 1 from rally.google_connections g
	    where g.tenant_id = u.t and g.id = u.c and g.user_id = u.o)
	limit 1;
	raise exception 'insert or update on table "activities" violates foreign key constraint "activities_connection_check"'
	    using errcode = 'foreign_key_violation', schema = 'rally', table = 'activities',
	        constraint = 'activities_connection_check',
	        detail = format('Key (tenant_id, connection_id, owner_id)=(%s, %s, %s) is not present in table "google_connections".',
	            k.t, k.c, k.o);
end
$$;

-- A connection deleted: its activities go (the cascade), as the owner sees
-- them all.  A key changed while activities name it: refused.
create or replace function rally.google_connections_activities() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if tg_op = 'DELETE' then
		delete from rally.activities
		where tenant_id = old.tenant_id and connection_id = old.id and owner_id = old.user_id;
	elsif exists (select 1 from rally.activities
	    where tenant_id = old.tenant_id and connection_id = old.id and owner_id = old.user_id) then
		raise exception 'update or delete on table "google_connections" violates foreign key constraint "activities_connection_check" on table "activities"'
		    using errcode = 'foreign_key_violation', schema = 'rally',
		        table = 'google_connections', constraint = 'activities_connection_check';
	end if;
	return null;
end
$$;
create or replace trigger activities_cascade after delete on rally.google_connections
    for each row execute function rally.google_connections_activities();
create or replace trigger activities_key after update of tenant_id, id, user_id
    on rally.google_connections
    for each row when ((new.tenant_id, new.id, new.user_id)
        is distinct from (old.tenant_id, old.id, old.user_id))
    execute function rally.google_connections_activities();

-- The series of a set of exceptions ((tenant_id, recurring_activity_id)
-- keys), locked; raises when one is missing.
create or replace function rally.activities_series_require(p_tenants uuid[], p_series uuid[])
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	n_keys int;
	n_found int;
	k record;
begin
	select count(*) into n_keys
	from (select distinct t, s from unnest(p_tenants, p_series) u(t, s)) d;
	select count(*) into n_found
	from (select 1 from rally.activities a
	    where (a.tenant_id, a.id) in (select t, s from unnest(p_tenants, p_series) u(t, s))
	    for key share of a) f;
	if n_found = n_keys then
		return;
	end if;
	select t, s into k from unnest(p_tenants, p_series) u(t, s)
	where not exists (select 1 from rally.activities a where a.tenant_id = u.t and a.id = u.s)
	limit 1;
	raise exception 'insert or update on table "activities" violates foreign key constraint "activities_series_check"'
	    using errcode = 'foreign_key_violation', schema = 'rally', table = 'activities',
	        constraint = 'activities_series_check',
	        detail = format('Key (tenant_id, recurring_activity_id)=(%s, %s) is not present in table "activities".',
	            k.t, k.s);
end
$$;

-- After an INSERT: every connection and every series the new rows name,
-- each kind in one lookup.
create or replace function rally.activities_references_insert() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	v_t uuid[];
	v_c uuid[];
	v_o uuid[];
begin
	select array_agg(tenant_id), array_agg(connection_id), array_agg(owner_id)
	into v_t, v_c, v_o
	from (select distinct tenant_id, connection_id, owner_id from new_rows
	    where connection_id is not null) d;
	if v_c is not null then
		perform rally.activities_connection_require(v_t, v_c, v_o);
	end if;
	select array_agg(tenant_id), array_agg(recurring_activity_id) into v_t, v_c
	from (select distinct tenant_id, recurring_activity_id from new_rows
	    where recurring_activity_id is not null) d;
	if v_c is not null then
		perform rally.activities_series_require(v_t, v_c);
	end if;
	return null;
end
$$;
create or replace trigger references_insert after insert on rally.activities
    referencing new table as new_rows
    for each statement execute function rally.activities_references_insert();

-- After an UPDATE that re-points a row, row by row: a sync never moves a
-- row to another connection, and links an exception afterwards only when
-- its series came after it.
create or replace function rally.activities_references_update() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if new.connection_id is not null and (new.tenant_id, new.connection_id, new.owner_id)
	    is distinct from (old.tenant_id, old.connection_id, old.owner_id) then
		perform rally.activities_connection_require(array[new.tenant_id],
		    array[new.connection_id], array[new.owner_id]);
	end if;
	if new.recurring_activity_id is not null and (new.tenant_id, new.recurring_activity_id)
	    is distinct from (old.tenant_id, old.recurring_activity_id) then
		perform rally.activities_series_require(array[new.tenant_id],
		    array[new.recurring_activity_id]);
	end if;
	return null;
end
$$;
create or replace trigger references_update
    after update of tenant_id, connection_id, owner_id, recurring_activity_id
    on rally.activities
    for each row when ((new.connection_id is not null
            and (new.tenant_id, new.connection_id, new.owner_id)
                is distinct from (old.tenant_id, old.connection_id, old.owner_id))
        or (new.recurring_activity_id is not null
            and (new.tenant_id, new.recurring_activity_id)
                is distinct from (old.tenant_id, old.recurring_activity_id)))
    execute function rally.activities_references_update();

-- A series deleted: its exceptions go, in one statement for all the
-- series a statement deleted (which fires this again for the exceptions,
-- which delete nothing).
create or replace function rally.activities_series_cascade() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	-- A statement trigger fires for a statement that deleted nothing, as
	-- this DELETE often is: stop there.
	if not exists (select 1 from old_rows) then
		return null;
	end if;
	delete from rally.activities a
	where a.recurring_activity_id is not null
	    and (a.tenant_id, a.recurring_activity_id) in (select o.tenant_id, o.id from old_rows o);
	return null;
end
$$;
create or replace trigger series_cascade after delete on rally.activities
    referencing old table as old_rows
    for each statement execute function rally.activities_series_cascade();

-- An activity's key changed while exceptions name it: refused.
create or replace function rally.activities_series_key() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if exists (select 1 from rally.activities a
	    where a.tenant_id = old.tenant_id and a.recurring_activity_id = old.id) then
		raise exception 'update or delete on table "activities" violates foreign key constraint "activities_series_check" on table "activities"'
		    using errcode = 'foreign_key_violation', schema = 'rally', table = 'activities',
		        constraint = 'activities_series_check';
	end if;
	return null;
end
$$;
create or replace trigger series_key after update of tenant_id, id on rally.activities
    for each row when ((new.tenant_id, new.id) is distinct from (old.tenant_id, old.id))
    execute function rally.activities_series_key();
