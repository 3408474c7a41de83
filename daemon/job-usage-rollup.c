/* SPDX-License-Identifier: ISC */
/*
 * usage-rollup: the daily system job (daemon/sched.c) that counts every
 * complete day's usage events into usage_daily, leaving out users who
 * objected to analytics, and deletes raw events older than
 * usage.retention (rally.usage_rollup in sql/functions/rectify.sql).
 */
#include "config.h"

#include <stdio.h>

#include "jobs.h"
#include "rallyd.h"
#include "sqljob.h"

static const struct sqljob_spec rollup = {
	"SELECT rally.usage_rollup(make_interval(secs => $1::float8))",
	"raw_events_deleted", SQLJOB_INT,
};

static void
rollup_start(struct job *job)
{
	char sec[32];
	const char *params[] = { sec };

	snprintf(sec, sizeof sec, "%lld", (long long)job->d->conf.usage_retention_sec);
	sqljob_run(job, &rollup, 1, params);
}

const struct job_kind job_usage_rollup_kind = {
	.name = "usage-rollup",
	.start = rollup_start,
	.cancel = NULL,
};
