/* SPDX-License-Identifier: ISC */
/*
 * usage-rollup: the daily system job (daemon/sched.c) that counts every
 * complete day's usage events into usage_daily, leaving out users who
 * objected to analytics, and deletes raw events older than
 * usage.retention (rally.usage_rollup in sql/functions/rectify.sql).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "jobs.h"
#include "pgloop.h"
#include "rallyd.h"

#define ROLLUP_SQL "SELECT rally.usage_rollup(make_interval(secs => $1::float8))"

static void
rollup_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	json_object *result;

	if (error != NULL) {
		job_finish(job, JOB_RETRY, error, NULL);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "raw_events_deleted",
	    json_object_new_int64(atoll(PQgetvalue(res, 0, 0))));
	job_finish(job, JOB_DONE, NULL, result);
}

static void
rollup_start(struct job *job)
{
	char sec[32];
	const char *params[] = { sec };

	snprintf(sec, sizeof sec, "%lld", (long long)job->d->conf.usage_retention_sec);
	pgloop_query(job->d->db, ROLLUP_SQL, 1, params, rollup_cb, job);
}

const struct job_kind job_usage_rollup_kind = {
	.name = "usage-rollup",
	.start = rollup_start,
	.cancel = NULL,
};
