-- Indexes for the job engine's claim (daemon/jobs-sql.h): it takes each
-- tenant's due jobs in run_at order, turn by turn across tenants, and
-- passes over a job whose twin (same kind and dedupe key) is running.
set local role rally_owner;

create index jobs_due_by_tenant on rally.jobs (tenant_id, run_at, id)
    where state = 'pending';
create index jobs_running_twin on rally.jobs (tenant_id, kind, dedupe_key)
    where state = 'running' and dedupe_key is not null;
