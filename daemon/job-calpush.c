/* SPDX-License-Identifier: ISC */
/*
 * calpush: sends one activity's CRM edits to Google Calendar.
 *
 * A new activity is inserted under a client-chosen event id derived from
 * the activity id, so a retry after a crash between Google's answer and
 * our commit gets 409 and adopts the event instead of duplicating it.  An
 * edit is a patch with If-Match on the last etag; 412 means Google changed
 * too, and the two are merged field by field (rally.cal_merge) before the
 * patch is tried again.  A deletion is done when Google says the event is
 * gone (204, 404 or 410).
 *
 * The payload names only the activity; everything else comes from the
 * database.  A hard-deleted activity is deleted at Google only from the
 * tombstone its DELETE trigger wrote (the event and the connection it
 * lives in), never from what a job claims.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"
#include "urlenc.h"
#include "uuid.h"

/* A push racing with edits at Google gives up after this many merges. */
#define CALPUSH_MAX_MERGES 3

#define CALPUSH_SQL_LOAD \
	"SELECT a.connection_id, a.google_event_id, a.etag," \
	"  a.deleted_at IS NOT NULL, a.sync_state," \
	"  rally.cal_event_body(a) || jsonb_build_object('id', rally.cal_event_id(a.id))," \
	"  rally.cal_fields(a)" \
	" FROM rally.activities a WHERE a.tenant_id = $1 AND a.id = $2"

#define CALPUSH_SQL_TOMBSTONE \
	"SELECT connection_id::text, google_event_id FROM rally.activity_tombstones" \
	" WHERE tenant_id = $1 AND activity_id = $2"
#define CALPUSH_SQL_TOMBSTONE_DONE "SELECT rally.cal_tombstone_done($1, $2)"
#define CALPUSH_SQL_DONE "SELECT rally.cal_push_done($1, $2, $3::jsonb, $4::jsonb)"
#define CALPUSH_SQL_FORGET "SELECT rally.cal_forget($1, $2)"
#define CALPUSH_SQL_MERGE "SELECT rally.cal_merge_remote($1, $2, $3::jsonb)"
#define CALPUSH_SQL_ERROR \
	"UPDATE rally.activities SET sync_error = $3 WHERE tenant_id = $1 AND id = $2"

struct calpush {
	struct job *job;
	char *activity;
	char *conn;
	char *event_id;		/* Google's id, once known */
	char *etag;
	char *fields;		/* rally.cal_fields at load: what is being sent */
	json_object *body;
	bool deleted;		/* delete at Google, then forget the row */
	bool row_gone;		/* hard-deleted in the CRM: nothing to forget */
	int merges;
};

static void calpush_load(struct calpush *);

static void
calpush_discard(struct job *job)
{
	struct calpush *cp = job->state;

	if (cp == NULL)
		return;
	json_object_put(cp->body);
	free(cp->activity);
	free(cp->conn);
	free(cp->event_id);
	free(cp->etag);
	free(cp->fields);
	free(cp);
	job->state = NULL;
}

static void
calpush_finish(struct calpush *cp, enum job_outcome outcome, const char *error,
    const char *what)
{
	struct job *job = cp->job;
	json_object *result = NULL;

	if (outcome == JOB_DONE && what != NULL) {
		result = json_object_new_object();
		json_object_object_add(result, "outcome", json_object_new_string(what));
	}
	calpush_discard(job);
	job_finish(job, outcome, error, result);
}

static void
ignore_cb(const PGresult *res, const char *error, void *arg)
{
}

static void
calpush_fail(struct calpush *cp, const struct gresp *g)
{
	char *msg = xasprintf("%s: %s", gerr_kind(g->err), g->message);
	const char *p[] = { cp->job->tenant_id, cp->activity, msg };
	enum job_outcome o = JOB_RETRY;

	job_defer(cp->job, g->retry_after_ms);
	if (!cp->row_gone)
		pgloop_query(cp->job->d->db, CALPUSH_SQL_ERROR, 3, p, ignore_cb, NULL);
	/* Google refusing the event as it is will not change by retrying. */
	if (g->err == GERR_REJECTED || g->err == GERR_REVOKED ||
	    g->err == GERR_NOT_CONNECTED)
		o = JOB_FAIL;
	calpush_finish(cp, o, msg, NULL);
	free(msg);
}

static void
sql_done_cb(const PGresult *res, const char *error, void *arg)
{
	struct calpush *cp = arg;

	if (error != NULL) {
		calpush_finish(cp, JOB_RETRY, error, NULL);
		return;
	}
	calpush_finish(cp, JOB_DONE, NULL, PQgetvalue(res, 0, 0)[0] != '\0' ?
	    PQgetvalue(res, 0, 0) : "deleted");
}

static char *
event_url(const struct calpush *cp)
{
	char *id = urlenc_escape(cp->event_id);
	char *url = xasprintf("%s/calendars/primary/events/%s",
	    cp->job->d->conf.google_calendar_url, id);

	free(id);
	return url;
}

/* Google's answer is the new truth for the fields we sent. */
static void
record_event(struct calpush *cp, const struct gresp *g)
{
	const char *p[] = { cp->job->tenant_id, cp->activity, g->body, cp->fields };

	pgloop_query(cp->job->d->db, CALPUSH_SQL_DONE, 4, p, sql_done_cb, cp);
}

static void
forget(struct calpush *cp)
{
	const char *p[] = { cp->job->tenant_id, cp->activity };

	pgloop_query(cp->job->d->db, cp->row_gone ? CALPUSH_SQL_TOMBSTONE_DONE :
	    CALPUSH_SQL_FORGET, 2, p, sql_done_cb, cp);
}

static void
deleted_cb(const struct gresp *g, void *arg)
{
	struct calpush *cp = arg;

	if (g->err == GERR_OK || g->err == GERR_NOT_FOUND || g->err == GERR_GONE)
		forget(cp);
	else
		calpush_fail(cp, g);
}

static void
merge_cb(const PGresult *res, const char *error, void *arg)
{
	struct calpush *cp = arg;

	if (error != NULL) {
		calpush_finish(cp, JOB_RETRY, error, NULL);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "pending") == 0)
		calpush_load(cp);	/* merged: push the result */
	else
		calpush_finish(cp, JOB_DONE, NULL, "merged");
}

/* After 412 or 409: what does Google have now? */
static void
fetched_cb(const struct gresp *g, void *arg)
{
	struct calpush *cp = arg;
	const char *p[3];

	if (g->err == GERR_NOT_FOUND || g->err == GERR_GONE) {
		forget(cp);
		return;
	}
	if (g->err != GERR_OK) {
		calpush_fail(cp, g);
		return;
	}
	if (cp->etag == NULL) {		/* 409: our earlier insert did happen */
		record_event(cp, g);
		return;
	}
	p[0] = cp->job->tenant_id;
	p[1] = cp->activity;
	p[2] = g->body;
	pgloop_query(cp->job->d->db, CALPUSH_SQL_MERGE, 3, p, merge_cb, cp);
}

static void
fetch_event(struct calpush *cp)
{
	char *url = event_url(cp);

	google_call(cp->job->d, cp->job->tenant_id, cp->conn, "GET", url, NULL,
	    NULL, fetched_cb, cp);
	free(url);
}

static void
written_cb(const struct gresp *g, void *arg)
{
	struct calpush *cp = arg;

	switch (g->err) {
	case GERR_OK:
		record_event(cp, g);
		break;
	case GERR_CONFLICT:		/* insert: the id exists, so it is ours */
		fetch_event(cp);
		break;
	case GERR_PRECONDITION:		/* patch: Google changed meanwhile */
		if (++cp->merges > CALPUSH_MAX_MERGES) {
			calpush_fail(cp, g);
			break;
		}
		fetch_event(cp);
		break;
	case GERR_NOT_FOUND:
	case GERR_GONE:
		/* Deleted at Google: the deletion wins over the edit. */
		if (cp->etag != NULL)
			forget(cp);
		else
			calpush_fail(cp, g);
		break;
	default:
		calpush_fail(cp, g);
		break;
	}
}

static void
send_push(struct calpush *cp)
{
	const struct conf *c = &cp->job->d->conf;
	char *url;

	if (cp->deleted) {
		if (cp->event_id == NULL) {	/* never reached Google */
			forget(cp);
			return;
		}
		url = event_url(cp);
		google_call(cp->job->d, cp->job->tenant_id, cp->conn, "DELETE",
		    url, NULL, NULL, deleted_cb, cp);
	} else if (cp->etag == NULL) {
		url = xasprintf("%s/calendars/primary/events", c->google_calendar_url);
		google_call(cp->job->d, cp->job->tenant_id, cp->conn, "POST", url,
		    cp->body, NULL, written_cb, cp);
	} else {
		json_object_object_del(cp->body, "id");
		url = event_url(cp);
		google_call(cp->job->d, cp->job->tenant_id, cp->conn, "PATCH", url,
		    cp->body, cp->etag, written_cb, cp);
	}
	free(url);
}

static char *
dup_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : xstrdup(PQgetvalue(res, 0, col));
}

/* Hard-deleted in the CRM: only Google's copy, named by the tombstone, is left. */
static void
tombstone_cb(const PGresult *res, const char *error, void *arg)
{
	struct calpush *cp = arg;

	if (error != NULL) {
		calpush_finish(cp, JOB_RETRY, error, NULL);
		return;
	}
	if (PQntuples(res) == 0) {
		calpush_finish(cp, JOB_DONE, NULL, "gone");
		return;
	}
	free(cp->conn);
	free(cp->event_id);
	cp->conn = xstrdup(PQgetvalue(res, 0, 0));
	cp->event_id = xstrdup(PQgetvalue(res, 0, 1));
	job_set_connection(cp->job, cp->conn);
	cp->deleted = cp->row_gone = true;
	send_push(cp);
}

static void
loaded_cb(const PGresult *res, const char *error, void *arg)
{
	struct calpush *cp = arg;
	const char *p[] = { cp->job->tenant_id, cp->activity };

	if (error != NULL) {
		calpush_finish(cp, JOB_RETRY, error, NULL);
		return;
	}
	if (PQntuples(res) == 0) {
		pgloop_query(cp->job->d->db, CALPUSH_SQL_TOMBSTONE, 2, p,
		    tombstone_cb, cp);
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		calpush_finish(cp, JOB_DONE, NULL, "not synced");
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 4), "pending") != 0) {
		calpush_finish(cp, JOB_DONE, NULL, "up to date");
		return;
	}
	free(cp->conn);
	free(cp->event_id);
	free(cp->etag);
	free(cp->fields);
	json_object_put(cp->body);
	cp->conn = xstrdup(PQgetvalue(res, 0, 0));
	job_set_connection(cp->job, cp->conn);
	cp->event_id = dup_or_null(res, 1);
	cp->etag = dup_or_null(res, 2);
	cp->deleted = PQgetvalue(res, 0, 3)[0] == 't';
	cp->body = json_tokener_parse(PQgetvalue(res, 0, 5));
	cp->fields = xstrdup(PQgetvalue(res, 0, 6));
	if (cp->body == NULL) {
		calpush_finish(cp, JOB_FAIL, "cannot read the event body", NULL);
		return;
	}
	if (cp->event_id == NULL) {
		json_object *id;

		json_object_object_get_ex(cp->body, "id", &id);
		cp->event_id = xstrdup(json_object_get_string(id));
	}
	send_push(cp);
}

static void
calpush_load(struct calpush *cp)
{
	const char *p[] = { cp->job->tenant_id, cp->activity };

	pgloop_query(cp->job->d->db, CALPUSH_SQL_LOAD, 2, p, loaded_cb, cp);
}

static void
calpush_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *activity = job_payload_uuid(job, "activity_id", buf);
	struct calpush *cp;

	if (activity == NULL) {
		job_finish(job, JOB_FAIL, "payload: activity_id is not a uuid",
		    NULL);
		return;
	}
	cp = xcalloc(1, sizeof *cp);
	cp->job = job;
	cp->activity = xstrdup(activity);
	job->state = cp;
	calpush_load(cp);
}

const struct job_kind job_calpush_kind = {
	.name = "calpush",
	.start = calpush_start,
	.cancel = NULL,
	.discard = calpush_discard,
};
