-- SPDX-License-Identifier: ISC
-- The one way work enters rally.jobs.  Every SQL function, trigger and C
-- statement that queues a job calls rally.job_enqueue; nothing else
-- inserts into the table (rally_web may not at all: it asks through the
-- web_* functions, which derive each payload from rows the caller owns).
set local role rally_owner;

-- The kinds rallyd has a handler for (daemon/jobs-kinds.c; a test keeps
-- the two lists equal).  A kind nobody handles would only retry until it
-- failed, so it is refused when queued, where the mistake is made.
create or replace function rally.job_kinds() returns text[]
language sql immutable parallel safe
as $$
	select array['ping', 'prune', 'token-revoke', 'google-probe',
	    'calsync', 'calpush', 'calwatch', 'calpurge', 'mailsync',
	    'maillabel', 'mailsend', 'mailwatch', 'mailreconcile', 'mailpurge', 'notice',
	    'accountpurge', 'deletion-watch', 'export', 'usage-rollup', 'backup',
	    'backup-check', 'sync-watch', 'oauth-exchange']
$$;

-- Queues a job, or folds it into the pending twin with the same
-- (tenant, kind, dedupe key), which then runs no later than p_run_at.
-- Returns the id of the pending job that will do the work.
create or replace function rally.job_enqueue(p_tenant uuid, p_kind text,
    p_dedupe_key text default null, p_payload jsonb default '{}',
    p_run_at timestamptz default now(), p_max_attempts int default null)
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
	v_id bigint;
begin
	if p_tenant is null then
		raise exception 'job_enqueue: no tenant' using errcode = '22004';
	end if;
	if p_kind is null or not (p_kind = any (rally.job_kinds())) then
		raise exception 'job_enqueue: no handler knows job kind "%"', p_kind
		    using errcode = '22023',
		    hint = 'rally.job_kinds() lists the kinds rallyd runs';
	end if;
	if jsonb_typeof(coalesce(p_payload, '{}')) <> 'object' then
		raise exception 'job_enqueue: the payload of a % job must be an object', p_kind
		    using errcode = '22023';
	end if;
	if length(p_dedupe_key) > 200 then
		raise exception 'job_enqueue: dedupe key longer than 200 characters'
		    using errcode = '22001';
	end if;
	insert into rally.jobs as j (tenant_id, kind, dedupe_key, payload, run_at, max_attempts)
	values (p_tenant, p_kind, p_dedupe_key, coalesce(p_payload, '{}'),
	    coalesce(p_run_at, now()), p_max_attempts)
	on conflict (tenant_id, kind, dedupe_key)
	    where state = 'pending' and dedupe_key is not null
	do update set run_at = least(j.run_at, excluded.run_at)
	returning j.id into v_id;
	return v_id;
end
$$;

-- Wake the daemons when work may have become due.  Statement level, with
-- transition tables, so one statement inserting 1000 jobs sends one
-- notification (and one that folded into a pending twin sends none, unless
-- it brought that twin forward, which the UPDATE trigger reports).  NOTIFY
-- is delivered at commit, so a daemon never wakes for a job it cannot see
-- yet.  First defined in migration 0002; these supersede it.
create or replace function rally.jobs_notify_insert() returns trigger
language plpgsql
as $$
begin
	if exists (select 1 from new_rows where state = 'pending') then
		perform pg_catalog.pg_notify('rally_jobs', '');
	end if;
	return null;
end
$$;

-- An update wakes them when a job becomes pending (a retry, a released
-- lease) or a pending job is brought forward: their timers may be late.
create or replace function rally.jobs_notify_update() returns trigger
language plpgsql
as $$
begin
	if exists (select 1 from new_rows n join old_rows o
	    on o.tenant_id = n.tenant_id and o.id = n.id
	    where n.state = 'pending' and (o.state <> 'pending' or n.run_at < o.run_at)) then
		perform pg_catalog.pg_notify('rally_jobs', '');
	end if;
	return null;
end
$$;

create or replace trigger jobs_notify_insert after insert on rally.jobs
    referencing new table as new_rows
    for each statement execute function rally.jobs_notify_insert();
create or replace trigger jobs_notify_update after update on rally.jobs
    referencing old table as old_rows new table as new_rows
    for each statement execute function rally.jobs_notify_update();

revoke all on function rally.job_kinds(), rally.job_enqueue(uuid, text, text, jsonb,
    timestamptz, int) from public;
grant execute on function rally.job_kinds(), rally.job_enqueue(uuid, text, text, jsonb,
    timestamptz, int) to rally_daemon;
