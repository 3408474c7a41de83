/* SPDX-License-Identifier: ISC */
/*
 * The statements of the job engine, kept together so the whole protocol
 * between instances can be read in one place.  Parameters are noted above
 * each.  Every state change is fenced on lease_owner and attempts, so an
 * instance that lost its lease can never overwrite the new owner's work.
 */
#ifndef RALLYD_JOBS_SQL_H
#define RALLYD_JOBS_SQL_H

/*
 * Jobs that share a dedupe key never run at the same time: a pending job
 * waits while its twin runs (two syncs of one calendar would only race).
 * A running twin whose lease expired still blocks: it is claimable itself,
 * and is taken over first.
 */
#define JOBS_SQL_NO_TWIN_RUNNING \
	" AND (j.dedupe_key IS NULL OR NOT EXISTS (SELECT 1 FROM rally.jobs t" \
	"   WHERE t.state = 'running' AND t.tenant_id = j.tenant_id" \
	"   AND t.kind = j.kind AND t.dedupe_key = j.dedupe_key))"

/* A job that may be claimed now: due, or its owner's lease expired. */
#define JOBS_SQL_CLAIMABLE \
	" ((j.state = 'pending' AND j.run_at <= now()" JOBS_SQL_NO_TWIN_RUNNING ")" \
	"  OR (j.state = 'running' AND j.lease_expires < now()))"

/*
 * Claims due jobs and jobs whose lease expired, fairly across tenants: each
 * tenant's claimable jobs are numbered in run_at order after the jobs it
 * already has running (its "turns"), and the claim takes turn 1 of every
 * tenant before anyone's turn 2, so one tenant's backlog of thousands
 * never holds up another's single job, across claims too.  Of jobs that
 * share a dedupe key at most one is taken (twins never run at once).  The
 * conditions are repeated where rows are locked, so a row another instance
 * claimed in the meantime is re-checked and passed over.
 * $1 instance, $2 how many, $3 lease seconds, $4 default max attempts.
 */
#define JOBS_SQL_CLAIM \
	"WITH tenants AS (" \
	"  SELECT t.tenant_id, (SELECT count(*) FROM rally.jobs r" \
	"    WHERE r.tenant_id = t.tenant_id AND r.state = 'running'" \
	"    AND r.lease_expires >= now()) AS busy" \
	"  FROM (SELECT DISTINCT j.tenant_id FROM rally.jobs j" \
	"    WHERE" JOBS_SQL_CLAIMABLE ") t)," \
	" turns AS (" \
	"  SELECT d.tenant_id, d.id, d.run_at, t.busy + row_number() OVER" \
	"    (PARTITION BY d.tenant_id ORDER BY d.run_at, d.id) AS turn," \
	"   row_number() OVER (PARTITION BY d.tenant_id, d.kind," \
	"    coalesce(d.dedupe_key, d.id::text) ORDER BY d.run_at, d.id) AS twin" \
	"  FROM tenants t CROSS JOIN LATERAL (" \
	"    SELECT j.tenant_id, j.id, j.run_at, j.kind, j.dedupe_key" \
	"    FROM rally.jobs j" \
	"    WHERE j.tenant_id = t.tenant_id AND" JOBS_SQL_CLAIMABLE \
	"    ORDER BY j.run_at, j.id LIMIT $2) d)," \
	" c AS (" \
	"  SELECT j.tenant_id, j.id, j.state AS prev_state, j.lease_owner AS prev_owner" \
	"  FROM rally.jobs j JOIN turns USING (tenant_id, id)" \
	"  WHERE turns.twin = 1 AND" JOBS_SQL_CLAIMABLE \
	"  ORDER BY turns.turn, turns.run_at, j.id LIMIT $2" \
	"  FOR UPDATE OF j SKIP LOCKED)," \
	" u AS (" \
	"  UPDATE rally.jobs j SET state = 'running', lease_owner = $1," \
	"    lease_expires = now() + make_interval(secs => $3::int)," \
	"    attempts = j.attempts + 1, started_at = now()" \
	"  FROM c WHERE j.tenant_id = c.tenant_id AND j.id = c.id" \
	"  RETURNING j.tenant_id, j.id, j.kind, j.payload, j.attempts," \
	"    coalesce(j.max_attempts, $4::int) AS max_attempts," \
	"    c.prev_state, c.prev_owner)," \
	" expired AS (" \
	"  UPDATE rally.job_runs r SET outcome = 'lease_expired', finished_at = now()" \
	"  FROM u WHERE u.prev_state = 'running' AND r.tenant_id = u.tenant_id" \
	"    AND r.job_id = u.id AND r.outcome IS NULL)," \
	" runs AS (" \
	"  INSERT INTO rally.job_runs (tenant_id, job_id, attempt, instance)" \
	"  SELECT tenant_id, id, attempts, $1 FROM u)" \
	" SELECT tenant_id, id, kind, payload, attempts, max_attempts," \
	"   prev_state, prev_owner FROM u"

/* Fenced on (owner, attempt): $1 tenant, $2 id, $3 instance, $4 attempt. */
#define JOBS_SQL_FENCE \
	" WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3" \
	" AND attempts = $4::int AND state = 'running'"

#define JOBS_SQL_RECORD_RUN(outcome) \
	" UPDATE rally.job_runs r SET outcome = " outcome ", finished_at = now()," \
	"   error = $5 FROM j WHERE r.tenant_id = j.tenant_id" \
	"   AND r.job_id = j.id AND r.attempt = j.attempts RETURNING j.state"

/* $5 result (json) */
#define JOBS_SQL_DONE \
	"WITH j AS (UPDATE rally.jobs SET state = 'done', finished_at = now()," \
	"  lease_owner = NULL, lease_expires = NULL, last_error = NULL," \
	"  result = $5::jsonb" JOBS_SQL_FENCE \
	"  RETURNING tenant_id, id, attempts, state)" \
	" UPDATE rally.job_runs r SET outcome = 'done', finished_at = now()" \
	" FROM j WHERE r.tenant_id = j.tenant_id AND r.job_id = j.id" \
	"   AND r.attempt = j.attempts RETURNING j.state"

/* $5 error, $6 delay seconds.  A pending twin (same dedupe key) already
 * queued will do the same work, so the job is then closed as superseded. */
#define JOBS_SQL_RETRY \
	"WITH j AS (UPDATE rally.jobs x SET" \
	"  state = CASE WHEN EXISTS (SELECT 1 FROM rally.jobs t" \
	"      WHERE t.tenant_id = x.tenant_id AND t.kind = x.kind" \
	"      AND t.dedupe_key = x.dedupe_key AND t.state = 'pending')" \
	"    THEN 'done' ELSE 'pending' END," \
	"  run_at = now() + make_interval(secs => $6::float8)," \
	"  lease_owner = NULL, lease_expires = NULL, last_error = $5" \
	JOBS_SQL_FENCE " RETURNING tenant_id, id, attempts, state)" \
	JOBS_SQL_RECORD_RUN("'retry'")

/* $5 error */
#define JOBS_SQL_FAIL \
	"WITH j AS (UPDATE rally.jobs SET state = 'failed', finished_at = now()," \
	"  lease_owner = NULL, lease_expires = NULL, last_error = $5" \
	JOBS_SQL_FENCE " RETURNING tenant_id, id, attempts, state)" \
	JOBS_SQL_RECORD_RUN("'failed'")

/*
 * Hands the jobs this process still holds back at shutdown: $1 instance,
 * $2 their ids ("{1,2}"), $3 default max attempts.  The attempt keeps its
 * number and its job_runs row (closed as released); it does not count
 * against the job, whose max_attempts grows by one instead.
 */
#define JOBS_SQL_RELEASE \
	"WITH j AS (UPDATE rally.jobs x SET" \
	"  state = CASE WHEN EXISTS (SELECT 1 FROM rally.jobs t" \
	"      WHERE t.tenant_id = x.tenant_id AND t.kind = x.kind" \
	"      AND t.dedupe_key = x.dedupe_key AND t.state = 'pending')" \
	"    THEN 'done' ELSE 'pending' END," \
	"  max_attempts = coalesce(x.max_attempts, $3::int) + 1, run_at = now()," \
	"  lease_owner = NULL, lease_expires = NULL" \
	"  WHERE state = 'running' AND lease_owner = $1" \
	"  AND id = ANY ($2::bigint[])" \
	"  RETURNING tenant_id, id, attempts AS attempt)" \
	" UPDATE rally.job_runs r SET outcome = 'released', finished_at = now()" \
	" FROM j WHERE r.tenant_id = j.tenant_id AND r.job_id = j.id" \
	"   AND r.attempt = j.attempt"

/*
 * Extends the leases of the jobs this process holds in memory, and no
 * other: a lease belongs to one process's lifetime, not to its instance
 * name, so a job this process dropped, or one a crashed predecessor with
 * the same name held, lapses and is taken over.  Also records that the
 * instance is alive.  $2 lease seconds, $3 host, $4 pid, $5 version,
 * $6 jobs running, $7 their ids ("{1,2}").
 */
#define JOBS_SQL_HEARTBEAT \
	"WITH l AS (UPDATE rally.jobs SET" \
	"  lease_expires = now() + make_interval(secs => $2::int)" \
	"  WHERE state = 'running' AND lease_owner = $1" \
	"  AND id = ANY ($7::bigint[]) RETURNING 1)" \
	" INSERT INTO rally.instances (name, host, pid, version, jobs_running)" \
	" VALUES ($1, $3, $4::int, $5, $6::int)" \
	" ON CONFLICT (tenant_id, name) DO UPDATE SET heartbeat_at = now()," \
	"   jobs_running = excluded.jobs_running" \
	" RETURNING (SELECT count(*) FROM l)"

#define JOBS_SQL_UNREGISTER \
	"DELETE FROM rally.instances WHERE name = $1" \
	" AND tenant_id = '00000000-0000-0000-0000-000000000000'"

/*
 * Seconds until the next pending job is due or a lease this process does
 * not hold ($1, the ids it holds) expires (NULL when neither), and how
 * many jobs are due now.
 */
#define JOBS_SQL_NEXT \
	"SELECT extract(epoch FROM least(" \
	"   (SELECT min(run_at) FROM rally.jobs j WHERE state = 'pending'" \
	JOBS_SQL_NO_TWIN_RUNNING ")," \
	"   (SELECT min(lease_expires) FROM rally.jobs WHERE state = 'running'" \
	"      AND NOT id = ANY ($1::bigint[]))) - now())," \
	" (SELECT count(*) FROM rally.jobs j WHERE state = 'pending'" \
	"   AND run_at <= now()" JOBS_SQL_NO_TWIN_RUNNING ")"

#endif
