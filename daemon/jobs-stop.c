/* SPDX-License-Identifier: ISC */
/*
 * A graceful stop of the lease engine: running jobs get up to
 * daemon.shutdown_timeout to finish; then those that can be are cancelled
 * and every job this process still holds is handed back (its attempt kept,
 * not counted), as are the jobs of a claim that was in flight when the
 * stop began; last, the instance unregisters and rallyd exits.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "jobs-int.h"
#include "jobs-sql.h"
#include "jobs.h"
#include "log.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"

static void
unregister_cb(const PGresult *res, const char *error, void *arg)
{
	struct jobs *e = arg;

	rallyd_exit(e->d, 0);
}

static void
release_cb(const PGresult *res, const char *error, void *arg)
{
	struct jobs *e = arg;
	const char *params[] = { e->d->instance };

	if (error != NULL)
		log_warnx("could not release job leases at shutdown (they "
		    "expire by themselves): %s", error);
	else if (res != NULL && PQcmdTuples((PGresult *)res)[0] != '0')
		log_info("released %s job lease(s) for other instances",
		    PQcmdTuples((PGresult *)res));
	pgloop_query(e->d->db, JOBS_SQL_UNREGISTER, 1, params, unregister_cb, e);
}

/*
 * Hands back the jobs in ids ("{1,2}"), their attempts kept and not
 * counted; cb is called at once when there is nothing to hand back.
 */
static void
hand_back(struct jobs *e, const char *ids, pgloop_result_cb cb)
{
	char max[24];
	const char *params[] = { e->d->instance, ids, max };

	if (ids == NULL || strcmp(ids, "{}") == 0 || !pgloop_connected(e->d->db)) {
		cb(NULL, NULL, e);
		return;
	}
	snprintf(max, sizeof max, "%lld", (long long)e->d->conf.max_attempts);
	pgloop_query(e->d->db, JOBS_SQL_RELEASE, 3, params, cb, e);
}

/*
 * The last step of a graceful stop: hand back the jobs in ids (those not
 * finished when the shutdown timeout struck; NULL for none), then leave.
 */
void
jobs_release_and_exit(struct jobs *e, char *ids)
{
	if (e->releasing) {
		free(ids);
		return;
	}
	if (e->claiming) {
		/* Its rows are handed back first (claim_cb), then this. */
		free(e->exit_ids);
		e->exit_ids = ids != NULL ? ids : xstrdup("{}");
		return;
	}
	e->releasing = true;
	if (!pgloop_connected(e->d->db)) {
		free(ids);
		rallyd_exit(e->d, 0);
		return;
	}
	hand_back(e, ids, release_cb);
	free(ids);
}

void
jobs_shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *e = arg;
	struct job *job, *next;
	char *ids = jobs_held_ids(e, true);

	log_notice("shutdown timeout: cancelling %u running job(s)", e->nrunning);
	for (job = e->running; job != NULL; job = next) {
		next = job->next;
		/*
		 * A finished job's final update is queued before the release;
		 * a job that cannot be cancelled keeps its memory until exit,
		 * when pgloop drops its query without calling back and its
		 * kind's discard frees it.
		 */
		if (job->finished || job->kind->cancel == NULL)
			continue;
		job->kind->cancel(job);
		jobs_unlink(e, job);
		jobs_job_free(job);
	}
	jobs_release_and_exit(e, ids);
}

static void
handed_back_cb(const PGresult *res, const char *error, void *arg)
{
	struct jobs *e = arg;
	char *ids = e->exit_ids;

	if (error != NULL)
		log_warnx("could not hand back jobs claimed while stopping (their "
		    "leases expire by themselves): %s", error);
	if (ids != NULL) {
		e->exit_ids = NULL;
		jobs_release_and_exit(e, ids);
	}
}

/*
 * A claim that was in flight when the stop began: its jobs are not
 * started but handed back at once, like those released at shutdown.
 */
void
jobs_hand_back_claimed(struct jobs *e, const PGresult *res)
{
	char *ids = xstrdup("{}");

	for (int i = 0; res != NULL && i < PQntuples(res); i++)
		ids = jobs_ids_append(ids, PQgetvalue(res, i, 1));
	hand_back(e, ids, handed_back_cb);
	free(ids);
}

void
jobs_stop(struct jobs *e)
{
	struct timeval tv = { (long)e->d->conf.shutdown_timeout_sec, 0 };

	if (e->stopping)
		return;
	e->stopping = true;
	event_del(e->ev_wake);
	if (e->nrunning == 0) {
		jobs_release_and_exit(e, NULL);
		return;
	}
	log_notice("waiting up to %lld s for %u running job(s)",
	    (long long)e->d->conf.shutdown_timeout_sec, e->nrunning);
	evtimer_add(e->ev_shutdown, &tv);
}
