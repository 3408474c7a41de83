/* SPDX-License-Identifier: ISC */
/*
 * jobs: the lease engine.  Work lives in rally.jobs; any number of rallyd
 * instances claim due jobs with FOR UPDATE SKIP LOCKED and a lease, extend
 * the lease while a job runs (one heartbeat statement for all of them), and
 * record each attempt in rally.job_runs.  A job whose owner died is taken
 * over once its lease expires.  New work arrives by NOTIFY on "rally_jobs";
 * between notifications the engine sleeps until the next due run_at or lease
 * expiry, so there is no busy polling.
 *
 * A job kind is a table entry (jobs-kinds.c) with an asynchronous start
 * function; the handler reports its end exactly once with job_finish().
 */
#ifndef RALLYD_JOBS_H
#define RALLYD_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "log.h"

struct rallyd;
struct job;

enum job_outcome {
	JOB_DONE,	/* finished; result may be stored */
	JOB_RETRY,	/* failed this time: back off, try again up to max */
	JOB_FAIL,	/* permanent failure: no more attempts */
};

struct job_kind {
	const char *name;
	/* Starts the work; must not block.  Calls job_finish() later. */
	void (*start)(struct job *);
	/* Stops the work at shutdown; job_finish() must not be called after. */
	void (*cancel)(struct job *);
	/*
	 * For a kind that cannot cancel: frees its state at exit, when a
	 * second SIGTERM left the job waiting on a query or a call that the
	 * stopped loop drops without calling back.
	 */
	void (*discard)(struct job *);
};

struct job {
	struct jobs *engine;
	struct rallyd *d;
	const struct job_kind *kind;
	char *tenant_id;
	char *id;		/* decimal, as the database returns it */
	char *kind_name;
	json_object *payload;
	int attempt;		/* 1 for the first run */
	int max_attempts;
	struct log_ctx log;	/* tenant, job and connection, for log_emit */
	char *connection_id;	/* set by job_set_connection(); may be NULL */
	void *state;		/* the handler's own */
	bool finished;
	double retry_not_before;	/* seconds from the end; 0: backoff only */
	/* The statement that records the end, kept until it succeeds. */
	const char *end_sql;
	char *end_params[6];
	int end_nparams;
	bool end_waiting;	/* the database was down: replay on reconnect */
	bool end_replayed;	/* the end is being sent again */
	struct job *next;	/* the engine's list of running jobs */
};

struct jobs *jobs_new(struct rallyd *);
void jobs_free(struct jobs *);
/* The database (re)connected: claim what is due, including missed work. */
void jobs_connected(struct jobs *);
/* A NOTIFY on rally_jobs arrived. */
void jobs_wake(struct jobs *);
/* A string member of the job's payload, or NULL when absent or not a string. */
const char *job_payload_string(const struct job *, const char *key);
/*
 * A uuid member of the payload in canonical form (lib/uuid), written into
 * out (UUID_STR_LEN bytes); NULL when absent, not a string or not a uuid.
 */
const char *job_payload_uuid(const struct job *, const char *key, char *out);
/* Records the Google connection a job works for (copied; logged). */
void job_set_connection(struct job *, const char *connection_id);
/*
 * The next attempt, should this one end in JOB_RETRY, starts no earlier
 * than ms from now (a server's Retry-After); ms < 0 is ignored.
 */
void job_defer(struct job *, long ms);
/* Ends a job: outcome, an error for RETRY/FAIL, an optional result (taken). */
void job_finish(struct job *, enum job_outcome, const char *error,
    json_object *result);
/*
 * Stops claiming; in-flight jobs finish, or after the shutdown timeout are
 * cancelled and their leases released.  Calls rallyd_exit() when done.
 */
void jobs_stop(struct jobs *);
unsigned jobs_running(const struct jobs *);
long jobs_backlog(const struct jobs *);	/* due pending jobs, last counted */
/* Applies a reloaded configuration (concurrency, lease, retries). */
void jobs_reconfigure(struct jobs *);

/* The table of job kinds (jobs-kinds.c). */
const struct job_kind *job_kind_find(const char *name);

#endif
