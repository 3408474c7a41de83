/* SPDX-License-Identifier: ISC */
/*
 * prune: deletes finished jobs (and, by cascade, their run history)
 * older than daemon.job_retention, a thousand rows per statement so that no
 * lock is held for long, with the calendar's leftovers nothing else removes:
 * soft-deleted activities with no connection, after
 * calendar.deleted_retention, tombstones that can never be sent, and the
 * web's attempts to connect Google a day after they ended
 * (rally.prune_batch, sql/functions/prune.sql).  Failed jobs stay until an
 * operator retries or removes them: they are the record of what needs
 * attention.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "jobs.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"

/* $1 job retention, $2 deleted-activity retention, in seconds. */
#define PRUNE_SQL "SELECT * FROM rally.prune_batch($1::int, $2::int)"

struct prune {
	long deleted;		/* jobs */
	long activities;
	long tombstones;
	long oauth_pending;
	char retention[24];
	char deleted_retention[24];
};

static void prune_batch(struct job *);

static void
prune_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	struct prune *p = job->state;
	json_object *result;
	long n[4];

	if (error != NULL) {
		job_finish(job, JOB_RETRY, error, NULL);
		free(p);
		return;
	}
	for (int i = 0; i < 4; i++)
		n[i] = atol(PQgetvalue(res, 0, i));
	p->deleted += n[0];
	p->activities += n[1];
	p->tombstones += n[2];
	p->oauth_pending += n[3];
	/* Until a batch finds nothing left: each statement takes 1000 at most. */
	if (n[0] + n[1] + n[2] + n[3] > 0) {
		prune_batch(job);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "deleted", json_object_new_int64(p->deleted));
	json_object_object_add(result, "activities",
	    json_object_new_int64(p->activities));
	json_object_object_add(result, "tombstones",
	    json_object_new_int64(p->tombstones));
	json_object_object_add(result, "oauth_pending",
	    json_object_new_int64(p->oauth_pending));
	free(p);
	job->state = NULL;
	job_finish(job, JOB_DONE, NULL, result);
}

static void
prune_batch(struct job *job)
{
	struct prune *p = job->state;
	const char *params[] = { p->retention, p->deleted_retention };

	pgloop_query(job->d->db, PRUNE_SQL, 2, params, prune_cb, job);
}

static void
prune_start(struct job *job)
{
	struct prune *p = xcalloc(1, sizeof *p);

	snprintf(p->retention, sizeof p->retention, "%lld",
	    (long long)job->d->conf.job_retention_sec);
	snprintf(p->deleted_retention, sizeof p->deleted_retention, "%lld",
	    (long long)job->d->conf.calendar_deleted_retention_sec);
	job->state = p;
	prune_batch(job);
}

static void
prune_discard(struct job *job)
{
	free(job->state);
	job->state = NULL;
}

const struct job_kind job_prune_kind = {
	.name = "prune",
	.start = prune_start,
	/*
	 * No cancel: a batch in flight cannot be stopped from here; at
	 * shutdown the lease is released and the query's answer dropped.
	 */
	.cancel = NULL,
	.discard = prune_discard,
};
