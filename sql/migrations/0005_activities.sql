-- CRM activities (meetings, calls, tasks), two-way synced with the owner's
-- primary Google calendar, and the values lost in sync conflicts.
set local role rally_owner;

create table rally.activities (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	owner_id uuid not null,
	kind text not null default 'meeting' check (kind in ('meeting', 'call', 'task')),
	title text not null default '' check (length(title) <= 1024),
	description text check (length(description) <= 65536),
	location text check (length(location) <= 1024),
	-- Timed activities use start_at/end_at; all-day ones start_date/end_date
	-- (end exclusive, as Google's).  A task may have neither.
	start_at timestamptz,
	end_at timestamptz,
	start_date date,
	end_date date,
	time_zone text check (time_zone ~ '^[A-Za-z0-9_+/-]{1,64}$'),
	-- RRULE, EXRULE, RDATE and EXDATE lines of a recurring master.
	recurrence text[],
	-- [{"email": ..., "displayName": ..., "responseStatus": ..., ...}]
	attendees jsonb not null default '[]' check (jsonb_typeof(attendees) = 'array'),
	visibility text not null default 'private' check (visibility in ('private', 'shared')),
	event_status text not null default 'confirmed'
	    check (event_status in ('confirmed', 'tentative', 'cancelled')),
	-- Where the activity came from: the purge after a disconnect deletes
	-- what Google brought and detaches what the CRM created.
	origin text not null default 'crm' check (origin in ('crm', 'google')),
	-- An instance or exception of a recurring series: its master (in
	-- Rally and at Google) and the start it replaces.
	recurring_activity_id uuid,
	recurring_event_id text check (length(recurring_event_id) <= 1024),
	original_start_at timestamptz,
	original_start_date date,
	-- Sync with Google Calendar.
	connection_id uuid,
	google_event_id text check (length(google_event_id) <= 1024),
	ical_uid text check (length(ical_uid) <= 1024),
	etag text check (length(etag) <= 256),
	google_updated timestamptz,
	sequence int check (sequence >= 0),
	-- The fields as last agreed with Google: the base of three-way merges.
	synced_snapshot jsonb check (jsonb_typeof(synced_snapshot) = 'object'),
	-- local: not synced; pending: a CRM change waits to be pushed; synced;
	-- error: the push failed for good (sync_error says why).
	sync_state text not null default 'local'
	    check (sync_state in ('local', 'pending', 'synced', 'error')),
	sync_error text check (length(sync_error) <= 2000),
	-- Tombstone: deleted in the CRM, to be deleted at Google before the
	-- row goes.
	deleted_at timestamptz,
	created_at timestamptz not null default now(),
	updated_at timestamptz not null default now(),
	primary key (tenant_id, id),
	unique (tenant_id, connection_id, google_event_id),
	foreign key (tenant_id, owner_id) references rally.users on delete cascade,
	-- A synced activity belongs to the user whose calendar it is in.
	foreign key (tenant_id, connection_id, owner_id)
	    references rally.google_connections (tenant_id, id, user_id) on delete cascade,
	foreign key (tenant_id, recurring_activity_id) references rally.activities on delete cascade,
	check (start_at is null or start_date is null),
	check (end_at is null or (start_at is not null and end_at >= start_at)),
	check (end_date is null or (start_date is not null and end_date >= start_date)),
	check (original_start_at is null or original_start_date is null),
	check (connection_id is not null or (google_event_id is null and sync_state = 'local')),
	check (origin = 'crm' or connection_id is not null)
);
create index activities_owner_start on rally.activities (tenant_id, owner_id, start_at);
create index activities_start on rally.activities (tenant_id, start_at);
create index activities_push on rally.activities (tenant_id, connection_id)
    where sync_state = 'pending' or deleted_at is not null;
create index activities_series on rally.activities (tenant_id, recurring_activity_id)
    where recurring_activity_id is not null;

-- When both sides changed a field, the later change wins and the other
-- value is kept here, so the owner can see (and restore) what was lost.
create table rally.merge_conflicts (
	tenant_id uuid not null,
	id bigint generated always as identity,
	activity_id uuid not null,
	owner_id uuid not null,
	field text not null check (field ~ '^[a-z][a-z_]{0,63}$'),
	base_value jsonb,
	local_value jsonb,
	remote_value jsonb,
	winner text not null check (winner in ('local', 'remote')),
	local_updated timestamptz,
	remote_updated timestamptz,
	recorded_at timestamptz not null default now(),
	seen_at timestamptz,
	primary key (tenant_id, id),
	foreign key (tenant_id, activity_id) references rally.activities on delete cascade,
	foreign key (tenant_id, owner_id) references rally.users on delete cascade
);
create index merge_conflicts_activity on rally.merge_conflicts (tenant_id, activity_id);
create index merge_conflicts_owner on rally.merge_conflicts (tenant_id, owner_id);

select rally.secure_table('rally.activities');
select rally.secure_table('rally.merge_conflicts');

grant select, insert, update, delete on rally.activities, rally.merge_conflicts
    to rally_daemon;

-- rally_web: the tenant's shared activities and the user's own; only the
-- owner writes.  To delete a synced activity the CGI sets deleted_at and
-- sync_state 'pending' (the daemon deletes it at Google, then the row).
grant select on rally.activities to rally_web;
grant insert (tenant_id, id, owner_id, kind, title, description, location,
    start_at, end_at, start_date, end_date, time_zone, recurrence, attendees,
    visibility, recurring_activity_id, original_start_at, original_start_date,
    connection_id, sync_state)
    on rally.activities to rally_web;
grant update (kind, title, description, location, start_at, end_at, start_date,
    end_date, time_zone, recurrence, attendees, visibility, event_status,
    sync_state, deleted_at, updated_at)
    on rally.activities to rally_web;
grant delete on rally.activities to rally_web;
create policy web_select on rally.activities for select to rally_web
    using (tenant_id = rally.current_tenant()
        and (visibility = 'shared' or owner_id = rally.current_user_id()));
create policy web_insert on rally.activities for insert to rally_web
    with check (tenant_id = rally.current_tenant() and owner_id = rally.current_user_id());
create policy web_update on rally.activities for update to rally_web
    using (tenant_id = rally.current_tenant() and owner_id = rally.current_user_id())
    with check (tenant_id = rally.current_tenant() and owner_id = rally.current_user_id());
create policy web_delete on rally.activities for delete to rally_web
    using (tenant_id = rally.current_tenant() and owner_id = rally.current_user_id());

grant select on rally.merge_conflicts to rally_web;
grant update (seen_at) on rally.merge_conflicts to rally_web;
create policy web_own on rally.merge_conflicts to rally_web
    using (tenant_id = rally.current_tenant() and owner_id = rally.current_user_id())
    with check (tenant_id = rally.current_tenant() and owner_id = rally.current_user_id());
