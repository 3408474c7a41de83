/* SPDX-License-Identifier: ISC */
/*
 * mailreconcile: compares a mailbox, id by id, with Gmail's own listing
 * and repairs what differs, every mail.reconcile_interval.  History keeps
 * the copy right as long as nothing is lost on the way; this is the proof
 * that nothing was, and the repair when something was (a row deleted by
 * hand, a bug, a restore).
 *
 * It lists the messages of mail.window (ids only: 5 units a page of 500),
 * marks each listed message that is stored as seen and fetches, through
 * the mail pump, each that is missing; at the end it removes the messages
 * of the window that the listing did not bring and that history has no
 * newer news of.  What it repaired is in the job's result (listed,
 * missing, removed) and, when anything was wrong, in the journal.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "mail-pump.h"
#include "pgloop.h"
#include "rallyd.h"
#include "urlenc.h"
#include "util.h"
#include "uuid.h"

#define RECONCILE_SQL_START \
	"SELECT started, history_id FROM rally.mail_reconcile_start($1, $2)"
#define RECONCILE_SQL_PAGE "SELECT rally.mail_reconcile_page($1, $2, $3::jsonb)"
#define RECONCILE_SQL_END \
	"SELECT rally.mail_reconcile_end($1, $2, $3::timestamptz, $4::numeric," \
	" $5::int)"

#define RECONCILE_PAGE_MAX (8u << 20)
#define RECONCILE_TOKEN_MAX 4096

struct reconcile {
	struct job *job;	/* NULL once cancelled */
	struct rallyd *d;
	char *conn;
	char *started, *history_id;
	char *next;		/* the next list page's token */
	struct mail_pump *pump;
	int queries;
	int64_t listed, missing, removed;
};

static void reconcile_list(struct reconcile *);

static void
reconcile_free(struct reconcile *r)
{
	mail_pump_free(r->pump);
	free(r->conn);
	free(r->started);
	free(r->history_id);
	free(r->next);
	free(r);
}

static bool
detached(struct reconcile *r)
{
	r->queries--;
	if (r->job != NULL)
		return false;
	if (r->queries == 0)
		reconcile_free(r);
	return true;
}

static void
reconcile_query(struct reconcile *r, const char *sql, int n,
    const char *const *p, pgloop_result_cb cb)
{
	r->queries++;
	pgloop_query(r->d->db, sql, n, p, cb, r);
}

static void
reconcile_finish(struct reconcile *r, enum job_outcome outcome,
    const char *error)
{
	struct job *job = r->job;
	json_object *result = NULL;

	if (outcome == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "listed",
		    json_object_new_int64(r->listed));
		json_object_object_add(result, "missing",
		    json_object_new_int64(r->missing));
		json_object_object_add(result, "removed",
		    json_object_new_int64(r->removed));
		if (r->pump != NULL)
			mail_pump_counts(r->pump, result);
		if (r->missing > 0 || r->removed > 0)
			log_emit(LOG_NOTICE, NULL, &job->log, "mailbox of connection "
			    "%s differed from Gmail: %lld missing, fetched; %lld "
			    "gone at Gmail, removed", r->conn, (long long)r->missing,
			    (long long)r->removed);
	}
	google_cancel(r->d, r);
	mail_pump_free(r->pump);
	r->pump = NULL;
	job->state = NULL;
	r->job = NULL;
	if (r->queries == 0)
		reconcile_free(r);
	job_finish(job, outcome, error, result);
}

static void
pump_error(void *arg, const char *kind, const char *message)
{
	struct reconcile *r = arg;
	char *msg;

	if (strcmp(kind, "gone") == 0 ||
	    strcmp(kind, gerr_kind(GERR_REVOKED)) == 0 ||
	    strcmp(kind, gerr_kind(GERR_NOT_CONNECTED)) == 0) {
		reconcile_finish(r, JOB_DONE, NULL);
		return;
	}
	msg = xasprintf("%s: %s", kind, message);
	reconcile_finish(r, JOB_RETRY, msg);
	free(msg);
}

static void
end_cb(const PGresult *res, const char *error, void *arg)
{
	struct reconcile *r = arg;

	if (detached(r))
		return;
	if (error != NULL) {
		reconcile_finish(r, JOB_RETRY, error);
		return;
	}
	r->removed = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	reconcile_finish(r, JOB_DONE, NULL);
}

/* Every missing message fetched and committed: remove what Gmail lacks. */
static void
fetched_cb(void *arg, json_object *result)
{
	struct reconcile *r = arg;
	char window[24];
	const char *p[5];

	snprintf(window, sizeof window, "%lld",
	    (long long)r->d->conf.mail_window_sec);
	p[0] = r->job->tenant_id;
	p[1] = r->conn;
	p[2] = r->started;
	p[3] = r->history_id;
	p[4] = window;
	reconcile_query(r, RECONCILE_SQL_END, 5, p, end_cb);
}

static void
page_cb(const PGresult *res, const char *error, void *arg)
{
	struct reconcile *r = arg;
	json_object *missing;

	if (detached(r))
		return;
	if (error != NULL || PQntuples(res) != 1) {
		reconcile_finish(r, JOB_RETRY, error ? error : "no answer");
		return;
	}
	missing = json_tokener_parse(PQgetvalue(res, 0, 0));
	for (size_t i = 0; i < json_object_array_length(missing); i++) {
		const char *id = json_object_get_string(
		    json_object_array_get_idx(missing, i));

		mail_pump_fetch(r->pump, id != NULL ? id : "");
		r->missing++;
	}
	json_object_put(missing);
	if (r->next != NULL)
		reconcile_list(r);
	else
		mail_pump_checkpoint(r->pump, json_object_new_object(),
		    fetched_cb, r);
}

/* The ids of a list page, as a JSON array for the database. */
static char *
page_ids(json_object *page, int64_t *n)
{
	json_object *msgs, *ids = json_object_new_array();
	const char *id;
	char *s;

	if (json_object_object_get_ex(page, "messages", &msgs) &&
	    json_object_is_type(msgs, json_type_array))
		for (size_t i = 0; i < json_object_array_length(msgs); i++)
			if ((id = json_get_string(json_object_array_get_idx(msgs,
			    i), "id")) != NULL) {
				json_object_array_add(ids, json_object_new_string(id));
				(*n)++;
			}
	s = xstrdup(json_object_to_json_string_ext(ids, JSON_C_TO_STRING_PLAIN));
	json_object_put(ids);
	return s;
}

static void
list_cb(const struct gresp *g, void *arg)
{
	struct reconcile *r = arg;
	json_object *o;
	const char *next, *p[3];
	char *ids;

	if (g->err == GERR_REVOKED || g->err == GERR_NOT_CONNECTED) {
		reconcile_finish(r, JOB_DONE, NULL);
		return;
	}
	if (g->err != GERR_OK) {
		char *msg = xasprintf("%s: %s", gerr_kind(g->err), g->message);

		job_defer(r->job, g->retry_after_ms);
		reconcile_finish(r, JOB_RETRY, msg);
		free(msg);
		return;
	}
	o = json_parse_limited(g->body, g->body_len, RECONCILE_PAGE_MAX, 16, NULL);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		reconcile_finish(r, JOB_RETRY, "malformed: a list that is not JSON");
		return;
	}
	next = json_get_string(o, "nextPageToken");
	free(r->next);
	r->next = next != NULL && next[0] != '\0' &&
	    strlen(next) <= RECONCILE_TOKEN_MAX ? xstrdup(next) : NULL;
	ids = page_ids(o, &r->listed);
	json_object_put(o);
	p[0] = r->job->tenant_id;
	p[1] = r->conn;
	p[2] = ids;
	reconcile_query(r, RECONCILE_SQL_PAGE, 3, p, page_cb);
	free(ids);
}

static void
reconcile_list(struct reconcile *r)
{
	const struct conf *c = &r->d->conf;
	char *url = xasprintf("%s/users/me/messages?maxResults=500"
	    "&q=newer_than:%lldd", c->google_gmail_url,
	    (long long)(c->mail_window_sec / 86400));

	if (r->next != NULL)
		urlenc_append_param(&url, "pageToken", r->next);
	google_call_bulk(r->d, r->job->tenant_id, r->conn, "GET", url, NULL,
	    NULL, list_cb, r);
	free(url);
}

static void
start_cb(const PGresult *res, const char *error, void *arg)
{
	struct reconcile *r = arg;

	if (detached(r))
		return;
	if (error != NULL) {
		reconcile_finish(r, JOB_RETRY, error);
		return;
	}
	if (PQntuples(res) == 0) {
		/* Disconnected, or a full sync is due: it compares anyway. */
		reconcile_finish(r, JOB_DONE, NULL);
		return;
	}
	r->started = xstrdup(PQgetvalue(res, 0, 0));
	r->history_id = xstrdup(PQgetvalue(res, 0, 1));
	r->pump = mail_pump_new(r->d, r->job->tenant_id, r->conn, &r->job->log,
	    pump_error, r);
	mail_pump_bulk(r->pump, true);
	reconcile_list(r);
}

static void
reconcile_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);
	struct reconcile *r;
	const char *p[2];

	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->job = job;
	r->d = job->d;
	r->conn = xstrdup(conn);
	job->state = r;
	job_set_connection(job, r->conn);
	p[0] = job->tenant_id;
	p[1] = r->conn;
	reconcile_query(r, RECONCILE_SQL_START, 2, p, start_cb);
}

/* At shutdown: it starts over next time; what it fetched is kept. */
static void
reconcile_cancel(struct job *job)
{
	struct reconcile *r = job->state;

	if (r == NULL)
		return;
	job->state = NULL;
	r->job = NULL;
	google_cancel(r->d, r);
	mail_pump_free(r->pump);
	r->pump = NULL;
	if (r->queries == 0)
		reconcile_free(r);
}

const struct job_kind job_mailreconcile_kind = {
	.name = "mailreconcile",
	.start = reconcile_start,
	.cancel = reconcile_cancel,
};
