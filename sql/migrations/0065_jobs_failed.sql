-- SPDX-License-Identifier: ISC
-- The jobs that failed for good, by what they were for: the scheduler
-- looks there before it takes up mail still waiting to be sent or
-- labelled (rally.mail_queue_waiting, sql/functions/mail-inbound.sql), so
-- an outage is retried every 15 minutes, not in a loop.  Few rows: failed
-- jobs are rare and pruned with the rest.
set local role rally_owner;

create index jobs_failed on rally.jobs (tenant_id, kind, dedupe_key, finished_at)
    where state = 'failed';
