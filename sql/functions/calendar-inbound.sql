-- SPDX-License-Identifier: ISC
-- Calendar, Google → CRM.  rallyd fetches pages of events and hands each
-- page to rally.cal_apply_columns, its events' members read out as
-- columns (or, as Google sent it, to rally.cal_apply_page, which does the
-- same for a page as jsonb): the database applies it in one transaction
-- together with the sync token of the last page, so a crash anywhere
-- repeats work but never loses it.  What an event's members mean is
-- decided here, not in rallyd: rallyd only reads them out of the JSON.
-- A page is applied as a set (a handful of statements
-- over all its events, docs/calendar-sync.md "Cost"); only the events of
-- activities with unsent CRM edits go through the per-event three-way
-- merge, and a page holding an unusable event is applied again one event
-- at a time so only that event is skipped.  A row a sync writes is
-- 'synced' and keeps no snapshot (synced_snapshot NULL): its own fields
-- are what Google last sent, the base a merge compares with, until an
-- update takes the row out of 'synced' (a CRM edit), and the trigger
-- keeps the base then (rally.activities_track_local).  Building the snapshot
-- for every event written was an eighth of a first sync's cost.  First
-- defined in migration 0010; these supersede it.
set local role rally_owner;

-- Sums two objects of counts key by key.
create or replace function rally.cal_counts_add(a jsonb, b jsonb) returns jsonb
language sql immutable parallel safe
as $$
	select coalesce(jsonb_object_agg(k, coalesce((a->>k)::int, 0) + coalesce((b->>k)::int, 0)),
	    '{}'::jsonb)
	from (select jsonb_object_keys(a || b) k) s
$$;

-- Inserts the events of the set that are new to the connection (those
-- pg_temp.cal_page_fields matched to no activity): the recurring
-- exceptions (p_exceptions) or the others.  An exception is inserted
-- linked to its series when the series is known by then: the series of
-- the set are inserted first, so an exception's series that came in the
-- same page is found, and no UPDATE is needed to link them afterwards.
-- Returns the number of rows inserted.
create or replace function rally.cal_insert_items(p_tenant uuid, p_conn uuid, p_owner uuid,
    p_exceptions boolean)
returns int
language plpgsql
as $$
declare
	k int;
begin
	insert into rally.activities (tenant_id, owner_id, origin, connection_id,
	    google_event_id, sync_state, title, description, location, start_at, end_at,
	    start_date, end_date, time_zone, recurrence, attendees, event_status, etag,
	    google_updated, sequence, ical_uid, synced_snapshot, google_seen_at,
	    recurring_event_id, original_start_at, original_start_date, recurring_activity_id)
	select p_tenant, p_owner, 'google', p_conn, i.eid, 'synced', i.title, i.description,
	    i.location, i.start_at, i.end_at, i.start_date, i.end_date, i.time_zone,
	    i.recurrence, i.attendees, i.event_status, i.etag,
	    i.updated::timestamptz, i.seq::int, i.ical_uid,
	    null, now(), i.series, i.orig_start_at::timestamptz, i.orig_start_date::date,
	    case when p_exceptions then (select z.id from rally.activities z
	        where z.tenant_id = p_tenant and z.connection_id = p_conn
	            and z.google_event_id = i.series) end
	from pg_temp.cal_page_fields i
	where not i.gone and i.act_id is null
	    and (i.series is not null) = p_exceptions
	order by i.ord;
	get diagnostics k = row_count;
	return k;
end
$$;

-- The events of the set that are new and not recurring exceptions, as
-- rally.cal_insert_items, run with the session's cached plans where the
-- caller re-plans every statement (force_custom_plan).  Safe here:
-- without exceptions, that INSERT reads nothing but the scratch table
-- (the series lookup is not evaluated), so a cached plan of it is right
-- whatever rally.activities holds.  (Until migration 0050 this also kept
-- the plans of PostgreSQL's per-row foreign-key checks cached; those are
-- now one check per statement, sql/functions/activities-references.sql.)
-- Exceptions stay under force_custom_plan: their series is looked up in
-- rally.activities, the table being filled, where a plan cached while it
-- was empty would scan it.
create or replace function rally.cal_insert_new(p_tenant uuid, p_conn uuid, p_owner uuid)
returns int
language sql
set plan_cache_mode = auto
as $$ select rally.cal_insert_items(p_tenant, p_conn, p_owner, false) $$;

-- The session's scratch table pg_temp.cal_page_fields filled from a set
-- of events given as columns: element k of each array is a member of the
-- k-th event, as text (NULL when absent; recurrence and attendees as JSON
-- text), what rallyd reads out of a page (daemon/job-calsync.c) and what
-- rally.cal_fill_items reads out of an items array.  The table holds what
-- the statements of rally.cal_apply_filled use of each event, its synced
-- fields read once as the activity's columns, not the event itself: rows
-- that small are neither compressed nor read back from TOAST.  Its rows
-- live until the end of the transaction.  Its name changes with its
-- columns, since a session keeps the table it made (it was
-- cal_page_items, then cal_page_events, before these columns).  An event
-- without a usable id (not an object, no id, an id over 1024 characters)
-- fails the constraints on eid.
--
-- The same event twice in one set: its last state wins.  A deletion
-- carries no extendedProperties: its activity, if Rally made the event
-- and has not recorded its id yet (the first push's answer is still on
-- its way), is the one the event id was derived from.  The fields of a
-- deleted event are not read: whatever they hold, the deletion is
-- applied.  The arrays are of one length (rally.cal_apply_columns
-- checks).
create or replace function rally.cal_fill_columns(p_id text[], p_etag text[],
    p_status text[], p_summary text[], p_description text[], p_location text[],
    p_start_time text[], p_start_day text[], p_start_zone text[], p_end_time text[],
    p_end_day text[], p_recurrence text[], p_attendees text[], p_series text[],
    p_original_time text[], p_original_day text[], p_updated text[], p_sequence text[],
    p_ical_uid text[], p_rally_id text[])
returns void
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
begin
	if to_regclass('pg_temp.cal_page_fields') is null then
		create temp table cal_page_fields (
			ord bigint not null,
			eid text not null check (length(eid) <= 1024),
			rally_id uuid,
			gone boolean not null,
			title text,
			description text,
			location text,
			start_at timestamptz,
			end_at timestamptz,
			start_date date,
			end_date date,
			time_zone text,
			recurrence text[],
			attendees jsonb,
			event_status text,
			etag text,
			updated text,
			seq text,
			ical_uid text,
			series text,
			orig_start_at text,
			orig_start_date text,
			act_id uuid,
			act_etag text,
			act_state text
		) on commit delete rows;
	end if;
	delete from pg_temp.cal_page_fields;
	insert into pg_temp.cal_page_fields (ord, eid, rally_id, gone, title, description,
	    location, start_at, end_at, start_date, end_date, time_zone, recurrence, attendees,
	    event_status, etag, updated, seq, ical_uid, series, orig_start_at, orig_start_date)
	select distinct on (x.id) x.ord, x.id,
	    case when x.rally_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	        then x.rally_id::uuid
	        when g.gone then rally.cal_event_activity_id(x.id) end,
	    g.gone, c.title, c.description, c.location, c.start_at, c.end_at, c.start_date,
	    c.end_date, c.time_zone, c.recurrence, c.attendees, c.event_status,
	    x.etag, x.updated, x.seq, x.ical_uid, x.series, x.original_time, x.original_day
	from unnest(p_id, p_etag, p_status, p_summary, p_description, p_location,
	    p_start_time, p_start_day, p_start_zone, p_end_time, p_end_day, p_recurrence,
	    p_attendees, p_series, p_original_time, p_original_day, p_updated, p_sequence,
	    p_ical_uid, p_rally_id) with ordinality
	    x(id, etag, status, summary, description, location, start_time, start_day,
	        start_zone, end_time, end_day, recurrence, attendees, series, original_time,
	        original_day, updated, seq, ical_uid, rally_id, ord)
	cross join lateral (select coalesce(x.status, 'confirmed') = 'cancelled'
	    and x.series is null as gone) g
	-- A deleted event's fields: all NULL.
	left join lateral (select x.summary, x.description, x.location, x.start_time,
	    x.start_day, x.start_zone, x.end_time, x.end_day, x.recurrence, x.attendees,
	    x.status where not g.gone) f on true
	cross join lateral rally.cal_event_columns_of(f.summary, f.description, f.location,
	    f.start_time, f.start_day, f.start_zone, f.end_time, f.end_day,
	    f.recurrence::jsonb, f.attendees::jsonb, f.status) c
	order by x.id, x.ord desc;
end
$$;

-- The same from a set of events (an items array): each event's members
-- as jsonb's operators read them, which is what rallyd's columns hold.
create or replace function rally.cal_fill_items(p_items jsonb) returns void
language sql
as $$
	select rally.cal_fill_columns(array_agg(e->>'id' order by n),
	    array_agg(e->>'etag' order by n), array_agg(e->>'status' order by n),
	    array_agg(e->>'summary' order by n), array_agg(e->>'description' order by n),
	    array_agg(e->>'location' order by n),
	    array_agg(e->'start'->>'dateTime' order by n),
	    array_agg(e->'start'->>'date' order by n),
	    array_agg(e->'start'->>'timeZone' order by n),
	    array_agg(e->'end'->>'dateTime' order by n), array_agg(e->'end'->>'date' order by n),
	    array_agg((e->'recurrence')::text order by n),
	    array_agg((e->'attendees')::text order by n),
	    array_agg(e->>'recurringEventId' order by n),
	    array_agg(e->'originalStartTime'->>'dateTime' order by n),
	    array_agg(e->'originalStartTime'->>'date' order by n),
	    array_agg(e->>'updated' order by n), array_agg(e->>'sequence' order by n),
	    array_agg(e->>'iCalUID' order by n),
	    array_agg(e->'extendedProperties'->'private'->>'rallyActivityId' order by n))
	from jsonb_array_elements(p_items) with ordinality x(e, n)
$$;

-- The events of the scratch table (rally.cal_fill_items or
-- rally.cal_fill_columns) applied to a connection's activities.  Every
-- statement works on the whole set.  Each statement reaches activities
-- by key only: the match by the unique (tenant, connection, event) key,
-- row by row from the set, the writes by primary key from arrays of the
-- matched ids (whose length the planner knows), so the cost follows the
-- page, not the table, and no plan can turn into a scan of it (plans are
-- made per call anyway: one made while the table was empty is never
-- reused).  The activities a page touches are locked before they are
-- classified, so a CRM edit that commits meanwhile waits and is then seen
-- as an unsent edit to merge, not overwritten.  Returns counts by outcome.
create or replace function rally.cal_apply_filled(p_tenant uuid, p_conn uuid, p_owner uuid)
returns jsonb
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	n_applied int := 0;
	n_unchanged int;
	n_deleted int;
	n_ignored int;
	n_conflict int := 0;
	n_merged int := 0;
	k int;
	r record;
	v_gone uuid[];
	v_seen uuid[];
	v_changed uuid[];
	v_merge uuid[];
begin
	-- Which activity each event is, locked: by its event id, or (an insert
	-- of Rally's whose answer was lost in a crash) by the activity id Rally
	-- put in the event.  An event older than the version the row already
	-- holds (a page fetched before a push met or wrote a newer one) is
	-- 'stale': nothing new, neither applied nor merged.
	update pg_temp.cal_page_fields i set act_id = m.id, act_etag = m.etag,
	    act_state = case when m.google_updated > i.updated::timestamptz
	        then 'stale' else m.sync_state end
	from (select j.eid, a.id, a.etag, a.sync_state, a.google_updated
	    from pg_temp.cal_page_fields j
	    cross join lateral (select x.id, x.etag, x.sync_state, x.google_updated
	        from rally.activities x
	        where x.tenant_id = p_tenant and x.connection_id = p_conn
	            and x.google_event_id = j.eid
	        for update) a) m
	where m.eid = i.eid;
	-- One event per activity (a copy of Rally's event carries the same
	-- activity id: the later one adopts it, the other is inserted); and
	-- the row may have got its event id from Rally's own push since the
	-- lookup above.
	update pg_temp.cal_page_fields i set act_id = m.id, act_etag = m.etag,
	    act_state = case when m.google_updated > i.updated::timestamptz
	        then 'stale' else m.sync_state end
	from (select distinct on (a.id) j.eid, a.id, a.etag, a.sync_state, a.google_updated
	    from pg_temp.cal_page_fields j
	    cross join lateral (select x.id, x.etag, x.sync_state, x.google_updated
	        from rally.activities x
	        where x.tenant_id = p_tenant and x.id = j.rally_id and x.owner_id = p_owner
	            and x.connection_id = p_conn
	            and (x.google_event_id is null or x.google_event_id = j.eid)
	        for update) a
	    where j.act_id is null and j.rally_id is not null
	    order by a.id, j.ord desc) m
	where m.eid = i.eid;

	-- An event whose activity was deleted in the CRM while its deletion is
	-- still to reach Google (a tombstone names the event or the activity
	-- it carries): the page was fetched before Google deleted it.  The
	-- deletion wins, as the push will make it win at Google: the event is
	-- not brought back as a new activity, only counted as ignored.  Except
	-- a cancelled occurrence: what deleting an occurrence leaves at Google,
	-- kept as a cancelled activity like any other, tombstone or not.
	if exists (select 1 from rally.activity_tombstones t
	    where t.tenant_id = p_tenant and t.connection_id = p_conn) then
		update pg_temp.cal_page_fields set gone = true
		where act_id is null and not gone
		    and (series is null or event_status is distinct from 'cancelled')
		    and (eid in (select t.google_event_id from rally.activity_tombstones t
		            where t.tenant_id = p_tenant and t.connection_id = p_conn)
		        or rally_id in (select t.activity_id from rally.activity_tombstones t
		            where t.tenant_id = p_tenant and t.connection_id = p_conn));
	end if;

	select coalesce(array_agg(act_id) filter (where gone), '{}'),
	    coalesce(array_agg(act_id) filter (where not gone
	        and (act_etag is not distinct from etag or act_state = 'stale')), '{}'),
	    coalesce(array_agg(act_id) filter (where not gone and act_state not in ('pending', 'stale')
	        and act_etag is distinct from etag), '{}'),
	    coalesce(array_agg(act_id) filter (where not gone and act_state = 'pending'
	        and act_etag is distinct from etag), '{}'),
	    count(*) filter (where gone and act_id is null)
	into v_gone, v_seen, v_changed, v_merge, n_ignored
	from pg_temp.cal_page_fields where act_id is not null or gone;

	delete from rally.activities where tenant_id = p_tenant and id = any (v_gone);
	get diagnostics n_deleted = row_count;

	-- An echo of Rally's own write, or nothing new.
	update rally.activities set google_seen_at = now()
	where tenant_id = p_tenant and id = any (v_seen);
	get diagnostics n_unchanged = row_count;

	update rally.activities a set (title, description, location, start_at, end_at,
	    start_date, end_date, time_zone, recurrence, attendees, event_status) =
	    (i.title, i.description, i.location, i.start_at, i.end_at, i.start_date, i.end_date,
	        i.time_zone, i.recurrence, i.attendees, i.event_status),
	    etag = i.etag, google_updated = i.updated::timestamptz,
	    sequence = i.seq::int, google_event_id = i.eid,
	    synced_snapshot = null,
	    google_seen_at = now(), sync_state = 'synced', sync_error = null
	from pg_temp.cal_page_fields i
	where a.tenant_id = p_tenant and a.id = any (v_changed) and i.act_id = a.id;
	get diagnostics k = row_count;
	n_applied := n_applied + k;

	n_applied := n_applied + rally.cal_insert_new(p_tenant, p_conn, p_owner)
	    + rally.cal_insert_items(p_tenant, p_conn, p_owner, true);

	-- Unsent CRM edits on both sides: the per-field merge, one at a time.
	for r in select a as act, i from rally.activities a
	    join pg_temp.cal_page_fields i on i.act_id = a.id
	    where a.tenant_id = p_tenant and a.id = any (v_merge)
	    order by i.ord loop
		if rally.cal_merge_fields(r.act, rally.cal_fields_of((r.i).title, (r.i).description,
		    (r.i).location, (r.i).start_at, (r.i).end_at, (r.i).start_date, (r.i).end_date,
		    (r.i).time_zone, (r.i).recurrence, (r.i).attendees, (r.i).event_status),
		    (r.i).etag, (r.i).updated, (r.i).seq, (r.i).eid) > 0 then
			n_conflict := n_conflict + 1;
		else
			n_applied := n_applied + 1;
		end if;
		n_merged := n_merged + 1;
	end loop;
	return jsonb_build_object('applied', n_applied, 'unchanged', n_unchanged,
	    'deleted', n_deleted, 'ignored', n_ignored, 'conflict', n_conflict,
	    'merged', n_merged);
end
$$;

-- Applies a set of events (an items array) to a connection's activities.
create or replace function rally.cal_apply_items(p_tenant uuid, p_conn uuid, p_owner uuid,
    p_items jsonb)
returns jsonb
language plpgsql
as $$
begin
	perform rally.cal_fill_items(p_items);
	return rally.cal_apply_filled(p_tenant, p_conn, p_owner);
end
$$;

-- The user a page of a connection's calendar is applied for, the
-- connection locked FOR SHARE, and the transaction's writes marked as
-- Google's (no push is queued for them); NULL when the connection is not
-- active or its calendar is off.
create or replace function rally.cal_page_owner(p_tenant uuid, p_conn uuid) returns uuid
language plpgsql
as $$
declare
	v_owner uuid;
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	select user_id into v_owner from rally.google_connections
	where tenant_id = p_tenant and id = p_conn and status = 'active' and calendar_enabled
	for share;
	return v_owner;
end
$$;

-- A set that failed as a whole, rolled back by the caller: applied again
-- one event at a time, each in its own subtransaction, skipping the
-- unusable ones.  Counts by outcome, with skipped and one_by_one.
create or replace function rally.cal_apply_one_by_one(p_tenant uuid, p_conn uuid,
    p_owner uuid, p_items jsonb)
returns jsonb
language plpgsql
as $$
declare
	n jsonb := '{"applied":0,"unchanged":0,"deleted":0,"ignored":0,"conflict":0,"merged":0}';
	item jsonb;
	v_skipped int := 0;
	v_one_by_one int := 0;
begin
	for item in select x from jsonb_array_elements(p_items) x loop
		begin
			n := rally.cal_counts_add(n, rally.cal_apply_items(p_tenant, p_conn, p_owner,
			    jsonb_build_array(item)));
		exception when data_exception or check_violation or not_null_violation then
			v_skipped := v_skipped + 1;
		end;
		v_one_by_one := v_one_by_one + 1;
	end loop;
	return n || jsonb_build_object('skipped', v_skipped, 'one_by_one', v_one_by_one);
end
$$;

-- Exceptions may arrive before their series (or their series may be
-- outside the window): they are linked once both exist.  Only exceptions
-- not linked yet are looked at (a partial index holds them), and only
-- those of a page's events: an exception of the page or of a series of
-- the page has a series id among p_ids, the page's event ids and series
-- ids.  Each series by key (OFFSET 0 keeps the planner from flattening the
-- lookup into a join it might order the other way round).
create or replace function rally.cal_link_exceptions(p_tenant uuid, p_conn uuid,
    p_ids text[])
returns void
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	v_links uuid[];
	v_masters uuid[];
begin
	select coalesce(array_agg(y.id), '{}'), coalesce(array_agg(m.id), '{}')
	into v_links, v_masters
	from rally.activities y
	cross join lateral (select z.id from rally.activities z
	    where z.tenant_id = p_tenant and z.connection_id = p_conn
	        and z.google_event_id = y.recurring_event_id offset 0) m
	where y.tenant_id = p_tenant and y.connection_id = p_conn
	    and y.recurring_event_id = any (p_ids) and y.recurring_activity_id is null;
	update rally.activities x set recurring_activity_id = u.master
	from unnest(v_links, v_masters) u(id, master)
	where x.tenant_id = p_tenant and x.id = u.id;
end
$$;

-- The end of a page applied with counts p_counts: when it is the last
-- (p_last: it carries nextSyncToken, p_sync_token) of a full sync started
-- at p_full_started, everything of the connection Google did not send
-- since then is gone at Google and is removed here; the connection's
-- sync state records the page.  Returns the page's result for rallyd.
create or replace function rally.cal_page_done(p_tenant uuid, p_conn uuid,
    p_full_started timestamptz, p_last boolean, p_sync_token text, p_next_page_token text,
    p_counts jsonb)
returns jsonb
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	v_skipped int := coalesce((p_counts->>'skipped')::int, 0);
	v_swept int := 0;
begin
	if p_last and p_full_started is not null then
		delete from rally.activities
		where tenant_id = p_tenant and connection_id = p_conn
		    and google_event_id is not null and sync_state <> 'pending'
		    and (google_seen_at is null or google_seen_at < p_full_started);
		get diagnostics v_swept = row_count;
	end if;
	update rally.sync_state set
	    calendar_sync_token = case when p_last then p_sync_token else calendar_sync_token end,
	    full_sync_required = case when p_last then false else full_sync_required end,
	    last_full_sync_at = case when p_last and p_full_started is not null
	        then now() else last_full_sync_at end,
	    last_sync_at = now(),
	    last_success_at = case when p_last then now() else last_success_at end,
	    lag_seconds = case when p_last then 0 else lag_seconds end,
	    skipped = case when v_skipped > 0 then jsonb_set(skipped, '{invalid_event}',
	        to_jsonb(coalesce((skipped->>'invalid_event')::int, 0) + v_skipped))
	        else skipped end,
	    last_error = null, last_error_kind = null, consecutive_errors = 0,
	    updated_at = now()
	where tenant_id = p_tenant and connection_id = p_conn and resource = 'calendar';
	return p_counts || jsonb_build_object('skipped', v_skipped,
	    'one_by_one', coalesce((p_counts->>'one_by_one')::int, 0), 'swept', v_swept,
	    'next_page_token', p_next_page_token, 'done', p_last);
end
$$;

-- Applies one page of events.list for a connection, in the caller's
-- transaction.  p_full_started is the start of the full sync this page
-- belongs to (NULL for an incremental sync): see rally.cal_page_done.  A
-- malformed event is skipped and counted in sync_state.skipped, never
-- silently dropped.  rallyd hands its pages over as columns instead
-- (rally.cal_apply_columns); this is the same for a page as jsonb.
create or replace function rally.cal_apply_page(p_tenant uuid, p_conn uuid, p_page jsonb,
    p_full_started timestamptz)
returns jsonb
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	v_owner uuid := rally.cal_page_owner(p_tenant, p_conn);
	v_items jsonb := coalesce(p_page->'items', '[]');
	v_ids text[];
	n jsonb := '{"applied":0,"unchanged":0,"deleted":0,"ignored":0,"conflict":0,"merged":0}';
begin
	if v_owner is null then
		return jsonb_build_object('gone', true);
	end if;
	if jsonb_typeof(v_items) <> 'array' then
		raise exception 'items is not an array' using errcode = '22023';
	end if;
	if jsonb_array_length(v_items) > 0 then
		begin
			n := rally.cal_apply_items(p_tenant, p_conn, v_owner, v_items);
		exception when data_exception or check_violation or not_null_violation then
			n := rally.cal_apply_one_by_one(p_tenant, p_conn, v_owner, v_items);
		end;
		select array_agg(distinct s) into v_ids
		from jsonb_array_elements(v_items) x,
		    unnest(array[x->>'id', x->>'recurringEventId']) s
		where s is not null;
		perform rally.cal_link_exceptions(p_tenant, p_conn, v_ids);
	end if;
	return rally.cal_page_done(p_tenant, p_conn, p_full_started, p_page ? 'nextSyncToken',
	    p_page->>'nextSyncToken', p_page->>'nextPageToken', n);
end
$$;

-- The events of a set given as columns (rally.cal_fill_columns), as the
-- items array they were read from holds what the SQL reads of them: for
-- the one-by-one path, which works on events.
create or replace function rally.cal_items_of_columns(p_id text[], p_etag text[],
    p_status text[], p_summary text[], p_description text[], p_location text[],
    p_start_time text[], p_start_day text[], p_start_zone text[], p_end_time text[],
    p_end_day text[], p_recurrence text[], p_attendees text[], p_series text[],
    p_original_time text[], p_original_day text[], p_updated text[], p_sequence text[],
    p_ical_uid text[], p_rally_id text[])
returns jsonb
language sql stable
as $$
	select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
	    'id', x.id, 'etag', x.etag, 'status', x.status, 'summary', x.summary,
	    'description', x.description, 'location', x.location,
	    'start', jsonb_build_object('dateTime', x.start_time, 'date', x.start_day,
	        'timeZone', x.start_zone),
	    'end', jsonb_build_object('dateTime', x.end_time, 'date', x.end_day),
	    'recurringEventId', x.series,
	    'originalStartTime', jsonb_build_object('dateTime', x.original_time,
	        'date', x.original_day),
	    'updated', x.updated, 'sequence', x.seq, 'iCalUID', x.ical_uid,
	    'extendedProperties', jsonb_build_object('private',
	        jsonb_build_object('rallyActivityId', x.rally_id))))
	    -- Kept when JSON null, which jsonb_strip_nulls would drop: null
	    -- attendees make an event unusable, as they do in the page.
	    || case when x.recurrence is null then '{}'::jsonb
	        else jsonb_build_object('recurrence', x.recurrence::jsonb) end
	    || case when x.attendees is null then '{}'::jsonb
	        else jsonb_build_object('attendees', x.attendees::jsonb) end
	    order by x.ord), '[]'::jsonb)
	from unnest(p_id, p_etag, p_status, p_summary, p_description,
	    p_location, p_start_time, p_start_day, p_start_zone, p_end_time, p_end_day,
	    p_recurrence, p_attendees, p_series, p_original_time, p_original_day, p_updated,
	    p_sequence, p_ical_uid, p_rally_id) with ordinality
	    x(id, etag, status, summary, description, location, start_time, start_day,
	        start_zone, end_time, end_day, recurrence, attendees, series, original_time,
	        original_day, updated, seq, ical_uid, rally_id, ord)
$$;

-- Applies one page of events.list for a connection, as rally.cal_apply_page
-- does, from its events as columns (rally.cal_fill_columns) and what else
-- rallyd read of the page: whether it is the last (it carries
-- nextSyncToken, p_sync_token) and its nextPageToken.
create or replace function rally.cal_apply_columns(p_tenant uuid, p_conn uuid,
    p_full_started timestamptz, p_last boolean, p_sync_token text, p_next_page_token text,
    p_id text[], p_etag text[],
    p_status text[], p_summary text[], p_description text[], p_location text[],
    p_start_time text[], p_start_day text[], p_start_zone text[], p_end_time text[],
    p_end_day text[], p_recurrence text[], p_attendees text[], p_series text[],
    p_original_time text[], p_original_day text[], p_updated text[], p_sequence text[],
    p_ical_uid text[], p_rally_id text[])
returns jsonb
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	v_owner uuid := rally.cal_page_owner(p_tenant, p_conn);
	v_n int := coalesce(cardinality(p_id), 0);
	v_ids text[];
	n jsonb := '{"applied":0,"unchanged":0,"deleted":0,"ignored":0,"conflict":0,"merged":0}';
begin
	if v_owner is null then
		return jsonb_build_object('gone', true);
	end if;
	-- rallyd's mistake, not Google's: not taken for an unusable event.
	if array[cardinality(p_etag), cardinality(p_status), cardinality(p_summary),
	    cardinality(p_description), cardinality(p_location), cardinality(p_start_time),
	    cardinality(p_start_day), cardinality(p_start_zone), cardinality(p_end_time),
	    cardinality(p_end_day), cardinality(p_recurrence), cardinality(p_attendees),
	    cardinality(p_series), cardinality(p_original_time), cardinality(p_original_day),
	    cardinality(p_updated), cardinality(p_sequence), cardinality(p_ical_uid),
	    cardinality(p_rally_id)] is distinct from array_fill(v_n, array[19]) then
		raise exception 'the columns of a page differ in length';
	end if;
	if v_n > 0 then
		begin
			perform rally.cal_fill_columns(p_id, p_etag, p_status, p_summary, p_description,
	    p_location, p_start_time, p_start_day, p_start_zone, p_end_time, p_end_day,
	    p_recurrence, p_attendees, p_series, p_original_time, p_original_day, p_updated,
	    p_sequence, p_ical_uid, p_rally_id);
			n := rally.cal_apply_filled(p_tenant, p_conn, v_owner);
		exception when data_exception or check_violation or not_null_violation then
			n := rally.cal_apply_one_by_one(p_tenant, p_conn, v_owner,
			    rally.cal_items_of_columns(p_id, p_etag, p_status, p_summary, p_description,
	    p_location, p_start_time, p_start_day, p_start_zone, p_end_time, p_end_day,
	    p_recurrence, p_attendees, p_series, p_original_time, p_original_day, p_updated,
	    p_sequence, p_ical_uid, p_rally_id));
		end;
		select array_agg(distinct s) into v_ids
		from unnest(p_id || p_series) s
		where s is not null;
		perform rally.cal_link_exceptions(p_tenant, p_conn, v_ids);
	end if;
	return rally.cal_page_done(p_tenant, p_conn, p_full_started, p_last, p_sync_token,
	    p_next_page_token, n);
end
$$;

-- Removes an activity on Google's behalf (deleted there, or deleted here
-- and now at Google too) without queueing anything.
create or replace function rally.cal_forget(p_tenant uuid, p_id uuid) returns void
language plpgsql
as $$
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	delete from rally.activities where tenant_id = p_tenant and id = p_id;
end
$$;

grant execute on function rally.cal_counts_add(jsonb, jsonb),
    rally.cal_insert_items(uuid, uuid, uuid, boolean), rally.cal_insert_new(uuid, uuid, uuid),
    rally.cal_fill_items(jsonb),
    rally.cal_fill_columns(text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[]),
    rally.cal_apply_filled(uuid, uuid, uuid), rally.cal_apply_items(uuid, uuid, uuid, jsonb),
    rally.cal_page_owner(uuid, uuid), rally.cal_apply_one_by_one(uuid, uuid, uuid, jsonb),
    rally.cal_link_exceptions(uuid, uuid, text[]),
    rally.cal_page_done(uuid, uuid, timestamptz, boolean, text, text, jsonb),
    rally.cal_apply_page(uuid, uuid, jsonb, timestamptz),
    rally.cal_items_of_columns(text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[]),
    rally.cal_apply_columns(uuid, uuid, timestamptz, boolean, text, text, text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[]),
    rally.cal_forget(uuid, uuid)
    to rally_daemon;
