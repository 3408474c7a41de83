-- The job queue rallyd's lease engine works from (lib/db, daemon/jobs),
-- the record of each attempt, and the running instances.  Names and
-- columns are a contract with the C code: change them only with it.
set local role rally_owner;

create table rally.jobs (
	tenant_id uuid not null,
	id bigint generated always as identity,
	kind text not null,
	dedupe_key text,
	payload jsonb not null default '{}',
	state text not null default 'pending'
	    check (state in ('pending', 'running', 'done', 'failed')),
	run_at timestamptz not null default now(),
	attempts int not null default 0,
	max_attempts int,
	lease_owner text,
	lease_expires timestamptz,
	last_error text,
	result jsonb,
	created_at timestamptz not null default now(),
	started_at timestamptz,
	finished_at timestamptz,
	primary key (tenant_id, id)
);
-- One pending job per (tenant, kind, key): a burst of edits to the same
-- activity queues one push; once it runs, the next edit queues another.
create unique index jobs_dedupe on rally.jobs (tenant_id, kind, dedupe_key)
    where state = 'pending' and dedupe_key is not null;
create index jobs_due on rally.jobs (run_at) where state = 'pending';
create index jobs_lease on rally.jobs (lease_expires) where state = 'running';

create table rally.job_runs (
	tenant_id uuid not null,
	job_id bigint not null,
	attempt int not null,
	instance text not null,
	started_at timestamptz not null default now(),
	finished_at timestamptz,
	outcome text
	    check (outcome in ('done', 'retry', 'failed', 'released', 'lease_expired')),
	error text,
	primary key (tenant_id, job_id, attempt),
	foreign key (tenant_id, job_id) references rally.jobs on delete cascade
);

create table rally.instances (
	tenant_id uuid not null default '00000000-0000-0000-0000-000000000000',
	name text not null,
	host text,
	pid int,
	version text,
	started_at timestamptz not null default now(),
	heartbeat_at timestamptz not null default now(),
	jobs_running int not null default 0,
	primary key (tenant_id, name)
);

-- Wake the daemons when work may have become due.  Statement level, with
-- transition tables, so one statement inserting 1000 jobs sends one
-- notification (and one that inserted nothing, as an ON CONFLICT DO NOTHING
-- that hit the dedupe index, sends none).  NOTIFY is delivered at commit,
-- so a daemon never wakes for a job it cannot see yet.
create function rally.jobs_notify_insert() returns trigger
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
create function rally.jobs_notify_update() returns trigger
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

create trigger jobs_notify_insert after insert on rally.jobs
    referencing new table as new_rows
    for each statement execute function rally.jobs_notify_insert();
create trigger jobs_notify_update after update on rally.jobs
    referencing old table as old_rows new table as new_rows
    for each statement execute function rally.jobs_notify_update();

select rally.secure_table('rally.jobs');
select rally.secure_table('rally.job_runs');
select rally.secure_table('rally.instances');

grant select, insert, update, delete on rally.jobs, rally.job_runs, rally.instances
    to rally_daemon;

-- The CGI hands work over by inserting jobs for its own tenant; it reads
-- job state from the rows the work is about (exports, connections), never
-- from the queue.  It cannot choose a job's state, lease or attempts.
grant insert (tenant_id, kind, dedupe_key, payload, run_at) on rally.jobs to rally_web;
create policy web_insert on rally.jobs for insert to rally_web
    with check (tenant_id = rally.current_tenant());
