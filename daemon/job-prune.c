/*
 * prune: deletes finished jobs (and, by cascade, their run history)
 * older than daemon.job_retention, a thousand rows per statement so that no
 * lock is held for long.  Failed jobs stay until an operator retries or
 * removes them: they are the record of what needs attention.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "jobs.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"

#define PRUNE_BATCH "1000"

#define PRUNE_SQL \
	"DELETE FROM rally.jobs WHERE (tenant_id, id) IN (" \
	"  SELECT tenant_id, id FROM rally.jobs WHERE state = 'done'" \
	"  AND finished_at < now() - make_interval(secs => $1::int)" \
	"  LIMIT " PRUNE_BATCH ")"

struct prune {
	long deleted;
	char retention[24];
};

static void prune_batch(struct job *);

static void
prune_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	struct prune *p = job->state;
	long n;

	if (error != NULL) {
		job_finish(job, JOB_RETRY, error, NULL);
		free(p);
		return;
	}
	n = atol(PQcmdTuples((PGresult *)res));
	p->deleted += n;
	if (n == atol(PRUNE_BATCH)) {
		prune_batch(job);
		return;
	}
	json_object *result = json_object_new_object();
	json_object_object_add(result, "deleted", json_object_new_int64(p->deleted));
	free(p);
	job->state = NULL;
	job_finish(job, JOB_DONE, NULL, result);
}

static void
prune_batch(struct job *job)
{
	struct prune *p = job->state;
	const char *params[] = { p->retention };

	pgloop_query(job->d->db, PRUNE_SQL, 1, params, prune_cb, job);
}

static void
prune_start(struct job *job)
{
	struct prune *p = xcalloc(1, sizeof *p);

	snprintf(p->retention, sizeof p->retention, "%lld",
	    (long long)job->d->conf.job_retention_sec);
	job->state = p;
	prune_batch(job);
}

const struct job_kind job_prune_kind = {
	.name = "prune",
	.start = prune_start,
	/*
	 * No cancel: a batch in flight cannot be stopped from here; at
	 * shutdown the lease is released and the query's answer dropped.
	 */
	.cancel = NULL,
};
