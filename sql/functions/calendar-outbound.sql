-- SPDX-License-Identifier: ISC
-- Calendar, CRM → Google: what a CRM edit queues (daemon/job-calpush.c
-- sends it), what a push's answer does to the row, the purge after a
-- disconnect, and the periodic upkeep.  The first definitions were in
-- migration 0010; these supersede them.
set local role rally_owner;

-- Whether this transaction writes on Google's behalf, so that the CRM-edit
-- triggers queue nothing (no echo).  rally.origin is a setting anyone may
-- set, so it counts only for a session of the daemon (or an operator):
-- a web session that sets it still has its edits tracked and pushed.
-- Written so that PostgreSQL inlines it into the triggers' WHEN clauses
-- (no SET clause; every name qualified, so the caller's search_path
-- cannot change what it calls): a sync writes thousands of rows, and a
-- function call per row and trigger cost it more than the test itself.
create or replace function rally.origin_is_google() returns boolean
language sql stable
as $$
	select coalesce(pg_catalog.current_setting('rally.origin', true), '')
	        operator(pg_catalog.=) 'google'
	    and pg_catalog.pg_has_role(session_user, 'rally_daemon', 'MEMBER')
$$;

-- Queues the push of an activity's unsent edits.  The payload names only
-- the activity: calpush reads the connection from the row.
create or replace function rally.cal_queue_push(p_tenant uuid, p_id uuid)
returns void
language sql
as $$
	select rally.job_enqueue(p_tenant, 'calpush', p_id::text,
	    jsonb_build_object('activity_id', p_id))
$$;

-- CRM edits.  BEFORE: a dated activity of a user with a calendar
-- connection joins that connection; a change of a synced field marks the
-- activity 'pending'.  A synced row without a snapshot (a sync wrote it,
-- sql/functions/calendar-inbound.sql) has its fields as the merge's
-- base: the update that first takes it out of 'synced' keeps that base
-- as the snapshot (which only the daemon writes otherwise: the web role
-- has no grant on the column).
create or replace function rally.activities_track_local() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
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
	-- Whatever takes it out of 'synced' (an edit, or its state set by
	-- an operator's session), a row leaves with its base.
	if old.sync_state = 'synced' and old.synced_snapshot is null
	    and new.sync_state is distinct from 'synced' then
		new.synced_snapshot := rally.cal_fields(old);
	end if;
	return new;
end
$$;
-- Writes on Google's behalf skip both triggers in their WHEN clause, which
-- costs a sync far less than calling them for every row it writes.
create or replace trigger track_local before insert or update on rally.activities
    for each row when (not rally.origin_is_google())
    execute function rally.activities_track_local();

-- AFTER: a pending activity queues its push; a deleted one that Google
-- knows, or may know (its first push may be in flight: the event id is
-- the one Rally chose, rally.cal_event_id), leaves a tombstone (the event
-- to delete, with the connection it lives in) and queues the push that
-- deletes it; for an event that never reached Google that is one 404.
create or replace function rally.activities_queue_push() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if tg_op = 'DELETE' then
		-- Only while the calendar is on: after a disconnect the purge owns
		-- the connection's rows, and in the cascade of a connection's own
		-- deletion there is nothing left to delete with.
		if old.connection_id is not null
		    and (old.google_event_id is not null or old.sync_state = 'pending')
		    and exists (select 1 from rally.google_connections c
		        where c.tenant_id = old.tenant_id and c.id = old.connection_id
		            and c.calendar_enabled and c.status = 'active') then
			insert into rally.activity_tombstones (tenant_id, activity_id,
			    connection_id, owner_id, google_event_id)
			values (old.tenant_id, old.id, old.connection_id, old.owner_id,
			    coalesce(old.google_event_id, rally.cal_event_id(old.id)))
			on conflict (tenant_id, activity_id) do update
			    set connection_id = excluded.connection_id,
			        owner_id = excluded.owner_id,
			        google_event_id = excluded.google_event_id,
			        deleted_at = now();
			perform rally.cal_queue_push(old.tenant_id, old.id);
		end if;
		return null;
	end if;
	if new.sync_state = 'pending' and new.connection_id is not null then
		perform rally.cal_queue_push(new.tenant_id, new.id);
	end if;
	return null;
end
$$;
create or replace trigger queue_push after insert or update or delete on rally.activities
    for each row when (not rally.origin_is_google())
    execute function rally.activities_queue_push();

-- After a successful insert or patch: the answer becomes the new snapshot;
-- the activity is 'synced' unless it changed meanwhile (its fields are no
-- longer those sent, or it was deleted in the CRM while the push was in
-- flight), in which case another push follows.  A sync that brought a
-- newer version of the event meanwhile (an edit at Google after ours) has
-- already merged it, our write included: the answer is then older news.
-- An answer that shows the event deleted (the event a retried insert
-- adopted after its 409 was deleted at Google since) removes the
-- activity: the deletion wins, as it does in a sync.
create or replace function rally.cal_push_done(p_tenant uuid, p_id uuid, e jsonb, p_sent jsonb)
returns text
language plpgsql
as $$
declare
	a rally.activities;
	v_same boolean;
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	select * into a from rally.activities where tenant_id = p_tenant and id = p_id for update;
	if a.id is null then
		return 'gone';
	end if;
	if rally.cal_event_deleted(e) then
		delete from rally.activities where tenant_id = p_tenant and id = p_id;
		return 'deleted at Google';
	end if;
	if a.google_updated > (e->>'updated')::timestamptz then
		return a.sync_state;
	end if;
	v_same := rally.cal_fields(a) = p_sent and a.deleted_at is null;
	if v_same then
		perform rally.cal_set_fields(p_tenant, p_id, rally.cal_fields_from_event(e));
	end if;
	update rally.activities set google_event_id = e->>'id', etag = e->>'etag',
	    google_updated = (e->>'updated')::timestamptz, sequence = (e->>'sequence')::int,
	    ical_uid = e->>'iCalUID', synced_snapshot = rally.cal_fields_from_event(e),
	    google_seen_at = now(), sync_error = null,
	    sync_state = case when v_same then 'synced' else 'pending' end
	where tenant_id = p_tenant and id = p_id;
	if not v_same then
		perform rally.cal_queue_push(p_tenant, p_id);
		return 'pending';
	end if;
	return 'synced';
end
$$;

-- A deletion at Google is done (or Google no longer has the event).
create or replace function rally.cal_tombstone_done(p_tenant uuid, p_id uuid) returns void
language sql
as $$
	delete from rally.activity_tombstones where tenant_id = p_tenant and activity_id = p_id
$$;

-- Disconnect: one batch of the purge of a connection's calendar data.
-- Events that came from Google go; activities created in the CRM stay in
-- the CRM, detached from Google.  Returns how many rows it touched, or -1
-- when the calendar is still on (a purge is only for a connection whose
-- calendar was switched off or whose grant was revoked: the job's word
-- for it is not enough).
create or replace function rally.cal_purge_batch(p_tenant uuid, p_conn uuid) returns int
language plpgsql
as $$
declare
	n int;
	m int;
begin
	if exists (select 1 from rally.google_connections
	    where tenant_id = p_tenant and id = p_conn
	        and calendar_enabled and status <> 'revoked') then
		return -1;
	end if;
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
		delete from rally.activity_tombstones
		where tenant_id = p_tenant and connection_id = p_conn;
		update rally.sync_state set calendar_sync_token = null, full_sync_required = true,
		    channel_id = null, channel_resource_id = null, channel_token_hash = null,
		    channel_expires_at = null, updated_at = now()
		where tenant_id = p_tenant and connection_id = p_conn and resource = 'calendar';
		perform rally.ledger_complete_connection(p_tenant, p_conn, 'calendar_disconnect');
	end if;
	return n + m;
end
$$;

-- Calendar switched off or access revoked: purge what was synced.
create or replace function rally.google_connections_calendar_off() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if old.calendar_enabled and (not new.calendar_enabled or new.status = 'revoked') then
		perform rally.job_enqueue(new.tenant_id, 'calpurge', new.id::text,
		    jsonb_build_object('connection_id', new.id));
	end if;
	return null;
end
$$;
create or replace trigger calendar_off after update of calendar_enabled, status
    on rally.google_connections
    for each row execute function rally.google_connections_calendar_off();

-- Periodic: a sync for every calendar connection not synced for p_poll
-- seconds, and a push channel for those without a live one (p_push).
create or replace function rally.cal_queue_periodic(p_poll int, p_push boolean) returns int
language plpgsql
as $$
declare
	n int;
	m int := 0;
begin
	select count(rally.job_enqueue(s.tenant_id, 'calsync', s.connection_id::text,
	    jsonb_build_object('connection_id', s.connection_id, 'reason', 'poll')))
	into n
	from rally.sync_state s
	join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
	where s.resource = 'calendar' and c.status = 'active' and c.calendar_enabled
	    and (s.last_sync_at is null
	        or s.last_sync_at < now() - make_interval(secs => p_poll))
	    and not exists (select 1 from rally.jobs j
	        where j.tenant_id = s.tenant_id and j.kind = 'calsync'
	            and j.dedupe_key = s.connection_id::text and j.state = 'pending');
	if p_push then
		select count(rally.job_enqueue(s.tenant_id, 'calwatch', s.connection_id::text,
		    jsonb_build_object('connection_id', s.connection_id)))
		into m
		from rally.sync_state s
		join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
		where s.resource = 'calendar' and c.status = 'active' and c.calendar_enabled
		    and (s.channel_expires_at is null
		        or s.channel_expires_at < now() + interval '1 day')
		    and not exists (select 1 from rally.jobs j
		        where j.tenant_id = s.tenant_id and j.kind = 'calwatch'
		            and j.dedupe_key = s.connection_id::text
		            and j.state in ('pending', 'running'));
	end if;
	return n + m;
end
$$;

grant execute on function rally.origin_is_google(), rally.cal_tombstone_done(uuid, uuid),
    rally.cal_queue_push(uuid, uuid), rally.cal_push_done(uuid, uuid, jsonb, jsonb),
    rally.cal_purge_batch(uuid, uuid), rally.cal_queue_periodic(int, boolean)
    to rally_daemon;
-- The activity triggers' WHEN clauses run as the writer: the web role too.
grant execute on function rally.origin_is_google() to rally_web;
