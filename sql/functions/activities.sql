-- SPDX-License-Identifier: ISC
-- The web's list of activities (cgi/page-activities.c): one page of the
-- caller's own activities and the tenant's shared ones, in order of their
-- start, after (or before) a cursor.  Run as rally_web under row-level
-- security, so it can only narrow what the policies let through.
--
-- The start of a timed activity is start_at; an all-day one starts at
-- midnight of start_date in the viewer's time zone (date::timestamptz
-- under the TimeZone rally.cgi sets per request), so a day's all-day
-- activities come before its meetings, wherever the viewer is.  Each kind
-- of row (own or shared, timed or all-day) is its own range scan of its
-- index, stopped after 51 rows, and the four are merged: a page costs the
-- same for a tenant of ten activities as for one of a million
-- (test_web_activities.py checks the plan).  Plain SQL functions with no
-- SET clause, so PostgreSQL inlines them into the caller's query and plans
-- them with its values.
--
-- The bounds are sub-selects: row-level security lets only leakproof
-- expressions into an index condition ahead of the policies, and
-- date_trunc() and coalesce() are not, but the value of a sub-select is.
--
-- p_after: the cursor's start (NULL: midnight today); p_after_id: its id,
-- the tie-break; p_own: the caller's own; p_shared: the tenant's shared
-- ones (the caller's own among them only when p_own is false, so that no
-- row comes twice).  At most 51 rows: the page's 50 and whether there is
-- more.
set local role rally_owner;

create or replace function rally.activities_after(p_after timestamptz, p_after_id uuid,
    p_own boolean, p_shared boolean)
returns table (id uuid, key timestamptz)
language sql stable
as $$
	select b.id, b.key from (
	    (select a.id, a.start_at as key from rally.activities a
	     where p_own and a.tenant_id = rally.current_tenant()
	         and a.owner_id = rally.current_user_id()
	         and a.start_at >= (select coalesce(p_after, date_trunc('day', now())))
	         and (a.start_at, a.id) > ((select coalesce(p_after, date_trunc('day', now()))), p_after_id)
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_at, a.id limit 51)
	    union all
	    (select a.id, a.start_date::timestamptz from rally.activities a
	     where p_own and a.tenant_id = rally.current_tenant()
	         and a.owner_id = rally.current_user_id()
	         and a.start_date >= (select coalesce(p_after, date_trunc('day', now()))::date)
	         and (a.start_date::timestamptz, a.id)
	             > ((select coalesce(p_after, date_trunc('day', now()))), p_after_id)
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_date, a.id limit 51)
	    union all
	    (select a.id, a.start_at from rally.activities a
	     where p_shared and a.tenant_id = rally.current_tenant()
	         and a.visibility = 'shared'
	         and (not p_own or a.owner_id <> rally.current_user_id())
	         and a.start_at >= (select coalesce(p_after, date_trunc('day', now())))
	         and (a.start_at, a.id) > ((select coalesce(p_after, date_trunc('day', now()))), p_after_id)
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_at, a.id limit 51)
	    union all
	    (select a.id, a.start_date::timestamptz from rally.activities a
	     where p_shared and a.tenant_id = rally.current_tenant()
	         and a.visibility = 'shared'
	         and (not p_own or a.owner_id <> rally.current_user_id())
	         and a.start_date >= (select coalesce(p_after, date_trunc('day', now()))::date)
	         and (a.start_date::timestamptz, a.id)
	             > ((select coalesce(p_after, date_trunc('day', now()))), p_after_id)
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_date, a.id limit 51)
	) b
	order by b.key, b.id
	limit 51
$$;

-- The same backwards: the page before the cursor, latest first (the
-- "past" view).
create or replace function rally.activities_before(p_before timestamptz, p_before_id uuid,
    p_own boolean, p_shared boolean)
returns table (id uuid, key timestamptz)
language sql stable
as $$
	select b.id, b.key from (
	    (select a.id, a.start_at as key from rally.activities a
	     where p_own and a.tenant_id = rally.current_tenant()
	         and a.owner_id = rally.current_user_id()
	         and a.start_at <= (select coalesce(p_before, date_trunc('day', now())))
	         and (a.start_at, a.id) < ((select coalesce(p_before, date_trunc('day', now()))), p_before_id)
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_at desc, a.id desc limit 51)
	    union all
	    (select a.id, a.start_date::timestamptz from rally.activities a
	     where p_own and a.tenant_id = rally.current_tenant()
	         and a.owner_id = rally.current_user_id()
	         and a.start_date <= (select coalesce(p_before, date_trunc('day', now()))::date)
	         and (a.start_date::timestamptz, a.id)
	             < ((select coalesce(p_before, date_trunc('day', now()))), p_before_id)
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_date desc, a.id desc limit 51)
	    union all
	    (select a.id, a.start_at from rally.activities a
	     where p_shared and a.tenant_id = rally.current_tenant()
	         and a.visibility = 'shared'
	         and (not p_own or a.owner_id <> rally.current_user_id())
	         and a.start_at <= (select coalesce(p_before, date_trunc('day', now())))
	         and (a.start_at, a.id) < ((select coalesce(p_before, date_trunc('day', now()))), p_before_id)
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_at desc, a.id desc limit 51)
	    union all
	    (select a.id, a.start_date::timestamptz from rally.activities a
	     where p_shared and a.tenant_id = rally.current_tenant()
	         and a.visibility = 'shared'
	         and (not p_own or a.owner_id <> rally.current_user_id())
	         and a.start_date <= (select coalesce(p_before, date_trunc('day', now()))::date)
	         and (a.start_date::timestamptz, a.id)
	             < ((select coalesce(p_before, date_trunc('day', now()))), p_before_id)
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_date desc, a.id desc limit 51)
	) b
	order by b.key desc, b.id desc
	limit 51
$$;

grant execute on function rally.activities_after(timestamptz, uuid, boolean, boolean),
    rally.activities_before(timestamptz, uuid, boolean, boolean) to rally_web;
