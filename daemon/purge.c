/* SPDX-License-Identifier: ISC */
/* purge: the loop the purge job kinds share (purge.h). */
#include "config.h"

#include <stdlib.h>

#include "google.h"
#include "jobs.h"
#include "pgloop.h"
#include "purge.h"
#include "rallyd.h"
#include "util.h"
#include "uuid.h"

struct purge {
	const struct purge_kind *kind;
	char *conn;		/* what the payload names: a connection, a ledger entry */
	long rows;
	int batches;
};

static void purge_batch(struct job *);

void
purge_discard(struct job *job)
{
	struct purge *p = job->state;

	if (p == NULL)
		return;
	free(p->conn);
	free(p);
	job->state = NULL;
}

static void
purge_done(struct job *job, enum job_outcome o, const char *error)
{
	struct purge *p = job->state;
	json_object *result = NULL;

	if (o == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "rows", json_object_new_int64(p->rows));
		json_object_object_add(result, "batches",
		    json_object_new_int(p->batches));
	}
	purge_discard(job);
	job_finish(job, o, error, result);
}

static void
batch_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	struct purge *p = job->state;
	long n;

	if (error != NULL) {
		purge_done(job, JOB_RETRY, error);
		return;
	}
	n = atol(PQgetvalue(res, 0, 0));
	if (n < 0) {
		purge_done(job, JOB_FAIL, p->kind->still_on);
		return;
	}
	p->rows += n;
	p->batches++;
	if (n > 0)
		purge_batch(job);
	else
		purge_done(job, JOB_DONE, NULL);
}

static void
purge_batch(struct job *job)
{
	struct purge *p = job->state;
	const char *params[] = { job->tenant_id, p->conn };

	pgloop_query(job->d->db, p->kind->batch_sql, 2, params, batch_cb, job);
}

static void
stopped_cb(const struct gresp *g, void *arg)
{
	/* Stopped, unknown to Google, or no token left: purge either way. */
	(void)g;
	purge_batch(arg);
}

static void
channel_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	struct purge *p = job->state;
	json_object *body = NULL;
	char *url;

	if (error != NULL || PQntuples(res) == 0) {
		purge_batch(job);
		return;
	}
	url = p->kind->stop(job, res, &body);
	google_call(job->d, job->tenant_id, p->conn, "POST", url, body, NULL,
	    stopped_cb, job);
	json_object_put(body);
	free(url);
}

void
purge_start(struct job *job, const struct purge_kind *kind)
{
	const char *key = kind->payload_key != NULL ? kind->payload_key :
	    "connection_id";
	char buf[UUID_STR_LEN], *why;
	const char *id = job_payload_uuid(job, key, buf);
	struct purge *p;
	const char *params[2];

	if (id == NULL) {
		why = xasprintf("payload: %s is not a uuid", key);
		job_finish(job, JOB_FAIL, why, NULL);
		free(why);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->kind = kind;
	p->conn = xstrdup(id);
	job->state = p;
	if (kind->channel_sql == NULL) {
		purge_batch(job);
		return;
	}
	job_set_connection(job, p->conn);
	params[0] = job->tenant_id;
	params[1] = p->conn;
	pgloop_query(job->d->db, kind->channel_sql, 2, params, channel_cb, job);
}
