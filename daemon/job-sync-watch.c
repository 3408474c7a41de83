/* SPDX-License-Identifier: ISC */
/*
 * sync-watch: a periodic system job (daemon/sched.c) that tells users, by
 * a notice, of a sync of theirs failing for longer than
 * notices.sync_failing_after, once per stretch of failures
 * (rally.sync_failing_notices in sql/functions/notices.sql).
 */
#include "config.h"

#include <stdio.h>

#include "jobs.h"
#include "rallyd.h"
#include "sqljob.h"

static const struct sqljob_spec sync_watch = {
	"SELECT rally.sync_failing_notices(make_interval(secs => $1::float8))",
	"notices", SQLJOB_INT,
};

static void
sync_watch_start(struct job *job)
{
	char sec[32];
	const char *params[] = { sec };

	snprintf(sec, sizeof sec, "%lld",
	    (long long)job->d->conf.notices_sync_failing_sec);
	sqljob_run(job, &sync_watch, 1, params);
}

const struct job_kind job_sync_watch_kind = {
	.name = "sync-watch",
	.start = sync_watch_start,
	.cancel = NULL,
};
