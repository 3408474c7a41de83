/* SPDX-License-Identifier: ISC */
/*
 * deletion-watch: a periodic system job (daemon/sched.c) that logs, at
 * crit with MSGID_DELETION_OVERDUE, every deletion of the ledger past its
 * due date and not completed (rally.deletions_overdue): a promise to a
 * user about to be broken.  Each entry is named by its ledger id and
 * tenant only.  It also deletes the exports past their 7 days
 * (rally.exports_expire) and the notices of completed deletions that
 * could not be sent within compliance.purge_lag
 * (rally.farewell_notices_expire): the deleted user's address must not
 * stay for want of a relay.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "jobs.h"
#include "log.h"
#include "msgid.h"
#include "pgloop.h"
#include "rallyd.h"

#define WATCH_SQL \
	"SELECT tenant_id::text, id::text, kind," \
	" to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')" \
	" FROM rally.deletions_overdue() LIMIT 1000"

static void
watch_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	json_object *result;
	int n;

	if (error != NULL) {
		job_finish(job, JOB_RETRY, error, NULL);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		struct log_ctx ctx = { PQgetvalue(res, i, 0), NULL, job->id };

		log_emit(LOG_CRIT, MSGID_DELETION_OVERDUE, &ctx, "deletion %s "
		    "(%s) was due at %s and is not completed: see rallyctl "
		    "compliance report", PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	}
	result = json_object_new_object();
	json_object_object_add(result, "overdue", json_object_new_int(n));
	job_finish(job, JOB_DONE, NULL, result);
}

static void
expired_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;

	(void)res;
	if (error != NULL) {
		job_finish(job, JOB_RETRY, error, NULL);
		return;
	}
	pgloop_query(job->d->db, WATCH_SQL, 0, NULL, watch_cb, job);
}

static void
watch_start(struct job *job)
{
	char lag[32];
	const char *params[1] = { lag };

	snprintf(lag, sizeof lag, "%lld",
	    (long long)job->d->conf.purge_lag_sec);
	pgloop_query(job->d->db, "SELECT rally.exports_expire(),"
	    " rally.farewell_notices_expire(make_interval(secs => $1::bigint))",
	    1, params, expired_cb, job);
}

const struct job_kind job_deletion_watch_kind = {
	.name = "deletion-watch",
	.start = watch_start,
	.cancel = NULL,
};
