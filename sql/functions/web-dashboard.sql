-- SPDX-License-Identifier: ISC
-- The dashboard's three lists (cgi/page-dashboard.c, docs/web.md
-- "Dashboard and Google integrations") and the Google status that the
-- integrations page shows too (cgi/google-status.c).  Run as rally_web
-- under row-level security (security invoker), so they can only narrow
-- what the policies let through.
--
-- PL/pgSQL, not SQL sent by the CGI, for the plan: a statement sent with
-- PQexecParams is parsed, rewritten with the policies and planned on every
-- request, which cost more than running it (1.8 ms of the dashboard's 2.5
-- in pg_stat_statements, docs/cgi.md section 10).  PL/pgSQL keeps the plan
-- of each query for the life of the backend: a FastCGI process's kept
-- connection, or pgbouncer's server connection, plans once.  None takes a
-- parameter, so the kept plan is the generic one, which is the plan the
-- CGI's statements had anyway: the tenant, the user and the clock are
-- read when it runs (rally.current_tenant(), current_user_id(), now()),
-- as index conditions.
--
-- Times are formatted in the user's time zone: rally.cgi sets TimeZone for
-- the transaction before it calls them.  Every list is cut to ten rows.
set local role rally_owner;

-- The activities of the next seven days: timed ones still going on or
-- starting within seven days (started at most a day ago), all-day ones
-- from today's date on, in the user's time zone; the user's own and the
-- tenant's shared ones.  Each kind of row (own or a teammate's shared,
-- timed or all-day) is a range scan of its own index in start order,
-- stopped after ten rows, and the four are merged: the cost does not grow
-- with the tenant's activities (test_web_dashboard_plans.py checks the
-- plans).
create or replace function rally.web_dashboard_upcoming()
returns table (id text, title text, kind text, day text, at text,
    owner_name text, mine boolean)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
	return query
	select x.id::text, x.title, x.kind,
	    case when x.start_at is not null then
	        case x.start_at::date - current_date when 0 then 'Today'
	            when 1 then 'Tomorrow' else to_char(x.start_at, 'Dy DD Mon') end
	        || ', ' || to_char(x.start_at, 'HH24:MI')
	    else
	        case x.start_date - current_date when 0 then 'Today'
	            when 1 then 'Tomorrow' else to_char(x.start_date, 'Dy DD Mon') end
	        || ', all day' end,
	    case when x.start_at is not null
	        then to_char(x.start_at, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM')
	        else to_char(x.start_date, 'YYYY-MM-DD') end,
	    (select coalesce(nullif(u.name, ''), u.email) from rally.users u
	     where u.tenant_id = rally.current_tenant() and u.id = x.owner_id),
	    x.owner_id = rally.current_user_id()
	from (
	    (select a.id, a.title, a.kind, a.start_at, a.start_date, a.owner_id,
	         a.start_at as sort_at
	     from rally.activities a
	     where a.tenant_id = rally.current_tenant()
	         and a.owner_id = rally.current_user_id()
	         and a.start_at >= now() - interval '1 day'
	         and a.start_at < now() + interval '7 days'
	         and coalesce(a.end_at, a.start_at) >= now()
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_at limit 10)
	    union all
	    (select a.id, a.title, a.kind, a.start_at, a.start_date, a.owner_id, a.start_at
	     from rally.activities a
	     where a.tenant_id = rally.current_tenant() and a.visibility = 'shared'
	         and a.owner_id <> rally.current_user_id()
	         and a.start_at >= now() - interval '1 day'
	         and a.start_at < now() + interval '7 days'
	         and coalesce(a.end_at, a.start_at) >= now()
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_at limit 10)
	    union all
	    (select a.id, a.title, a.kind, a.start_at, a.start_date, a.owner_id,
	         a.start_date::timestamptz
	     from rally.activities a
	     where a.tenant_id = rally.current_tenant()
	         and a.owner_id = rally.current_user_id()
	         and a.start_date >= current_date and a.start_date < current_date + 7
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_date limit 10)
	    union all
	    (select a.id, a.title, a.kind, a.start_at, a.start_date, a.owner_id,
	         a.start_date::timestamptz
	     from rally.activities a
	     where a.tenant_id = rally.current_tenant() and a.visibility = 'shared'
	         and a.owner_id <> rally.current_user_id()
	         and a.start_date >= current_date and a.start_date < current_date + 7
	         and a.deleted_at is null and a.event_status <> 'cancelled'
	     order by a.start_date limit 10)
	) x
	order by x.sort_at, x.id::text limit 10;
end
$$;

-- The ten newest conversations: the user's own threads by (tenant_id,
-- user_id, last_message_at) (mail_threads_user), the team's shared ones by
-- (tenant_id, last_message_at) (mail_threads_shared_recent, migration
-- 0037), ten of each, merged.  A thread whose every message is in the
-- trash or spam is left out; unread means some message is.  The messages
-- are looked at, not the threads' summary columns (label_ids, hidden),
-- for a thread the sync has not summarised yet.
create or replace function rally.web_dashboard_threads()
returns table (id text, subject text, snippet text, at_short text, at text,
    unread boolean, mine boolean, owner_name text)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
	return query
	select t.id::text, coalesce(nullif(t.subject, ''), '(no subject)'),
	    coalesce(t.snippet, ''), to_char(t.last_message_at,
	        case when t.last_message_at::date = current_date then 'HH24:MI'
	        else 'DD Mon' end),
	    to_char(t.last_message_at, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'),
	    exists (select 1 from rally.mail_messages m
	        where m.tenant_id = t.tenant_id and m.thread_id = t.id
	            and 'UNREAD' = any (m.label_ids)),
	    t.user_id = rally.current_user_id(),
	    coalesce((select coalesce(nullif(u.name, ''), u.email) from rally.users u
	        where u.tenant_id = t.tenant_id and u.id = t.user_id), '')
	from (
	    (select h.tenant_id, h.id, h.user_id, h.subject, h.snippet, h.last_message_at
	     from rally.mail_threads h
	     where h.tenant_id = rally.current_tenant()
	         and h.user_id = rally.current_user_id() and h.last_message_at is not null
	         and exists (select 1 from rally.mail_messages m
	             where m.tenant_id = h.tenant_id and m.thread_id = h.id
	                 and not (m.label_ids && array['TRASH', 'SPAM']))
	     order by h.last_message_at desc limit 10)
	    union all
	    (select h.tenant_id, h.id, h.user_id, h.subject, h.snippet, h.last_message_at
	     from rally.mail_threads h
	     where h.tenant_id = rally.current_tenant() and h.visibility = 'shared'
	         and h.user_id <> rally.current_user_id()
	         and h.last_message_at is not null
	         and exists (select 1 from rally.mail_messages m
	             where m.tenant_id = h.tenant_id and m.thread_id = h.id
	                 and not (m.label_ids && array['TRASH', 'SPAM']))
	     order by h.last_message_at desc limit 10)
	) t
	order by t.last_message_at desc, t.id::text limit 10;
end
$$;

-- The user's Google connections (the first ten by connected_at, index
-- google_connections_user), each with a row per integration and its
-- sync_state row by primary key.  Only the columns rally_web may read:
-- never a token or a sync token, and an error's kind, not its text.
-- last_success_ago is in seconds, -1 for never; lag and backlog -1 for
-- unknown.
create or replace function rally.web_google_status()
returns table (connection_id text, google_email text, status text,
    error_kind text, resource text, enabled boolean, known boolean,
    last_success_ago bigint, last_success text, lag_seconds bigint,
    backlog bigint, sync_error_kind text, full_sync_required boolean)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
	return query
	select c.id::text, c.google_email, c.status,
	    coalesce(c.last_error_kind, ''), r.resource,
	    case r.resource when 'calendar' then c.calendar_enabled
	        else c.mail_enabled end,
	    s.connection_id is not null,
	    coalesce(extract(epoch from now() - s.last_success_at)::bigint, -1),
	    coalesce(to_char(s.last_success_at, 'Dy DD Mon YYYY, HH24:MI'), ''),
	    coalesce(s.lag_seconds, -1)::bigint, coalesce(s.backlog, -1)::bigint,
	    coalesce(s.last_error_kind, ''), coalesce(s.full_sync_required, false)
	from (select g.tenant_id, g.id, g.google_email, g.status, g.last_error_kind,
	        g.calendar_enabled, g.mail_enabled, g.connected_at
	    from rally.google_connections g
	    where g.tenant_id = rally.current_tenant()
	        and g.user_id = rally.current_user_id()
	    order by g.connected_at, g.id limit 10) c
	cross join (values ('calendar'), ('mail')) r (resource)
	left join rally.sync_state s on s.tenant_id = c.tenant_id
	    and s.connection_id = c.id and s.resource = r.resource
	order by c.connected_at, c.id, r.resource;
end
$$;

grant execute on function rally.web_dashboard_upcoming(), rally.web_dashboard_threads(),
    rally.web_google_status() to rally_web;
