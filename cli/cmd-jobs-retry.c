/* SPDX-License-Identifier: ISC */
/*
 * rallyctl jobs retry ID: puts a failed job back to pending, due now, with
 * its attempts reset; its job_runs history stays.  The daemons are woken by
 * the NOTIFY of the jobs table's update trigger (sql/migrations/0002_jobs.sql).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "rallyctl.h"

static int cmd_jobs_retry_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_jobs_retry_entry = {
	"jobs retry", "ID [--json]",
	"put a failed job back in the queue, due now, attempts reset",
	cmd_jobs_retry_exec,
};

/*
 * $1 id.  Only a failed job: a running one belongs to its lease owner.  Not
 * when a pending twin (same dedupe key) is queued: it will do the same work,
 * and the dedupe index allows one.
 */
#define JOBS_SQL_RETRY_FAILED \
	"UPDATE rally.jobs j SET state = 'pending', attempts = 0, run_at = now()," \
	"  finished_at = NULL, lease_owner = NULL, lease_expires = NULL" \
	" WHERE j.id = $1::bigint AND j.state = 'failed' AND NOT EXISTS (" \
	"  SELECT 1 FROM rally.jobs t WHERE t.tenant_id = j.tenant_id" \
	"  AND t.kind = j.kind AND t.dedupe_key = j.dedupe_key" \
	"  AND t.state = 'pending')" \
	" RETURNING j.tenant_id, j.kind"

#define JOBS_SQL_STATE "SELECT state FROM rally.jobs WHERE id = $1::bigint"

/* Why nothing was updated: no such job, not failed, or a pending twin. */
static int
explain(PGconn *db, const char *id)
{
	char *cause = NULL;
	PGresult *res;
	int rc;

	if ((res = db_exec(db, JOBS_SQL_STATE, 1, &id, &cause)) == NULL) {
		rc = ctl_error(CTL_FAILURE, "jobs retry: %s", cause);
		free(cause);
		return rc;
	}
	if (PQntuples(res) == 0)
		rc = ctl_error(EX_DATAERR, "jobs retry: no job %s", id);
	else if (strcmp(PQgetvalue(res, 0, 0), "failed") == 0)
		rc = ctl_error(EX_DATAERR, "jobs retry: job %s has a pending "
		    "twin with the same dedupe key, which will do its work", id);
	else
		rc = ctl_error(EX_DATAERR, "jobs retry: job %s is %s, not "
		    "failed", id, PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

static int
report(const struct ctl *ctl, const char *id, const PGresult *res)
{
	struct json_object *o;

	if (!ctl->json) {
		printf("job %s (%s) is pending again\n", id,
		    PQgetvalue(res, 0, 1));
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "tenant_id", ctl_json_string(res, 0, 0));
	json_object_object_add(o, "kind", ctl_json_string(res, 0, 1));
	json_object_object_add(o, "state", json_object_new_string("pending"));
	return ctl_print_json(o);
}

static int
retry(struct ctl *ctl, const char *id)
{
	char *cause = NULL;
	PGresult *res;
	PGconn *db;
	int rc;

	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((res = db_exec(db, JOBS_SQL_RETRY_FAILED, 1, &id, &cause)) == NULL) {
		rc = ctl_error(CTL_FAILURE, "jobs retry: %s", cause);
		free(cause);
		return rc;
	}
	rc = PQntuples(res) == 1 ? report(ctl, id, res) : explain(db, id);
	PQclear(res);
	return rc;
}

static int
cmd_jobs_retry_exec(struct ctl *ctl, int argc, char **argv)
{
	const char *id;
	int rc = ctl_args_json_id(ctl, &cmd_jobs_retry_entry, argc, argv, &id);

	return rc != 0 ? rc : retry(ctl, id);
}
