/* SPDX-License-Identifier: ISC */
/*
 * sync-watch: a periodic system job (daemon/sched.c) that tells users, by
 * a notice, of a sync of theirs failing for longer than
 * notices.sync_failing_after, once per stretch of failures
 * (rally.sync_failing_notices in sql/functions/notices.sql).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "jobs.h"
#include "pgloop.h"
#include "rallyd.h"

#define SYNC_WATCH_SQL \
	"SELECT rally.sync_failing_notices(make_interval(secs => $1::float8))"

static void
watch_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	json_object *result;

	if (error != NULL) {
		job_finish(job, JOB_RETRY, error, NULL);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "notices",
	    json_object_new_int(atoi(PQgetvalue(res, 0, 0))));
	job_finish(job, JOB_DONE, NULL, result);
}

static void
sync_watch_start(struct job *job)
{
	char sec[32];
	const char *params[] = { sec };

	snprintf(sec, sizeof sec, "%lld",
	    (long long)job->d->conf.notices_sync_failing_sec);
	pgloop_query(job->d->db, SYNC_WATCH_SQL, 1, params, watch_cb, job);
}

const struct job_kind job_sync_watch_kind = {
	.name = "sync-watch",
	.start = sync_watch_start,
	.cancel = NULL,
};
