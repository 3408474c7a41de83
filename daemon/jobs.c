/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "jobs-int.h"
#include "jobs-sql.h"
#include "jobs.h"
#include "log.h"
#include "msgid.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"
#include "uuid.h"

/* Sleep between attempts when the claim query itself failed. */
#define CLAIM_ERROR_DELAY_SEC 5

static void claim(struct jobs *);

void
jobs_job_free(struct job *job)
{
	if (job == NULL)
		return;
	for (int i = 0; i < job->end_nparams; i++)
		free(job->end_params[i]);
	json_object_put(job->payload);
	free(job->connection_id);
	free(job->tenant_id);
	free(job->id);
	free(job->kind_name);
	free(job);
}

void
jobs_unlink(struct jobs *e, struct job *job)
{
	struct job **pp;

	for (pp = &e->running; *pp != NULL; pp = &(*pp)->next)
		if (*pp == job) {
			*pp = job->next;
			e->nrunning--;
			return;
		}
}

/*
 * The ids of the jobs this process holds, as a PostgreSQL array ("{1,2}"):
 * the only leases it extends or hands back.  Finished jobs whose end is
 * not recorded yet are still held.
 */
char *
jobs_held_ids(const struct jobs *e, bool unfinished_only)
{
	char *ids = xstrdup("{}");
	const struct job *job;

	for (job = e->running; job != NULL; job = job->next)
		if (!unfinished_only || !job->finished)
			ids = jobs_ids_append(ids, job->id);
	return ids;
}

char *
jobs_ids_append(char *ids, const char *id)
{
	size_t n = strlen(ids);
	char *s = xasprintf("%.*s%s%s}", (int)(n - 1), ids, n > 2 ? "," : "",
	    id);

	free(ids);
	return s;
}

static void
after_job(struct jobs *e)
{
	rallyd_update_status(e->d);
	if (e->stopping) {
		if (e->nrunning == 0) {
			event_del(e->ev_shutdown);
			jobs_release_and_exit(e, NULL);
		}
		return;
	}
	claim(e);
}

static void finish_cb(const PGresult *, const char *, void *);

static void
send_end(struct job *job)
{
	job->end_waiting = false;
	pgloop_query(job->d->db, job->end_sql, job->end_nparams,
	    (const char *const *)job->end_params, finish_cb, job);
}

static void
finish_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	struct jobs *e = job->engine;

	if (error != NULL && !pgloop_connected(e->d->db) && !e->releasing) {
		/*
		 * Held, and its lease kept by the heartbeats, until the end is
		 * recorded after reconnecting: dropping it would leave a
		 * finished job 'running' until its lease lapsed.
		 */
		log_emit(LOG_WARNING, NULL, &job->log, "job %s (%s): could not "
		    "record its end, will retry once reconnected: %s", job->id,
		    job->kind_name, error);
		job->end_waiting = job->end_replayed = true;
		return;
	}
	if (error != NULL)
		log_emit(LOG_WARNING, NULL, &job->log, "job %s (%s): could not "
		    "record its end, its lease will expire: %s", job->id,
		    job->kind_name, error);
	else if (PQntuples(res) == 0 && job->end_replayed)
		/* The first try may have committed before its answer was lost. */
		log_emit(LOG_DEBUG, NULL, &job->log, "job %s (%s): its end was "
		    "already recorded, or another instance took it over",
		    job->id, job->kind_name);
	else if (PQntuples(res) == 0)
		log_emit(LOG_WARNING, NULL, &job->log, "job %s (%s): lease lost "
		    "before it finished; another instance owns it now",
		    job->id, job->kind_name);
	jobs_unlink(e, job);
	jobs_job_free(job);
	after_job(e);
}

/* Delay before attempt n+1: base * 2^(n-1), capped, with equal jitter. */
static double
retry_delay(const struct conf *c, int attempt)
{
	double d = (double)c->retry_base_sec;

	for (int i = 1; i < attempt && d < (double)c->retry_max_sec; i++)
		d *= 2;
	if (d > (double)c->retry_max_sec)
		d = (double)c->retry_max_sec;
	return d / 2 + random_unit() * d / 2;
}

void
job_finish(struct job *job, enum job_outcome outcome, const char *error,
    json_object *result)
{
	struct jobs *e = job->engine;
	const struct conf *c = &e->d->conf;
	char attempt[16], delay[32];
	const char *p[6] = { job->tenant_id, job->id, e->d->instance, attempt };
	const char *sql;
	double wait;
	int np;

	if (job->finished)
		fatalx("job %s finished twice", job->id);
	job->finished = true;
	snprintf(attempt, sizeof attempt, "%d", job->attempt);
	if (outcome == JOB_RETRY && job->attempt >= job->max_attempts)
		outcome = JOB_FAIL;
	switch (outcome) {
	case JOB_DONE:
		sql = JOBS_SQL_DONE;
		p[4] = result != NULL ? json_object_to_json_string(result) : NULL;
		break;
	case JOB_RETRY:
		wait = retry_delay(c, job->attempt);
		if (wait < job->retry_not_before)
			wait = job->retry_not_before;
		snprintf(delay, sizeof delay, "%.3f", wait);
		sql = JOBS_SQL_RETRY;
		p[4] = error;
		p[5] = delay;
		log_emit(LOG_NOTICE, MSGID_JOB_RETRY, &job->log, "job %s (%s) "
		    "attempt %d/%d failed, retrying in %s s: %s", job->id,
		    job->kind_name, job->attempt, job->max_attempts, delay, error);
		break;
	default:
		sql = JOBS_SQL_FAIL;
		p[4] = error;
		log_emit(LOG_ERR, MSGID_JOB_FAILED, &job->log, "job %s (%s) "
		    "failed after %d attempt(s): %s", job->id, job->kind_name,
		    job->attempt, error);
		break;
	}
	np = outcome == JOB_RETRY ? 6 : 5;
	job->end_sql = sql;
	job->end_nparams = np;
	for (int i = 0; i < np; i++)
		job->end_params[i] = p[i] != NULL ? xstrdup(p[i]) : NULL;
	json_object_put(result);
	send_end(job);
}

static struct job *
job_from_row(struct jobs *e, const PGresult *res, int row)
{
	struct job *job = xcalloc(1, sizeof *job);

	job->engine = e;
	job->d = e->d;
	job->tenant_id = xstrdup(PQgetvalue(res, row, 0));
	job->id = xstrdup(PQgetvalue(res, row, 1));
	job->kind_name = xstrdup(PQgetvalue(res, row, 2));
	job->payload = json_tokener_parse(PQgetvalue(res, row, 3));
	if (job->payload == NULL)
		job->payload = json_object_new_object();
	job->attempt = atoi(PQgetvalue(res, row, 4));
	job->max_attempts = atoi(PQgetvalue(res, row, 5));
	job->log.tenant = job->tenant_id;
	job->log.job = job->id;
	job->kind = job_kind_find(job->kind_name);
	return job;
}

static void
start_job(struct jobs *e, const PGresult *res, int row)
{
	struct job *job = job_from_row(e, res, row);

	job->next = e->running;
	e->running = job;
	e->nrunning++;
	if (strcmp(PQgetvalue(res, row, 6), "running") == 0)
		log_emit(LOG_NOTICE, MSGID_JOB_LEASE_EXPIRED, &job->log,
		    "job %s (%s): took over from %s, whose lease expired",
		    job->id, job->kind_name, PQgetvalue(res, row, 7));
	if (job->attempt > job->max_attempts) {
		job_finish(job, JOB_FAIL, "gave up: its runs kept ending "
		    "without finishing (leases expired)", NULL);
		return;
	}
	if (job->kind == NULL) {
		/* Perhaps a newer instance knows it: retry rather than drop. */
		job_finish(job, JOB_RETRY, "unknown job kind", NULL);
		return;
	}
	log_emit(LOG_DEBUG, NULL, &job->log, "job %s (%s) started, attempt %d",
	    job->id, job->kind_name, job->attempt);
	job->kind->start(job);
}

static void
set_wake(struct jobs *e, double sec)
{
	struct timeval tv;
	double max = (double)e->d->conf.safety_poll_sec;

	if (sec > max)
		sec = max;
	if (sec < 0.01)
		sec = 0.01;
	tv.tv_sec = (long)sec;
	tv.tv_usec = (long)((sec - (double)tv.tv_sec) * 1e6);
	evtimer_add(e->ev_wake, &tv);
}

static void
next_cb(const PGresult *res, const char *error, void *arg)
{
	struct jobs *e = arg;

	if (error != NULL) {
		set_wake(e, CLAIM_ERROR_DELAY_SEC);
		return;
	}
	e->backlog = atol(PQgetvalue(res, 0, 1));
	if (PQgetisnull(res, 0, 0))
		set_wake(e, (double)e->d->conf.safety_poll_sec);
	else
		set_wake(e, atof(PQgetvalue(res, 0, 0)));
	rallyd_update_status(e->d);
}

static void
schedule_next_wake(struct jobs *e)
{
	char *ids = jobs_held_ids(e, false);
	const char *params[] = { ids };

	pgloop_query(e->d->db, JOBS_SQL_NEXT, 1, params, next_cb, e);
	free(ids);
}

static void
claim_cb(const PGresult *res, const char *error, void *arg)
{
	struct jobs *e = arg;
	int n;

	e->claiming = false;
	if (e->stopping) {
		jobs_hand_back_claimed(e, error == NULL ? res : NULL);
		return;
	}
	if (error != NULL) {
		if (pgloop_connected(e->d->db))
			log_warnx("claiming jobs failed: %s", error);
		set_wake(e, CLAIM_ERROR_DELAY_SEC);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		start_job(e, res, i);
	if (e->claim_again || (n > 0 && e->nrunning < e->d->conf.concurrency)) {
		e->claim_again = false;
		claim(e);
	} else
		schedule_next_wake(e);
	rallyd_update_status(e->d);
}

static void
claim(struct jobs *e)
{
	char limit[24], lease[24], max[24];
	const char *params[] = { e->d->instance, limit, lease, max };
	long room = (long)e->d->conf.concurrency - (long)e->nrunning;

	if (e->stopping || !pgloop_connected(e->d->db))
		return;
	if (e->claiming) {
		e->claim_again = true;
		return;
	}
	if (room <= 0)
		return; /* a finishing job claims again */
	snprintf(limit, sizeof limit, "%ld", room);
	snprintf(lease, sizeof lease, "%lld", (long long)e->d->conf.lease_sec);
	snprintf(max, sizeof max, "%lld", (long long)e->d->conf.max_attempts);
	e->claiming = true;
	pgloop_query(e->d->db, JOBS_SQL_CLAIM, 4, params, claim_cb, e);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	claim(arg);
}

static void
heartbeat_done_cb(const PGresult *res, const char *error, void *arg)
{
	if (error != NULL)
		log_warnx("heartbeat failed: %s", error);
}

static void
heartbeat(struct jobs *e)
{
	char lease[24], pid[24], nrun[24];
	char *ids = jobs_held_ids(e, false);
	const char *params[] = { e->d->instance, lease, e->host, pid,
		PACKAGE_VERSION, nrun, ids };

	snprintf(lease, sizeof lease, "%lld", (long long)e->d->conf.lease_sec);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	snprintf(nrun, sizeof nrun, "%u", e->nrunning);
	pgloop_query(e->d->db, JOBS_SQL_HEARTBEAT, 7, params, heartbeat_done_cb,
	    e);
	free(ids);
}

static void
heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *e = arg;

	if (!pgloop_connected(e->d->db))
		return;
	heartbeat(e);
	if (!e->claiming && !e->stopping)
		schedule_next_wake(e);
}

static void
arm_heartbeat(struct jobs *e)
{
	/* Three beats per lease: one lost beat never costs a lease. */
	long ms = (long)(e->d->conf.lease_sec * 1000 / 3);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_del(e->ev_heartbeat);
	event_add(e->ev_heartbeat, &tv);
}

struct jobs *
jobs_new(struct rallyd *d)
{
	struct jobs *e = xcalloc(1, sizeof *e);

	e->d = d;
	if (gethostname(e->host, sizeof e->host) == -1)
		snprintf(e->host, sizeof e->host, "unknown");
	e->host[sizeof e->host - 1] = '\0';
	e->ev_wake = evtimer_new(d->base, wake_cb, e);
	e->ev_heartbeat = event_new(d->base, -1, EV_PERSIST, heartbeat_cb, e);
	e->ev_shutdown = evtimer_new(d->base, jobs_shutdown_cb, e);
	arm_heartbeat(e);
	return e;
}

void
jobs_free(struct jobs *e)
{
	struct job *job;

	if (e == NULL)
		return;
	while ((job = e->running) != NULL) {
		e->running = job->next;
		if (!job->finished && job->kind != NULL) {
			if (job->kind->cancel != NULL)
				job->kind->cancel(job);
			else if (job->kind->discard != NULL)
				job->kind->discard(job);
		}
		jobs_job_free(job);
	}
	event_free(e->ev_wake);
	event_free(e->ev_heartbeat);
	event_free(e->ev_shutdown);
	free(e->exit_ids);
	free(e);
}

void
jobs_connected(struct jobs *e)
{
	struct job *job;

	heartbeat(e);
	for (job = e->running; job != NULL; job = job->next)
		if (job->end_waiting)
			send_end(job);
	/* Whatever was queued or expired while we were away is claimed now. */
	claim(e);
}

void
jobs_wake(struct jobs *e)
{
	claim(e);
}

unsigned
jobs_running(const struct jobs *e)
{
	return e->nrunning;
}

long
jobs_backlog(const struct jobs *e)
{
	return e->backlog;
}

void
jobs_reconfigure(struct jobs *e)
{
	arm_heartbeat(e);
	claim(e);
}
