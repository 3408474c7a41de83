/* SPDX-License-Identifier: ISC */
/*
 * calsync: brings one connection's primary Google Calendar into the CRM.
 *
 * With a sync token it asks for what changed since; without one (first
 * sync, or Google answered 410 fullSyncRequired) it lists everything from
 * calendar.window back, and at the end removes what Google no longer has.
 * Every page goes, as Google sent it, to rally.cal_apply_page, which
 * applies it in one transaction with the sync token of the last page: a
 * crash repeats pages, which are idempotent, and never skips one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"
#include "urlenc.h"
#include "uuid.h"

#define CALSYNC_SQL_STATE \
	"SELECT s.calendar_sync_token, s.full_sync_required" \
	" FROM rally.sync_state s JOIN rally.google_connections c" \
	"  ON c.tenant_id = s.tenant_id AND c.id = s.connection_id" \
	" WHERE s.tenant_id = $1 AND s.connection_id = $2" \
	"  AND s.resource = 'calendar' AND c.status = 'active' AND c.calendar_enabled"

#define CALSYNC_SQL_START_FULL \
	"UPDATE rally.sync_state SET full_sync_started_at = now()," \
	"  calendar_sync_token = NULL, full_sync_required = true" \
	" WHERE tenant_id = $1 AND connection_id = $2 AND resource = 'calendar'" \
	" RETURNING full_sync_started_at"

#define CALSYNC_SQL_APPLY \
	"SELECT rally.cal_apply_page($1, $2, $3::jsonb, $4::timestamptz)"

#define CALSYNC_SQL_ERROR \
	"UPDATE rally.sync_state SET last_error = $3, last_error_kind = $4," \
	"  last_error_at = now(), consecutive_errors = consecutive_errors + 1," \
	"  lag_seconds = extract(epoch FROM now() - coalesce(last_success_at, now()))::int" \
	" WHERE tenant_id = $1 AND connection_id = $2 AND resource = 'calendar'"

struct calsync {
	struct job *job;
	char *conn;
	char *sync_token;	/* NULL: full sync */
	char *full_started;	/* timestamptz of the full sync's start */
	char *page_token;
	char time_min[32];	/* fixed for a full sync: pages must repeat the query */
	bool restarted;		/* a 410 already turned this into a full sync */
	int pages;
	int64_t counts[9];
};

static const char *const count_names[] = {
	"applied", "unchanged", "deleted", "ignored", "conflict", "skipped", "swept",
	"merged", "one_by_one",
};

static void calsync_fetch(struct calsync *);
static void calsync_start_full(struct calsync *);

static void
calsync_free(struct calsync *cs)
{
	free(cs->conn);
	free(cs->sync_token);
	free(cs->full_started);
	free(cs->page_token);
	free(cs);
}

static void
calsync_finish(struct calsync *cs, enum job_outcome outcome, const char *error)
{
	struct job *job = cs->job;
	json_object *result = NULL;

	if (outcome == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "mode",
		    json_object_new_string(cs->full_started ? "full" : "incremental"));
		json_object_object_add(result, "pages", json_object_new_int(cs->pages));
		for (size_t i = 0; i < nitems(count_names); i++)
			json_object_object_add(result, count_names[i],
			    json_object_new_int64(cs->counts[i]));
	}
	job->state = NULL;
	calsync_free(cs);
	job_finish(job, outcome, error, result);
}

static void
error_recorded_cb(const PGresult *res, const char *error, void *arg)
{
	/* Best effort: the job's own record carries the error anyway. */
}

/* Records a failure on the connection's sync state, then retries. */
static void
calsync_fail(struct calsync *cs, const char *kind, const char *message)
{
	char *msg = xasprintf("%s: %s", kind, message);
	const char *p[] = { cs->job->tenant_id, cs->conn, msg, kind };

	pgloop_query(cs->job->d->db, CALSYNC_SQL_ERROR, 4, p, error_recorded_cb, NULL);
	calsync_finish(cs, JOB_RETRY, msg);
	free(msg);
}

static void
apply_cb(const PGresult *res, const char *error, void *arg)
{
	struct calsync *cs = arg;
	json_object *r, *v;
	bool done;

	if (error != NULL) {
		/* A page PostgreSQL will not take as JSON is Google's fault. */
		calsync_fail(cs, strstr(error, "json") ? "malformed" : "database",
		    error);
		return;
	}
	r = json_tokener_parse(PQgetvalue(res, 0, 0));
	if (r == NULL) {
		calsync_fail(cs, "database", "unreadable page result");
		return;
	}
	cs->pages++;
	for (size_t i = 0; i < nitems(count_names); i++)
		if (json_object_object_get_ex(r, count_names[i], &v))
			cs->counts[i] += json_object_get_int64(v);
	if (json_object_object_get_ex(r, "gone", &v)) {
		json_object_put(r);
		calsync_finish(cs, JOB_DONE, NULL);	/* disconnected meanwhile */
		return;
	}
	free(cs->page_token);
	cs->page_token = NULL;
	if (json_object_object_get_ex(r, "next_page_token", &v) &&
	    json_object_is_type(v, json_type_string))
		cs->page_token = xstrdup(json_object_get_string(v));
	done = json_object_object_get_ex(r, "done", &v) &&
	    json_object_get_boolean(v);
	json_object_put(r);
	if (done) {
		calsync_finish(cs, JOB_DONE, NULL);
		return;
	}
	if (cs->page_token == NULL) {
		calsync_fail(cs, "malformed",
		    "a page with neither nextPageToken nor nextSyncToken");
		return;
	}
	calsync_fetch(cs);
}

static void
page_cb(const struct gresp *g, void *arg)
{
	struct calsync *cs = arg;
	const char *p[4];

	switch (g->err) {
	case GERR_OK:
		break;
	case GERR_GONE:
		if (cs->restarted || cs->sync_token == NULL) {
			calsync_fail(cs, gerr_kind(g->err), g->message);
			return;
		}
		/* The token expired: start over, and drop what Google dropped. */
		log_emit(LOG_INFO, NULL, &cs->job->log,
		    "calendar sync token of connection %s expired: full sync",
		    cs->conn);
		cs->restarted = true;
		calsync_start_full(cs);
		return;
	case GERR_REVOKED:
	case GERR_NOT_CONNECTED:
		calsync_finish(cs, JOB_DONE, NULL);	/* nothing to sync any more */
		return;
	default:
		job_defer(cs->job, g->retry_after_ms);
		calsync_fail(cs, gerr_kind(g->err), g->message);
		return;
	}
	p[0] = cs->job->tenant_id;
	p[1] = cs->conn;
	p[2] = g->body;
	p[3] = cs->full_started;
	pgloop_query(cs->job->d->db, CALSYNC_SQL_APPLY, 4, p, apply_cb, cs);
}

static void
append_param(char **url, const char *name, const char *value)
{
	char *esc = urlenc_escape(value), *next;

	next = xasprintf("%s&%s=%s", *url, name, esc);
	free(esc);
	free(*url);
	*url = next;
}

static void
calsync_fetch(struct calsync *cs)
{
	const struct conf *c = &cs->job->d->conf;
	char *url = xasprintf("%s/calendars/primary/events?maxResults=%lld",
	    c->google_calendar_url, (long long)c->calendar_page_size);

	if (cs->sync_token != NULL)
		append_param(&url, "syncToken", cs->sync_token);
	else {
		append_param(&url, "timeMin", cs->time_min);
		append_param(&url, "singleEvents", "false");
	}
	if (cs->page_token != NULL)
		append_param(&url, "pageToken", cs->page_token);
	google_call(cs->job->d, cs->job->tenant_id, cs->conn, "GET", url, NULL,
	    NULL, page_cb, cs);
	free(url);
}

static void
full_started_cb(const PGresult *res, const char *error, void *arg)
{
	struct calsync *cs = arg;

	if (error != NULL || PQntuples(res) != 1) {
		calsync_fail(cs, "database", error ? error : "no sync state");
		return;
	}
	free(cs->full_started);
	cs->full_started = xstrdup(PQgetvalue(res, 0, 0));
	calsync_fetch(cs);
}

static void
calsync_start_full(struct calsync *cs)
{
	const char *p[] = { cs->job->tenant_id, cs->conn };
	time_t t = time(NULL) - (time_t)cs->job->d->conf.calendar_window_sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(cs->time_min, sizeof cs->time_min, "%Y-%m-%dT%H:%M:%SZ", &tm);
	free(cs->sync_token);
	cs->sync_token = NULL;
	free(cs->page_token);
	cs->page_token = NULL;
	pgloop_query(cs->job->d->db, CALSYNC_SQL_START_FULL, 2, p,
	    full_started_cb, cs);
}

static void
state_cb(const PGresult *res, const char *error, void *arg)
{
	struct calsync *cs = arg;

	if (error != NULL) {
		calsync_fail(cs, "database", error);
		return;
	}
	if (PQntuples(res) == 0) {
		calsync_finish(cs, JOB_DONE, NULL);	/* disconnected */
		return;
	}
	if (!PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 1), "f") == 0) {
		cs->sync_token = xstrdup(PQgetvalue(res, 0, 0));
		calsync_fetch(cs);
	} else
		calsync_start_full(cs);
}

static void
calsync_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);
	struct calsync *cs;
	const char *p[2];

	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	cs = xcalloc(1, sizeof *cs);
	cs->job = job;
	cs->conn = xstrdup(conn);
	job->state = cs;
	job_set_connection(job, cs->conn);
	p[0] = job->tenant_id;
	p[1] = cs->conn;
	pgloop_query(job->d->db, CALSYNC_SQL_STATE, 2, p, state_cb, cs);
}

const struct job_kind job_calsync_kind = {
	.name = "calsync",
	.start = calsync_start,
	/* A call or query in flight finishes on its own; at shutdown the lease
	 * is released and the sync repeats from its last committed page. */
	.cancel = NULL,
};
