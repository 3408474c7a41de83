-- SPDX-License-Identifier: ISC
-- The hourly upkeep of the prune job (daemon/job-prune.c): one batch
-- of each kind of leftover, at most 1000 rows per statement so that no
-- lock is held for long.  The job calls it again until a batch finds
-- nothing.
set local role rally_owner;

-- Deletes, each older than its retention (in seconds):
--   jobs        finished ('done') jobs, with their run history by cascade;
--               failed jobs stay for an operator;
--   activities  soft-deleted activities with no connection: there is no
--               event at Google to delete, so nothing else ever removes them
--               (found through activities_push, which holds only pending and
--               deleted rows: no scan of the table);
--   tombstones  deletions for a connection whose calendar is off or whose
--               grant is gone: they can never be sent (a week, not the
--               retention, so that a calendar switched back on in time
--               still gets them);
--   oauth_pending  web attempts to connect Google (sql/functions/oauth.sql)
--               a day after they expired or ended, whichever is later: long
--               enough for the page that polls, and the user starts
--               afresh anyway.
-- The result type changed with oauth_pending (migration 0030 dropped the
-- three-column one).
create or replace function rally.prune_batch(p_job_retention int, p_deleted_retention int)
returns table (jobs int, activities int, tombstones int, oauth_pending int)
language plpgsql
as $$
begin
	delete from rally.jobs where (tenant_id, id) in (
	    select j.tenant_id, j.id from rally.jobs j where j.state = 'done'
	        and j.finished_at < now() - make_interval(secs => p_job_retention)
	    limit 1000);
	get diagnostics jobs = row_count;
	delete from rally.activities where (tenant_id, id) in (
	    select a.tenant_id, a.id from rally.activities a
	    where a.deleted_at < now() - make_interval(secs => p_deleted_retention)
	        and a.connection_id is null
	    limit 1000);
	get diagnostics activities = row_count;
	delete from rally.activity_tombstones where (tenant_id, activity_id) in (
	    select t.tenant_id, t.activity_id from rally.activity_tombstones t
	    where t.deleted_at < now() - interval '7 days'
	        and not exists (select 1 from rally.google_connections c
	            where c.tenant_id = t.tenant_id and c.id = t.connection_id
	                and c.calendar_enabled and c.status = 'active')
	    limit 1000);
	get diagnostics tombstones = row_count;
	delete from rally.oauth_pending where (tenant_id, id) in (
	    select o.tenant_id, o.id from rally.oauth_pending o
	    where o.expires_at < now() - interval '1 day'
	        and (o.finished_at is null or o.finished_at < now() - interval '1 day')
	    limit 1000);
	get diagnostics oauth_pending = row_count;
	return next;
end
$$;

grant execute on function rally.prune_batch(int, int) to rally_daemon;
