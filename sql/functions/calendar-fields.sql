-- SPDX-License-Identifier: ISC
-- Calendar: what the synced fields of an activity are, and how an event
-- and an activity are compared (docs/calendar-sync.md).  Comparing the two
-- sides goes through one canonical form of the fields, a jsonb object,
-- built by rally.cal_fields_of: rally.cal_fields (from a row) and
-- rally.cal_fields_from_event (from an event, read as columns by
-- rally.cal_event_columns, the one reading of an event's fields);
-- rally.cal_columns turns that form back into the columns, and is the one
-- place that does.  Times are compared in UTC, empty text equals absent
-- text, attendees keep only what both sides share.  First defined in
-- migration 0010; these supersede it.
set local role rally_owner;

-- Stable, not immutable, as to_char is: so PostgreSQL inlines it, where
-- a call per timestamp would cost more than the formatting.
create or replace function rally.cal_utc(t timestamptz) returns jsonb
language sql stable parallel safe
as $$ select to_jsonb(to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) $$;

-- The canonical attendees of a list, as a set of one row: a function
-- returning a set, written in SQL, is inlined into the statement that
-- calls it in its FROM list, so a page of events canonicalizes its
-- attendees inside one plan; a scalar SQL function holding a query is
-- called instead, its own executor started for each of them (about 10 us
-- an event, a tenth of the first sync's cost, docs/calendar-sync.md "Cost").
--
-- Each attendee is built from text arrays and constant objects, not with
-- jsonb_build_object and jsonb_strip_nulls: jsonb_build_object looks up
-- the type of each of its ten arguments in the catalog on every call,
-- which made canonicalizing the attendees of a first sync (15,000 of
-- them) cost 74 ms of the backend, against 58 ms this way; the objects
-- are the same.
create or replace function rally.cal_attendee_set(a jsonb)
returns table (attendees jsonb)
language sql immutable parallel safe
as $$
	select coalesce(jsonb_agg(
	    case when nullif(x->>'displayName', '') is null
	        then jsonb_object('{email,responseStatus}'::text[],
	            array[lower(x->>'email'), coalesce(x->>'responseStatus', 'needsAction')])
	        else jsonb_object('{email,displayName,responseStatus}'::text[],
	            array[lower(x->>'email'), x->>'displayName',
	                coalesce(x->>'responseStatus', 'needsAction')]) end
	    || case when (x->>'organizer')::boolean then '{"organizer": true}'::jsonb
	        else '{}'::jsonb end
	    || case when (x->>'optional')::boolean then '{"optional": true}'::jsonb
	        else '{}'::jsonb end
	    order by lower(x->>'email')), '[]'::jsonb)
	from jsonb_array_elements(coalesce(a, '[]'::jsonb)) x
	where x->>'email' is not null
$$;

-- The same, as a value.
create or replace function rally.cal_attendee_list(a jsonb) returns jsonb
language sql immutable parallel safe
as $$ select s.attendees from rally.cal_attendee_set(a) s $$;

-- The canonical attendees of an activity's column.  Most activities have
-- none: that case is an expression PostgreSQL inlines, and only a list
-- costs a call of rally.cal_attendee_list.
create or replace function rally.cal_attendees(a jsonb) returns jsonb
language sql immutable parallel safe
as $$
	select case when a is null or a operator(pg_catalog.=) '[]'::jsonb then '[]'::jsonb
	    else rally.cal_attendee_list(a) end
$$;

-- The canonical form of the synced fields, from their values as the
-- activity's columns hold them (attendees already canonical).
create or replace function rally.cal_fields_of(title text, description text, location text,
    start_at timestamptz, end_at timestamptz, start_date date, end_date date, time_zone text,
    recurrence text[], attendees jsonb, event_status text)
returns jsonb
language sql stable parallel safe
as $$
	select jsonb_build_object(
	    'title', coalesce(title, ''),
	    'description', nullif(description, ''),
	    'location', nullif(location, ''),
	    'start_at', rally.cal_utc(start_at),
	    'end_at', rally.cal_utc(end_at),
	    'start_date', to_jsonb(start_date),
	    'end_date', to_jsonb(end_date),
	    'time_zone', time_zone,
	    'recurrence', to_jsonb(recurrence),
	    'attendees', attendees,
	    'event_status', event_status)
$$;

-- The canonical fields of an activity.
create or replace function rally.cal_fields(a rally.activities) returns jsonb
language sql stable parallel safe
as $$
	select rally.cal_fields_of(a.title, a.description, a.location, a.start_at, a.end_at,
	    a.start_date, a.end_date, a.time_zone, a.recurrence, rally.cal_attendees(a.attendees),
	    a.event_status)
$$;

-- A time as its canonical form keeps it: whole seconds, and no infinity
-- (rally.cal_utc has no text for one).  Stable, as date_trunc is, so that
-- PostgreSQL inlines it.
create or replace function rally.cal_second(t timestamptz) returns timestamptz
language sql stable parallel safe
as $$ select case when isfinite(t) then date_trunc('second', t) end $$;

-- The synced fields of a Google event (events resource, Calendar v3) as
-- the activity's columns, in this order, from the event's members as
-- text (e_start_time is start.dateTime, e_start_day start.date, and so on;
-- recurrence and attendees as JSON): the one reading of an event's
-- fields, for an event as jsonb (rally.cal_event_columns) and for a page
-- rallyd hands over as columns (rally.cal_fill_columns).  A set of one
-- row, so that a page's statement inlines it (see rally.cal_attendee_set).
-- Times keep whole seconds, as their canonical form does.
create or replace function rally.cal_event_columns_of(e_summary text, e_description text,
    e_location text, e_start_time text, e_start_day text, e_start_zone text, e_end_time text,
    e_end_day text, e_recurrence jsonb, e_attendees jsonb, e_status text)
returns table (title text, description text, location text, start_at timestamptz,
    end_at timestamptz, start_date date, end_date date, time_zone text,
    recurrence text[], attendees jsonb, event_status text)
language sql stable parallel safe
as $$
	select coalesce(e_summary, ''), nullif(e_description, ''), nullif(e_location, ''),
	    rally.cal_second(e_start_time::timestamptz), rally.cal_second(e_end_time::timestamptz),
	    e_start_day::date, e_end_day::date, nullif(e_start_zone, ''),
	    case when jsonb_typeof(e_recurrence) = 'array' and jsonb_array_length(e_recurrence) > 0
	        then array(select jsonb_array_elements_text(e_recurrence)) end,
	    s.attendees, coalesce(e_status, 'confirmed')
	from rally.cal_attendee_set(e_attendees) s
$$;

-- The same from an event.  A NULL event gives empty fields.
create or replace function rally.cal_event_columns(e jsonb)
returns table (title text, description text, location text, start_at timestamptz,
    end_at timestamptz, start_date date, end_date date, time_zone text,
    recurrence text[], attendees jsonb, event_status text)
language sql stable parallel safe
as $$
	select c.* from rally.cal_event_columns_of(e->>'summary', e->>'description',
	    e->>'location', e->'start'->>'dateTime', e->'start'->>'date',
	    e->'start'->>'timeZone', e->'end'->>'dateTime', e->'end'->>'date',
	    e->'recurrence', e->'attendees', e->>'status') c
$$;

-- The canonical fields of a Google event.
create or replace function rally.cal_fields_from_event(e jsonb) returns jsonb
language sql stable parallel safe
as $$
	select rally.cal_fields_of(c.title, c.description, c.location, c.start_at, c.end_at,
	    c.start_date, c.end_date, c.time_zone, c.recurrence, c.attendees, c.event_status)
	from rally.cal_event_columns(e) c
$$;

-- The canonical fields back as the activity's columns, in this order:
-- what the merge and a push's answer write (rally.cal_set_fields).  A
-- page's events are written from rally.cal_event_columns instead, read
-- once from the event.
create or replace function rally.cal_columns(v jsonb)
returns table (title text, description text, location text, start_at timestamptz,
    end_at timestamptz, start_date date, end_date date, time_zone text,
    recurrence text[], attendees jsonb, event_status text)
language sql stable parallel safe
as $$
	select coalesce(v->>'title', ''), v->>'description', v->>'location',
	    (v->>'start_at')::timestamptz, (v->>'end_at')::timestamptz,
	    (v->>'start_date')::date, (v->>'end_date')::date, v->>'time_zone',
	    case when jsonb_typeof(v->'recurrence') = 'array' then
	        array(select jsonb_array_elements_text(v->'recurrence')) end,
	    coalesce(v->'attendees', '[]'::jsonb), coalesce(v->>'event_status', 'confirmed')
$$;

-- Writes a canonical field set into one activity.
create or replace function rally.cal_set_fields(p_tenant uuid, p_id uuid, v jsonb) returns void
language sql
as $$
	update rally.activities set (title, description, location, start_at, end_at,
	    start_date, end_date, time_zone, recurrence, attendees, event_status) =
	    (select * from rally.cal_columns(v))
	where tenant_id = p_tenant and id = p_id
$$;

-- The client-chosen event id of an activity: its uuid in base32hex
-- (Google allows a-v and 0-9, 5 to 1024 characters), so a retried insert
-- of the same activity collides (409) instead of duplicating.
-- The activity whose event id (rally.cal_event_id) this is, or NULL for
-- an id Rally did not derive from an activity.
create or replace function rally.cal_event_activity_id(p text) returns uuid
language sql immutable parallel safe
as $$
	select u from (select (select string_agg(to_hex(substring(b from i * 4 + 1 for 4)::bit(4)::int),
	        '' order by i) from generate_series(0, 31) i)::uuid as u
	    from (select string_agg((strpos('0123456789abcdefghijklmnopqrstuv', c) - 1)::bit(5)::text,
	        '' order by n)::varbit as b
	        from regexp_split_to_table(p, '') with ordinality t(c, n)) s
	    where p ~ '^[0-9a-v]{26}$') v
	where rally.cal_event_id(u) = p
$$;

-- Whether an event is deleted at Google: a cancelled event or series (a
-- cancelled occurrence of a live series is an exception, kept linked).
create or replace function rally.cal_event_deleted(e jsonb) returns boolean
language sql immutable parallel safe
as $$ select e->>'status' = 'cancelled' and e->>'recurringEventId' is null $$;

create or replace function rally.cal_event_id(p uuid) returns text
language sql immutable parallel safe
as $$
	select string_agg(substr('0123456789abcdefghijklmnopqrstuv',
	    substring(b from i * 5 + 1 for 5)::bit(5)::int + 1, 1), '' order by i)
	from (select (('x' || replace(p::text, '-', ''))::bit(128) || b'00') as b) s,
	    generate_series(0, 25) i
$$;

-- The event Rally sends for an activity (insert body; patch sends the same).
create or replace function rally.cal_event_body(a rally.activities) returns jsonb
language sql stable
as $$
	select jsonb_strip_nulls(jsonb_build_object(
	    'summary', coalesce(a.title, ''),
	    'start', case when a.start_date is not null
	        then jsonb_build_object('date', a.start_date)
	        else jsonb_build_object('dateTime', rally.cal_utc(a.start_at),
	            'timeZone', a.time_zone) end,
	    'end', case when a.start_date is not null
	        then jsonb_build_object('date', coalesce(a.end_date, a.start_date + 1))
	        else jsonb_build_object('dateTime',
	            rally.cal_utc(coalesce(a.end_at, a.start_at + interval '30 minutes')),
	            'timeZone', a.time_zone) end,
	    'recurrence', to_jsonb(a.recurrence),
	    'status', a.event_status,
	    'extendedProperties', jsonb_build_object('private',
	        jsonb_build_object('rallyActivityId', a.id::text))))
	    -- Present even when empty, so an edit that clears them reaches Google.
	    || jsonb_build_object(
	        'description', coalesce(a.description, ''),
	        'location', coalesce(a.location, ''),
	        'attendees', (select coalesce(jsonb_agg(jsonb_strip_nulls(
	            jsonb_build_object('email', x->>'email',
	                'displayName', x->>'displayName',
	                'responseStatus', x->>'responseStatus',
	                'optional', x->'optional'))), '[]'::jsonb)
	            from jsonb_array_elements(rally.cal_attendees(a.attendees)) x))
$$;

grant execute on function rally.cal_utc(timestamptz), rally.cal_attendees(jsonb),
    rally.cal_attendee_set(jsonb), rally.cal_attendee_list(jsonb),
    rally.cal_fields_of(text, text, text, timestamptz, timestamptz, date, date, text, text[],
        jsonb, text),
    rally.cal_fields(rally.activities), rally.cal_second(timestamptz),
    rally.cal_event_columns(jsonb),
    rally.cal_event_columns_of(text, text, text, text, text, text, text, text, jsonb, jsonb,
        text),
    rally.cal_fields_from_event(jsonb),
    rally.cal_columns(jsonb), rally.cal_set_fields(uuid, uuid, jsonb),
    rally.cal_event_id(uuid), rally.cal_event_body(rally.activities),
    rally.cal_event_deleted(jsonb), rally.cal_event_activity_id(text)
    to rally_daemon;
-- The web role edits activities, and the triggers' checks call these.
grant execute on function rally.cal_utc(timestamptz), rally.cal_attendees(jsonb),
    rally.cal_attendee_set(jsonb), rally.cal_attendee_list(jsonb),
    rally.cal_fields_of(text, text, text, timestamptz, timestamptz, date, date, text, text[],
        jsonb, text),
    rally.cal_fields(rally.activities), rally.cal_event_id(uuid)
    to rally_web;
