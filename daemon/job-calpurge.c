/* SPDX-License-Identifier: ISC */
/*
 * calpurge: after a calendar disconnect or a revoked grant, removes what
 * was synced from that connection's calendar, a batch at a time so no
 * lock is held long (rally.cal_purge_batch).  Activities created in the
 * CRM stay, detached from Google; events that came from Google go.
 *
 * First it stops the push channel at Google, which works while the
 * connection keeps a token (mail still on).  When the disconnect took the
 * last integration, the tokens were revoked at once, as promised, and the
 * channel cannot be stopped any more: its notifications are then refused
 * by the hook (the purge clears the channel's token hash) until it expires.
 *
 * The payload only names the connection: the purge happens, and the
 * channel is stopped, only when the database says that connection's
 * calendar is off or its grant revoked (rally.cal_purge_batch checks it).
 */
#include "config.h"

#include <stdlib.h>

#include "google.h"
#include "jobs.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"
#include "uuid.h"

#define CALPURGE_SQL "SELECT rally.cal_purge_batch($1, $2)"
#define CALPURGE_SQL_CHANNEL \
	"SELECT s.channel_id, s.channel_resource_id FROM rally.sync_state s" \
	" JOIN rally.google_connections c" \
	"  ON c.tenant_id = s.tenant_id AND c.id = s.connection_id" \
	" WHERE s.tenant_id = $1 AND s.connection_id = $2" \
	"  AND s.resource = 'calendar' AND s.channel_id IS NOT NULL" \
	"  AND s.channel_resource_id IS NOT NULL" \
	"  AND NOT (c.calendar_enabled AND c.status <> 'revoked')"

struct calpurge {
	char *conn;
	long touched;
};

static void calpurge_batch(struct job *);

static void
calpurge_done(struct job *job, enum job_outcome o, const char *error)
{
	struct calpurge *p = job->state;
	json_object *result = NULL;

	if (o == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "rows", json_object_new_int64(p->touched));
	}
	free(p->conn);
	free(p);
	job->state = NULL;
	job_finish(job, o, error, result);
}

static void
batch_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	struct calpurge *p = job->state;
	long n;

	if (error != NULL) {
		calpurge_done(job, JOB_RETRY, error);
		return;
	}
	n = atol(PQgetvalue(res, 0, 0));
	if (n < 0) {
		calpurge_done(job, JOB_FAIL, "the calendar of this connection is "
		    "still on: nothing purged");
		return;
	}
	p->touched += n;
	if (n > 0)
		calpurge_batch(job);
	else
		calpurge_done(job, JOB_DONE, NULL);
}

static void
calpurge_batch(struct job *job)
{
	struct calpurge *p = job->state;
	const char *params[] = { job->tenant_id, p->conn };

	pgloop_query(job->d->db, CALPURGE_SQL, 2, params, batch_cb, job);
}

static void
stopped_cb(const struct gresp *g, void *arg)
{
	/* Stopped, unknown to Google, or no token left: purge either way. */
	calpurge_batch(arg);
}

static void
channel_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	struct calpurge *p = job->state;
	json_object *body;
	char *url;

	if (error != NULL || PQntuples(res) == 0) {
		calpurge_batch(job);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "id", json_object_new_string(PQgetvalue(res, 0, 0)));
	json_object_object_add(body, "resourceId",
	    json_object_new_string(PQgetvalue(res, 0, 1)));
	url = xasprintf("%s/channels/stop", job->d->conf.google_calendar_url);
	google_call(job->d, job->tenant_id, p->conn, "POST", url, body, NULL,
	    stopped_cb, job);
	json_object_put(body);
	free(url);
}

static void
calpurge_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);
	struct calpurge *p;
	const char *params[2];

	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->conn = xstrdup(conn);
	job->state = p;
	job_set_connection(job, p->conn);
	params[0] = job->tenant_id;
	params[1] = p->conn;
	pgloop_query(job->d->db, CALPURGE_SQL_CHANNEL, 2, params, channel_cb, job);
}

const struct job_kind job_calpurge_kind = {
	.name = "calpurge",
	.start = calpurge_start,
	.cancel = NULL,
};
