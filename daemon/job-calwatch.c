/* SPDX-License-Identifier: ISC */
/*
 * calwatch: opens (or renews) the push channel of one connection's
 * calendar, so Google tells rally.cgi's /hooks/google/calendar about
 * changes within seconds; polling (calendar.poll_interval) stays as the
 * fallback.  The channel token is a fresh random secret; only its SHA-256
 * is stored, which is what the hook compares.  The channel it replaces is
 * stopped once the new one is recorded.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "google.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"
#include "uuid.h"

#define CALWATCH_SQL_RECORD \
	"WITH old AS (SELECT channel_id, channel_resource_id FROM rally.sync_state" \
	"   WHERE tenant_id = $1 AND connection_id = $2 AND resource = 'calendar')" \
	" UPDATE rally.sync_state s SET channel_id = $3, channel_resource_id = $4," \
	"  channel_token_hash = sha256(convert_to($5, 'UTF8'))," \
	"  channel_expires_at = to_timestamp($6::float8 / 1000), updated_at = now()" \
	" FROM old WHERE s.tenant_id = $1 AND s.connection_id = $2" \
	"  AND s.resource = 'calendar'" \
	" RETURNING old.channel_id, old.channel_resource_id"

/* A watch answer is one flat channel object of a few hundred bytes. */
#define CALWATCH_ANSWER_MAX (16u << 10)
#define CALWATCH_ANSWER_DEPTH 4

struct calwatch {
	struct job *job;
	char *conn;
	char channel[40];
	char *token;
	char *result_id;	/* the channel Google confirmed */
};

static void
calwatch_discard(struct job *job)
{
	struct calwatch *w = job->state;

	if (w == NULL)
		return;
	if (w->token != NULL)
		secure_free(w->token, strlen(w->token));
	free(w->result_id);
	free(w->conn);
	free(w);
	job->state = NULL;
}

static void
calwatch_finish(struct calwatch *w, enum job_outcome o, const char *error)
{
	struct job *job = w->job;
	json_object *result = NULL;

	if (o == JOB_DONE && w->result_id != NULL) {
		result = json_object_new_object();
		json_object_object_add(result, "channel_id",
		    json_object_new_string(w->result_id));
	}
	calwatch_discard(job);
	job_finish(job, o, error, result);
}

static void
stopped_cb(const struct gresp *g, void *arg)
{
	struct calwatch *w = arg;

	/* An old channel Google forgot already is as good as stopped. */
	if (g->err != GERR_OK && g->err != GERR_NOT_FOUND)
		log_emit(LOG_INFO, NULL, &w->job->log,
		    "could not stop the replaced calendar channel: %s", g->message);
	calwatch_finish(w, JOB_DONE, NULL);
}

static void
recorded_cb(const PGresult *res, const char *error, void *arg)
{
	struct calwatch *w = arg;
	json_object *body;
	char *url;

	if (error != NULL || PQntuples(res) == 0) {
		calwatch_finish(w, JOB_RETRY, error ? error : "sync state is gone");
		return;
	}
	if (PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1)) {
		calwatch_finish(w, JOB_DONE, NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "id", json_object_new_string(PQgetvalue(res, 0, 0)));
	json_object_object_add(body, "resourceId",
	    json_object_new_string(PQgetvalue(res, 0, 1)));
	url = xasprintf("%s/channels/stop", w->job->d->conf.google_calendar_url);
	google_call(w->job->d, w->job->tenant_id, w->conn, "POST", url, body, NULL,
	    stopped_cb, w);
	json_object_put(body);
	free(url);
}

static void
watched_cb(const struct gresp *g, void *arg)
{
	struct calwatch *w = arg;
	json_object *r, *id, *res, *exp;
	char expiration[32];
	const char *p[6];

	if (g->err != GERR_OK) {
		char *msg = xasprintf("%s: %s", gerr_kind(g->err), g->message);

		job_defer(w->job, g->retry_after_ms);
		calwatch_finish(w, g->err == GERR_REVOKED ||
		    g->err == GERR_NOT_CONNECTED ? JOB_FAIL : JOB_RETRY, msg);
		free(msg);
		return;
	}
	r = json_parse_limited(g->body, g->body_len, CALWATCH_ANSWER_MAX,
	    CALWATCH_ANSWER_DEPTH, NULL);
	if (r == NULL || !json_object_object_get_ex(r, "id", &id) ||
	    !json_object_object_get_ex(r, "resourceId", &res) ||
	    !json_object_object_get_ex(r, "expiration", &exp)) {
		json_object_put(r);
		calwatch_finish(w, JOB_RETRY, "malformed: watch answer lacks fields");
		return;
	}
	/* Google sends expiration as a string of milliseconds. */
	snprintf(expiration, sizeof expiration, "%lld",
	    (long long)json_object_get_int64(exp));
	w->result_id = xstrdup(json_object_get_string(id));
	p[0] = w->job->tenant_id;
	p[1] = w->conn;
	p[2] = w->result_id;
	p[3] = json_object_get_string(res);
	p[4] = w->token;
	p[5] = expiration;
	pgloop_query(w->job->d->db, CALWATCH_SQL_RECORD, 6, p, recorded_cb, w);
	json_object_put(r);
}

static void
make_channel_id(char out[40])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";

	random_bytes(b, sizeof b);
	memcpy(out, "rally-", 6);
	for (int i = 0; i < 16; i++) {
		out[6 + 2 * i] = hex[b[i] >> 4];
		out[7 + 2 * i] = hex[b[i] & 15];
	}
	out[38] = '\0';
}

static void
calwatch_start(struct job *job)
{
	const struct conf *c = &job->d->conf;
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);
	struct calwatch *w;
	json_object *body, *params;
	unsigned char secret[32];
	char *url, *address, ttl[24];

	if (c->calendar_push_url[0] == '\0') {
		job_finish(job, JOB_DONE, NULL, NULL);	/* polling only */
		return;
	}
	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->job = job;
	w->conn = xstrdup(conn);
	job->state = w;
	job_set_connection(job, w->conn);
	make_channel_id(w->channel);
	random_bytes(secret, sizeof secret);
	w->token = b64url_encode(secret, sizeof secret);

	address = xasprintf("%s/hooks/google/calendar", c->calendar_push_url);
	snprintf(ttl, sizeof ttl, "%lld", (long long)c->calendar_channel_ttl_sec);
	body = json_object_new_object();
	params = json_object_new_object();
	json_object_object_add(params, "ttl", json_object_new_string(ttl));
	json_object_object_add(body, "id", json_object_new_string(w->channel));
	json_object_object_add(body, "type", json_object_new_string("web_hook"));
	json_object_object_add(body, "address", json_object_new_string(address));
	json_object_object_add(body, "token", json_object_new_string(w->token));
	json_object_object_add(body, "params", params);
	url = xasprintf("%s/calendars/primary/events/watch", c->google_calendar_url);
	google_call(job->d, job->tenant_id, w->conn, "POST", url, body, NULL,
	    watched_cb, w);
	json_object_put(body);
	free(url);
	free(address);
}

const struct job_kind job_calwatch_kind = {
	.name = "calwatch",
	.start = calwatch_start,
	.cancel = NULL,
	.discard = calwatch_discard,
};
