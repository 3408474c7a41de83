-- Google Calendar two-way sync (DESIGN §5).  rallyd fetches pages of
-- events and hands each page, as Google sent it, to rally.cal_apply_page:
-- the database applies it in one transaction together with the sync token
-- of the last page, so a crash anywhere repeats work but never loses it,
-- and the daemon stays a thin, cheap pump.  Outbound, a CRM edit marks the
-- activity 'pending' and queues a 'calpush' job (triggers below).
--
-- Comparing the two sides goes through one canonical form of the synced
-- fields, rally.cal_fields (a row) and rally.cal_fields_from_event (an
-- event), so the last synced snapshot, the CRM's row and Google's event
-- can be merged field by field.  Times are compared in UTC, empty text
-- equals absent text, attendees keep only what both sides share.
--
-- Writes made on behalf of Google set rally.origin = 'google' for the
-- transaction; the triggers then queue nothing, which is what keeps a
-- change from bouncing back and forth.
set local role rally_owner;

alter table rally.activities add column google_seen_at timestamptz;

create function rally.cal_utc(t timestamptz) returns jsonb
language sql immutable parallel safe
as $$ select to_jsonb(to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) $$;

create function rally.cal_attendees(a jsonb) returns jsonb
language sql immutable parallel safe
as $$
	select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
	    'email', lower(x->>'email'),
	    'displayName', nullif(x->>'displayName', ''),
	    'responseStatus', coalesce(x->>'responseStatus', 'needsAction'),
	    'organizer', case when (x->>'organizer')::boolean then true end,
	    'optional', case when (x->>'optional')::boolean then true end))
	    order by lower(x->>'email')), '[]'::jsonb)
	from jsonb_array_elements(coalesce(a, '[]'::jsonb)) x
	where x->>'email' is not null
$$;

create function rally.cal_fields(a rally.activities) returns jsonb
language sql stable parallel safe
as $$
	select jsonb_build_object(
	    'title', coalesce(a.title, ''),
	    'description', nullif(a.description, ''),
	    'location', nullif(a.location, ''),
	    'start_at', rally.cal_utc(a.start_at),
	    'end_at', rally.cal_utc(a.end_at),
	    'start_date', to_jsonb(a.start_date),
	    'end_date', to_jsonb(a.end_date),
	    'time_zone', a.time_zone,
	    'recurrence', to_jsonb(a.recurrence),
	    'attendees', rally.cal_attendees(a.attendees),
	    'event_status', a.event_status)
$$;

create function rally.cal_fields_from_event(e jsonb) returns jsonb
language sql stable parallel safe
as $$
	select jsonb_build_object(
	    'title', coalesce(e->>'summary', ''),
	    'description', nullif(e->>'description', ''),
	    'location', nullif(e->>'location', ''),
	    'start_at', rally.cal_utc((e->'start'->>'dateTime')::timestamptz),
	    'end_at', rally.cal_utc((e->'end'->>'dateTime')::timestamptz),
	    'start_date', to_jsonb((e->'start'->>'date')::date),
	    'end_date', to_jsonb((e->'end'->>'date')::date),
	    'time_zone', nullif(e->'start'->>'timeZone', ''),
	    'recurrence', case when jsonb_typeof(e->'recurrence') = 'array'
	        and jsonb_array_length(e->'recurrence') > 0 then e->'recurrence' end,
	    'attendees', rally.cal_attendees(e->'attendees'),
	    'event_status', coalesce(e->>'status', 'confirmed'))
$$;

-- Writes a canonical field set into an activity.
create function rally.cal_set_fields(p_tenant uuid, p_id uuid, v jsonb) returns void
language sql
as $$
	update rally.activities set
	    title = coalesce(v->>'title', ''),
	    description = v->>'description',
	    location = v->>'location',
	    start_at = (v->>'start_at')::timestamptz,
	    end_at = (v->>'end_at')::timestamptz,
	    start_date = (v->>'start_date')::date,
	    end_date = (v->>'end_date')::date,
	    time_zone = v->>'time_zone',
	    recurrence = case when jsonb_typeof(v->'recurrence') = 'array' then
	        array(select jsonb_array_elements_text(v->'recurrence')) end,
	    attendees = coalesce(v->'attendees', '[]'::jsonb),
	    event_status = coalesce(v->>'event_status', 'confirmed')
	where tenant_id = p_tenant and id = p_id
$$;

-- The client-chosen event id of an activity: its uuid in base32hex
-- (Google allows a-v and 0-9, 5 to 1024 characters), so a retried insert
-- of the same activity collides (409) instead of duplicating.
create function rally.cal_event_id(p uuid) returns text
language sql immutable parallel safe
as $$
	select string_agg(substr('0123456789abcdefghijklmnopqrstuv',
	    substring(b from i * 5 + 1 for 5)::bit(5)::int + 1, 1), '' order by i)
	from (select (('x' || replace(p::text, '-', ''))::bit(128) || b'00') as b) s,
	    generate_series(0, 25) i
$$;

-- The event Rally sends for an activity (insert body; patch sends the same).
create function rally.cal_event_body(a rally.activities) returns jsonb
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

-- Queues the push of an activity's unsent edits.
create function rally.cal_queue_push(p_tenant uuid, p_id uuid, p_conn uuid) returns void
language sql
as $$
	insert into rally.jobs (tenant_id, kind, dedupe_key, payload)
	values (p_tenant, 'calpush', p_id::text,
	    jsonb_build_object('activity_id', p_id, 'connection_id', p_conn))
	on conflict (tenant_id, kind, dedupe_key)
	    where state = 'pending' and dedupe_key is not null do nothing
$$;

-- Three-way merge of one event into an activity with unsent edits: per
-- field, a side that did not move from the snapshot yields to the one that
-- did; when both moved, the later change wins and the loss is recorded.
-- Returns the number of conflicting fields.
create function rally.cal_merge(a rally.activities, e jsonb) returns int
language plpgsql
as $$
declare
	remote jsonb := rally.cal_fields_from_event(e);
	loc jsonb := rally.cal_fields(a);
	base jsonb := coalesce(a.synced_snapshot, remote);
	merged jsonb := '{}';
	k text;
	winner text;
	conflicts int := 0;
	remote_updated timestamptz := (e->>'updated')::timestamptz;
begin
	for k in select jsonb_object_keys(remote) loop
		if (loc->k) is not distinct from (base->k) then
			merged := merged || jsonb_build_object(k, remote->k);
		elsif (remote->k) is not distinct from (base->k)
		    or (remote->k) is not distinct from (loc->k) then
			merged := merged || jsonb_build_object(k, loc->k);
		else
			winner := case when a.updated_at > coalesce(remote_updated, '-infinity')
			    then 'local' else 'remote' end;
			insert into rally.merge_conflicts (tenant_id, activity_id, owner_id,
			    field, base_value, local_value, remote_value, winner,
			    local_updated, remote_updated)
			values (a.tenant_id, a.id, a.owner_id, k, base->k, loc->k, remote->k,
			    winner, a.updated_at, remote_updated);
			merged := merged || jsonb_build_object(k,
			    case when winner = 'local' then loc->k else remote->k end);
			conflicts := conflicts + 1;
		end if;
	end loop;
	perform rally.cal_set_fields(a.tenant_id, a.id, merged);
	update rally.activities set etag = e->>'etag', google_updated = remote_updated,
	    sequence = (e->>'sequence')::int, synced_snapshot = remote,
	    google_event_id = e->>'id', google_seen_at = now(),
	    sync_state = case when merged = remote then 'synced' else 'pending' end
	where tenant_id = a.tenant_id and id = a.id;
	if merged <> remote then
		perform rally.cal_queue_push(a.tenant_id, a.id, a.connection_id);
	end if;
	return conflicts;
end
$$;

-- Applies one event of a page.  Returns what happened: 'applied',
-- 'unchanged' (an echo of Rally's own write, or nothing new), 'deleted',
-- 'ignored', 'conflict'.
-- Planned afresh on every call: a plan cached while the table was empty
-- (the first page of the first sync) would scan it for every later event.
create function rally.cal_apply_event(p_tenant uuid, p_conn uuid, p_owner uuid, e jsonb)
returns text
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	a rally.activities;
	v_id text := e->>'id';
	v_rally text := e->'extendedProperties'->'private'->>'rallyActivityId';
	v jsonb;
begin
	if v_id is null or length(v_id) > 1024 then
		raise exception 'event without a usable id' using errcode = '22023';
	end if;
	select * into a from rally.activities
	where tenant_id = p_tenant and connection_id = p_conn and google_event_id = v_id;
	-- An event Rally inserted whose answer was lost (crash before commit).
	if a.id is null and v_rally ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
		select * into a from rally.activities
		where tenant_id = p_tenant and id = v_rally::uuid and owner_id = p_owner
		    and connection_id = p_conn and google_event_id is null;
	end if;

	if coalesce(e->>'status', 'confirmed') = 'cancelled' and e->>'recurringEventId' is null then
		if a.id is null then
			return 'ignored';
		end if;
		delete from rally.activities where tenant_id = p_tenant and id = a.id;
		return 'deleted';
	end if;

	v := rally.cal_fields_from_event(e);
	if a.id is null then
		-- One write per new event: this is the bulk of a full sync.
		insert into rally.activities (tenant_id, owner_id, origin, connection_id,
		    google_event_id, sync_state, title, description, location,
		    start_at, end_at, start_date, end_date, time_zone, recurrence,
		    attendees, event_status, etag, google_updated, sequence, ical_uid,
		    synced_snapshot, google_seen_at, recurring_event_id,
		    original_start_at, original_start_date)
		values (p_tenant, p_owner, 'google', p_conn, v_id, 'synced',
		    v->>'title', v->>'description', v->>'location',
		    (v->>'start_at')::timestamptz, (v->>'end_at')::timestamptz,
		    (v->>'start_date')::date, (v->>'end_date')::date, v->>'time_zone',
		    case when jsonb_typeof(v->'recurrence') = 'array' then
		        array(select jsonb_array_elements_text(v->'recurrence')) end,
		    v->'attendees', v->>'event_status', e->>'etag',
		    (e->>'updated')::timestamptz, (e->>'sequence')::int, e->>'iCalUID',
		    v, now(), e->>'recurringEventId',
		    (e->'originalStartTime'->>'dateTime')::timestamptz,
		    (e->'originalStartTime'->>'date')::date);
		return 'applied';
	end if;

	if a.etag is not distinct from e->>'etag' then
		update rally.activities set google_seen_at = now()
		where tenant_id = p_tenant and id = a.id;
		return 'unchanged';
	end if;
	if a.sync_state = 'pending' then
		return case when rally.cal_merge(a, e) > 0 then 'conflict' else 'applied' end;
	end if;
	update rally.activities set title = v->>'title', description = v->>'description',
	    location = v->>'location', start_at = (v->>'start_at')::timestamptz,
	    end_at = (v->>'end_at')::timestamptz, start_date = (v->>'start_date')::date,
	    end_date = (v->>'end_date')::date, time_zone = v->>'time_zone',
	    recurrence = case when jsonb_typeof(v->'recurrence') = 'array' then
	        array(select jsonb_array_elements_text(v->'recurrence')) end,
	    attendees = v->'attendees', event_status = v->>'event_status',
	    etag = e->>'etag', google_updated = (e->>'updated')::timestamptz,
	    sequence = (e->>'sequence')::int, google_event_id = v_id,
	    synced_snapshot = v, google_seen_at = now(),
	    sync_state = 'synced', sync_error = null
	where tenant_id = p_tenant and id = a.id;
	return 'applied';
end
$$;

-- Applies one page of events.list for a connection, in the caller's
-- transaction.  p_full_started is the start of the full sync this page
-- belongs to (NULL for an incremental sync): when the page carries the
-- sync token, everything of the connection Google did not send since then
-- is gone at Google and is removed here.  A malformed event is skipped and
-- counted in sync_state.skipped, never silently dropped.
create function rally.cal_apply_page(p_tenant uuid, p_conn uuid, p_page jsonb,
    p_full_started timestamptz)
returns jsonb
language plpgsql
as $$
declare
	v_owner uuid;
	item jsonb;
	res text;
	n jsonb := '{"applied":0,"unchanged":0,"deleted":0,"ignored":0,"conflict":0,"skipped":0}';
	v_swept int := 0;
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	select user_id into v_owner from rally.google_connections
	where tenant_id = p_tenant and id = p_conn and status = 'active' and calendar_enabled
	for share;
	if v_owner is null then
		return jsonb_build_object('gone', true);
	end if;
	if p_page ? 'items' and jsonb_typeof(p_page->'items') <> 'array' then
		raise exception 'items is not an array' using errcode = '22023';
	end if;
	-- Fast path: the whole page in one go.  Should an event be unusable,
	-- the page is rolled back to here and applied again one event at a
	-- time, each in its own subtransaction, skipping the bad ones.
	begin
		for item in select x from jsonb_array_elements(coalesce(p_page->'items', '[]')) x loop
			res := rally.cal_apply_event(p_tenant, p_conn, v_owner, item);
			n := jsonb_set(n, array[res], to_jsonb((n->>res)::int + 1));
		end loop;
	exception when data_exception or check_violation or not_null_violation then
		n := '{"applied":0,"unchanged":0,"deleted":0,"ignored":0,"conflict":0,"skipped":0}';
		for item in select x from jsonb_array_elements(coalesce(p_page->'items', '[]')) x loop
			begin
				res := rally.cal_apply_event(p_tenant, p_conn, v_owner, item);
			exception when data_exception or check_violation or not_null_violation then
				res := 'skipped';
			end;
			n := jsonb_set(n, array[res], to_jsonb((n->>res)::int + 1));
		end loop;
	end;
	-- Exceptions may arrive before their series: link them once both exist.
	update rally.activities x set recurring_activity_id = m.id
	from rally.activities m
	where x.tenant_id = p_tenant and x.connection_id = p_conn
	    and x.recurring_event_id is not null and x.recurring_activity_id is null
	    and m.tenant_id = p_tenant and m.connection_id = p_conn
	    and m.google_event_id = x.recurring_event_id;
	if p_page ? 'nextSyncToken' and p_full_started is not null then
		delete from rally.activities
		where tenant_id = p_tenant and connection_id = p_conn
		    and google_event_id is not null and sync_state <> 'pending'
		    and (google_seen_at is null or google_seen_at < p_full_started);
		get diagnostics v_swept = row_count;
	end if;
	update rally.sync_state set
	    calendar_sync_token = case when p_page ? 'nextSyncToken'
	        then p_page->>'nextSyncToken' else calendar_sync_token end,
	    full_sync_required = case when p_page ? 'nextSyncToken' then false
	        else full_sync_required end,
	    last_full_sync_at = case when p_page ? 'nextSyncToken' and p_full_started is not null
	        then now() else last_full_sync_at end,
	    last_sync_at = now(),
	    last_success_at = case when p_page ? 'nextSyncToken' then now() else last_success_at end,
	    lag_seconds = case when p_page ? 'nextSyncToken' then 0 else lag_seconds end,
	    skipped = case when (n->>'skipped')::int > 0 then jsonb_set(skipped, '{invalid_event}',
	        to_jsonb(coalesce((skipped->>'invalid_event')::int, 0) + (n->>'skipped')::int))
	        else skipped end,
	    last_error = null, last_error_kind = null, consecutive_errors = 0,
	    updated_at = now()
	where tenant_id = p_tenant and connection_id = p_conn and resource = 'calendar';
	return n || jsonb_build_object('swept', v_swept,
	    'next_page_token', p_page->>'nextPageToken',
	    'done', p_page ? 'nextSyncToken');
end
$$;

-- After a successful insert or patch: the answer becomes the new snapshot;
-- the activity is 'synced' unless it was edited again meanwhile (its
-- fields are no longer those sent), in which case another push follows.
create function rally.cal_push_done(p_tenant uuid, p_id uuid, e jsonb, p_sent jsonb)
returns text
language plpgsql
as $$
declare
	a rally.activities;
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	select * into a from rally.activities where tenant_id = p_tenant and id = p_id for update;
	if a.id is null then
		return 'gone';
	end if;
	if rally.cal_fields(a) = p_sent then
		perform rally.cal_set_fields(p_tenant, p_id, rally.cal_fields_from_event(e));
	end if;
	update rally.activities set google_event_id = e->>'id', etag = e->>'etag',
	    google_updated = (e->>'updated')::timestamptz, sequence = (e->>'sequence')::int,
	    ical_uid = e->>'iCalUID', synced_snapshot = rally.cal_fields_from_event(e),
	    google_seen_at = now(), sync_error = null,
	    sync_state = case when rally.cal_fields(a) = p_sent then 'synced' else 'pending' end
	where tenant_id = p_tenant and id = p_id;
	if rally.cal_fields(a) <> p_sent then
		perform rally.cal_queue_push(p_tenant, p_id, a.connection_id);
		return 'pending';
	end if;
	return 'synced';
end
$$;

-- CRM edits.  BEFORE: a dated activity of a user with a calendar
-- connection joins that connection; a change of a synced field marks the
-- activity 'pending'.  AFTER: a pending activity queues its push; a
-- deleted one that Google knows queues the deletion at Google.
create function rally.activities_track_local() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if current_setting('rally.origin', true) = 'google' then
		return new;
	end if;
	if tg_op = 'INSERT' then
		if new.connection_id is null
		    and (new.start_at is not null or new.start_date is not null) then
			select c.id into new.connection_id from rally.google_connections c
			where c.tenant_id = new.tenant_id and c.user_id = new.owner_id
			    and c.status = 'active' and c.calendar_enabled
			order by c.connected_at limit 1;
		end if;
		if new.connection_id is not null then
			new.sync_state := 'pending';
		end if;
		return new;
	end if;
	if new.connection_id is not null
	    and (rally.cal_fields(new) is distinct from rally.cal_fields(old)
	        or new.deleted_at is distinct from old.deleted_at) then
		new.sync_state := 'pending';
		new.updated_at := now();
	end if;
	return new;
end
$$;
create trigger track_local before insert or update on rally.activities
    for each row execute function rally.activities_track_local();

create function rally.activities_queue_push() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if current_setting('rally.origin', true) = 'google' then
		return null;
	end if;
	if tg_op = 'DELETE' then
		if old.connection_id is not null and old.google_event_id is not null then
			insert into rally.jobs (tenant_id, kind, payload)
			values (old.tenant_id, 'calpush', jsonb_build_object(
			    'activity_id', old.id, 'connection_id', old.connection_id,
			    'google_event_id', old.google_event_id, 'deleted', true));
		end if;
		return null;
	end if;
	if new.sync_state = 'pending' and new.connection_id is not null then
		perform rally.cal_queue_push(new.tenant_id, new.id, new.connection_id);
	end if;
	return null;
end
$$;
create trigger queue_push after insert or update or delete on rally.activities
    for each row execute function rally.activities_queue_push();

-- Removes an activity on Google's behalf (deleted there, or deleted here
-- and now at Google too) without queueing anything.
create function rally.cal_forget(p_tenant uuid, p_id uuid) returns void
language plpgsql
as $$
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	delete from rally.activities where tenant_id = p_tenant and id = p_id;
end
$$;

-- A 412 on push: merge Google's current event, then say whether a push is
-- still needed ('pending') or not ('synced').
create function rally.cal_merge_remote(p_tenant uuid, p_id uuid, e jsonb) returns text
language plpgsql
as $$
declare
	a rally.activities;
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	select * into a from rally.activities where tenant_id = p_tenant and id = p_id for update;
	if a.id is null then
		return 'gone';
	end if;
	perform rally.cal_merge(a, e);
	return (select sync_state from rally.activities where tenant_id = p_tenant and id = p_id);
end
$$;

-- Disconnect: one batch of the purge of a connection's calendar data.
-- Events that came from Google go; activities created in the CRM stay in
-- the CRM, detached from Google.  Returns how many rows it touched.
create function rally.cal_purge_batch(p_tenant uuid, p_conn uuid) returns int
language plpgsql
as $$
declare
	n int;
	m int;
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	delete from rally.activities where (tenant_id, id) in (
	    select tenant_id, id from rally.activities
	    where tenant_id = p_tenant and connection_id = p_conn and origin = 'google'
	    limit 1000);
	get diagnostics n = row_count;
	update rally.activities set connection_id = null, google_event_id = null,
	    etag = null, google_updated = null, sequence = null, synced_snapshot = null,
	    ical_uid = null, google_seen_at = null, sync_state = 'local', sync_error = null
	where (tenant_id, id) in (
	    select tenant_id, id from rally.activities
	    where tenant_id = p_tenant and connection_id = p_conn limit 1000);
	get diagnostics m = row_count;
	if n + m = 0 then
		update rally.sync_state set calendar_sync_token = null, full_sync_required = true,
		    channel_id = null, channel_resource_id = null, channel_token_hash = null,
		    channel_expires_at = null, updated_at = now()
		where tenant_id = p_tenant and connection_id = p_conn and resource = 'calendar';
	end if;
	return n + m;
end
$$;

-- Calendar switched off or access revoked: purge what was synced.
create function rally.google_connections_calendar_off() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if old.calendar_enabled and (not new.calendar_enabled or new.status = 'revoked') then
		insert into rally.jobs (tenant_id, kind, dedupe_key, payload)
		values (new.tenant_id, 'calpurge', new.id::text,
		    jsonb_build_object('connection_id', new.id))
		on conflict (tenant_id, kind, dedupe_key)
		    where state = 'pending' and dedupe_key is not null do nothing;
	end if;
	return null;
end
$$;
create trigger calendar_off after update of calendar_enabled, status
    on rally.google_connections
    for each row execute function rally.google_connections_calendar_off();

-- Periodic: a sync for every calendar connection not synced for p_poll
-- seconds, and a push channel for those without a live one (p_push).
create function rally.cal_queue_periodic(p_poll int, p_push boolean) returns int
language plpgsql
as $$
declare
	n int;
	m int := 0;
begin
	insert into rally.jobs (tenant_id, kind, dedupe_key, payload)
	select s.tenant_id, 'calsync', s.connection_id::text,
	    jsonb_build_object('connection_id', s.connection_id, 'reason', 'poll')
	from rally.sync_state s
	join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
	where s.resource = 'calendar' and c.status = 'active' and c.calendar_enabled
	    and (s.last_sync_at is null
	        or s.last_sync_at < now() - make_interval(secs => p_poll))
	on conflict (tenant_id, kind, dedupe_key)
	    where state = 'pending' and dedupe_key is not null do nothing;
	get diagnostics n = row_count;
	if p_push then
		insert into rally.jobs (tenant_id, kind, dedupe_key, payload)
		select s.tenant_id, 'calwatch', s.connection_id::text,
		    jsonb_build_object('connection_id', s.connection_id)
		from rally.sync_state s
		join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
		where s.resource = 'calendar' and c.status = 'active' and c.calendar_enabled
		    and (s.channel_expires_at is null
		        or s.channel_expires_at < now() + interval '1 day')
		    and not exists (select 1 from rally.jobs j
		        where j.tenant_id = s.tenant_id and j.kind = 'calwatch'
		            and j.dedupe_key = s.connection_id::text
		            and j.state in ('pending', 'running'))
		on conflict (tenant_id, kind, dedupe_key)
		    where state = 'pending' and dedupe_key is not null do nothing;
		get diagnostics m = row_count;
	end if;
	return n + m;
end
$$;

-- The schema grants nothing to PUBLIC: the daemon gets what it runs.
grant execute on function rally.cal_utc(timestamptz), rally.cal_attendees(jsonb),
    rally.cal_fields(rally.activities), rally.cal_fields_from_event(jsonb),
    rally.cal_set_fields(uuid, uuid, jsonb), rally.cal_event_id(uuid),
    rally.cal_event_body(rally.activities), rally.cal_queue_push(uuid, uuid, uuid),
    rally.cal_merge(rally.activities, jsonb), rally.cal_apply_event(uuid, uuid, uuid, jsonb),
    rally.cal_apply_page(uuid, uuid, jsonb, timestamptz),
    rally.cal_push_done(uuid, uuid, jsonb, jsonb), rally.cal_forget(uuid, uuid),
    rally.cal_merge_remote(uuid, uuid, jsonb), rally.cal_purge_batch(uuid, uuid),
    rally.cal_queue_periodic(int, boolean)
    to rally_daemon;
-- The web role edits activities, and the triggers' checks call these.
grant execute on function rally.cal_utc(timestamptz), rally.cal_attendees(jsonb),
    rally.cal_fields(rally.activities), rally.cal_event_id(uuid)
    to rally_web;
