/* SPDX-License-Identifier: ISC */
/*
 * mailsync: brings one connection's Gmail mailbox into the CRM.
 *
 * With a stored history id it reads users.history.list from there (every
 * page, empty ones included) and applies what changed: messages added are
 * fetched whole, label changes applied as the record states them (or the
 * message fetched when Rally never stored it), deletions removed.  The
 * history id moves with the batch that completes the last page.  Without
 * one (first sync, Gmail answered 404 for a history id too old, or the
 * connection's mail was switched on again) it takes the mailbox's history
 * id from users.getProfile, lists the messages of mail.window with
 * messages.list, fetches every one, removes what it did not see, and
 * hands over to history from that id.  A full sync is resumable: every
 * list page's token is committed with the batch that completes the page.
 *
 * The fetching, decoding and batching are mail-pump's; this file is the
 * order of the calls.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "mail-history.h"
#include "mail-pump.h"
#include "pgloop.h"
#include "rallyd.h"
#include "urlenc.h"
#include "util.h"
#include "uuid.h"

#define MAILSYNC_SQL_STATE \
	"SELECT s.gmail_history_id, s.full_sync_required," \
	"  s.full_sync_started_at, s.full_sync_history_id, s.full_sync_page_token" \
	" FROM rally.sync_state s JOIN rally.google_connections c" \
	"  ON c.tenant_id = s.tenant_id AND c.id = s.connection_id" \
	" WHERE s.tenant_id = $1 AND s.connection_id = $2" \
	"  AND s.resource = 'mail' AND c.status = 'active' AND c.mail_enabled"

#define MAILSYNC_SQL_START_FULL \
	"SELECT rally.mail_start_full($1, $2, $3::numeric)"

#define MAILSYNC_SQL_UNKNOWN \
	"SELECT to_jsonb(rally.mail_unknown_ids($1, $2," \
	"  ARRAY(SELECT jsonb_array_elements_text($3::jsonb))))"

#define MAILSYNC_SQL_ERROR \
	"UPDATE rally.sync_state SET last_error = $3, last_error_kind = $4," \
	"  last_error_at = now(), consecutive_errors = consecutive_errors + 1," \
	"  lag_seconds = extract(epoch FROM now() - coalesce(last_success_at, now()))::int" \
	" WHERE tenant_id = $1 AND connection_id = $2 AND resource = 'mail'"

/* Longest page token or history id believed. */
#define MAILSYNC_TOKEN_MAX 4096
/* A list or history page: ids only, small. */
#define MAILSYNC_PAGE_MAX (8u << 20)
#define MAILSYNC_PAGE_DEPTH 16
/* Pages answered with a body that is not JSON, asked again before the
 * job fails (and retries later). */
#define MAILSYNC_GARBLED_MAX 5

struct mailsync {
	struct job *job;	/* NULL once cancelled */
	struct rallyd *d;
	char *conn;
	struct mail_pump *pump;
	char *history_id;	/* incremental: where history starts */
	char *full_started;	/* full: fences its batches */
	bool restarted;		/* a 404 already turned this into a full sync */
	int queries;		/* in flight with this state as their arg */
	/* Full sync: list pages listed, and committed; the next page's token
	 * while its listing waits (at most one page ahead of the database). */
	int listed, committed;
	bool listing;
	char *list_next;
	bool list_end;
	struct mail_history *hist;	/* incremental: the page being applied */
	char *hist_page;	/* the token of the history page asked for */
	int pages;
	int garbled;
};

static void list_fetch(struct mailsync *);
static void profile_fetch(struct mailsync *);
static void history_fetch(struct mailsync *, const char *);
static void history_again(struct mailsync *);
static void start_full(struct mailsync *);

static void
mailsync_free(struct mailsync *ms)
{
	mail_pump_free(ms->pump);
	mail_history_free(ms->hist);
	free(ms->conn);
	free(ms->history_id);
	free(ms->full_started);
	free(ms->list_next);
	free(ms->hist_page);
	free(ms);
}

static bool
detached(struct mailsync *ms)
{
	ms->queries--;
	if (ms->job != NULL)
		return false;
	if (ms->queries == 0)
		mailsync_free(ms);
	return true;
}

static void
mailsync_query(struct mailsync *ms, const char *sql, int n,
    const char *const *p, pgloop_result_cb cb)
{
	ms->queries++;
	pgloop_query(ms->d->db, sql, n, p, cb, ms);
}

static void
mailsync_finish(struct mailsync *ms, enum job_outcome outcome,
    const char *error)
{
	struct job *job = ms->job;
	json_object *result = NULL;

	if (outcome == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "mode", json_object_new_string(
		    ms->full_started ? "full" : "incremental"));
		json_object_object_add(result, "pages",
		    json_object_new_int(ms->pages));
		if (ms->pump != NULL)
			mail_pump_counts(ms->pump, result);
	}
	google_cancel(ms->d, ms);
	mail_pump_free(ms->pump);
	ms->pump = NULL;
	job->state = NULL;
	ms->job = NULL;
	if (ms->queries == 0)
		mailsync_free(ms);
	job_finish(job, outcome, error, result);
}

static void
error_recorded_cb(const PGresult *res, const char *error, void *arg)
{
	/* Best effort: the job's own record carries the error anyway. */
}

static void
mailsync_fail(struct mailsync *ms, const char *kind, const char *message)
{
	char *msg = xasprintf("%s: %s", kind, message);
	const char *p[] = { ms->job->tenant_id, ms->conn, msg, kind };

	pgloop_query(ms->d->db, MAILSYNC_SQL_ERROR, 4, p, error_recorded_cb,
	    NULL);
	mailsync_finish(ms, JOB_RETRY, msg);
	free(msg);
}

/* What a failed Google call means for the job. */
static void
mailsync_google_failed(struct mailsync *ms, const struct gresp *g)
{
	if (g->err == GERR_REVOKED || g->err == GERR_NOT_CONNECTED) {
		mailsync_finish(ms, JOB_DONE, NULL);	/* nothing to sync */
		return;
	}
	job_defer(ms->job, g->retry_after_ms);
	mailsync_fail(ms, gerr_kind(g->err), g->message);
}

static void
pump_error(void *arg, const char *kind, const char *message)
{
	struct mailsync *ms = arg;

	/* Disconnected, revoked, or superseded by a newer full sync. */
	if (strcmp(kind, "gone") == 0 || strcmp(kind, "stale") == 0 ||
	    strcmp(kind, gerr_kind(GERR_REVOKED)) == 0 ||
	    strcmp(kind, gerr_kind(GERR_NOT_CONNECTED)) == 0)
		mailsync_finish(ms, JOB_DONE, NULL);
	else
		mailsync_fail(ms, kind, message);
}

static struct mail_pump *
mailsync_pump(struct mailsync *ms)
{
	if (ms->pump == NULL)
		ms->pump = mail_pump_new(ms->d, ms->job->tenant_id, ms->conn,
		    &ms->job->log, pump_error, ms);
	/* A full sync is an import: it yields to sends and other syncs. */
	mail_pump_bulk(ms->pump, ms->full_started != NULL);
	return ms->pump;
}

/*
 * The body of a profile, list or history answer, parsed.  NULL when it is
 * not a JSON object: asked again (again) a few times, as a garbled
 * transfer, then the job fails.
 */
static json_object *
page_parse(struct mailsync *ms, const struct gresp *g,
    void (*again)(struct mailsync *))
{
	json_object *o;

	o = json_parse_limited(g->body, g->body_len, MAILSYNC_PAGE_MAX,
	    MAILSYNC_PAGE_DEPTH, NULL);
	if (json_object_is_type(o, json_type_object))
		return o;
	json_object_put(o);
	if (++ms->garbled <= MAILSYNC_GARBLED_MAX)
		again(ms);
	else
		mailsync_fail(ms, "malformed", "a page that is not a JSON object");
	return NULL;
}

static char *
page_token(json_object *o, const char *key)
{
	const char *t = json_get_string(o, key);

	if (t == NULL || t[0] == '\0' || strlen(t) > MAILSYNC_TOKEN_MAX)
		return NULL;
	return xstrdup(t);
}

/* --- full sync ------------------------------------------------------- */

static void
list_committed_cb(void *arg, json_object *result)
{
	struct mailsync *ms = arg;

	ms->committed++;
	if (ms->list_end && ms->committed == ms->listed) {
		mailsync_finish(ms, JOB_DONE, NULL);
		return;
	}
	list_fetch(ms);
}

static void
list_cb(const struct gresp *g, void *arg)
{
	struct mailsync *ms = arg;
	struct mail_pump *pump = mailsync_pump(ms);
	json_object *o, *msgs, *fields;
	size_t n;

	ms->listing = false;
	if (g->err != GERR_OK) {
		mailsync_google_failed(ms, g);
		return;
	}
	if ((o = page_parse(ms, g, list_fetch)) == NULL)
		return;
	if (json_object_object_get_ex(o, "messages", &msgs) &&
	    json_object_is_type(msgs, json_type_array)) {
		n = json_object_array_length(msgs);
		for (size_t i = 0; i < n; i++) {
			const char *id = json_get_string(
			    json_object_array_get_idx(msgs, i), "id");
			mail_pump_fetch(pump, id != NULL ? id : "");
		}
	}
	free(ms->list_next);
	ms->list_next = page_token(o, "nextPageToken");
	ms->list_end = ms->list_next == NULL;
	json_object_put(o);
	ms->listed++;
	ms->pages++;
	fields = json_object_new_object();
	json_object_object_add(fields, "full_started",
	    json_object_new_string(ms->full_started));
	if (ms->list_end)
		json_object_object_add(fields, "done", json_object_new_boolean(1));
	else
		json_object_object_add(fields, "page_token",
		    json_object_new_string(ms->list_next));
	mail_pump_checkpoint(pump, fields, list_committed_cb, ms);
	list_fetch(ms);
}

/*
 * Lists the next page of messages, unless one is being listed, the list
 * has ended, or the database has not yet committed the page before the
 * last: at most two pages of ids wait in the pump.
 */
static void
list_fetch(struct mailsync *ms)
{
	const struct conf *c = &ms->d->conf;
	char *url;

	if (ms->listing || (ms->listed > 0 && ms->list_end) ||
	    ms->listed - ms->committed > 1)
		return;
	url = xasprintf("%s/users/me/messages?maxResults=%lld&q=newer_than:%lldd",
	    c->google_gmail_url, (long long)c->mail_page_size,
	    (long long)(c->mail_window_sec / 86400));
	if (ms->list_next != NULL)
		urlenc_append_param(&url, "pageToken", ms->list_next);
	ms->listing = true;
	google_call_bulk(ms->d, ms->job->tenant_id, ms->conn, "GET", url, NULL,
	    NULL, list_cb, ms);
	free(url);
}

static void
full_started_cb(const PGresult *res, const char *error, void *arg)
{
	struct mailsync *ms = arg;

	if (detached(ms))
		return;
	if (error != NULL || PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		mailsync_fail(ms, "database", error ? error : "no sync state");
		return;
	}
	free(ms->full_started);
	ms->full_started = xstrdup(PQgetvalue(res, 0, 0));
	list_fetch(ms);
}

static void
profile_cb(const struct gresp *g, void *arg)
{
	struct mailsync *ms = arg;
	json_object *o;
	const char *p[3];
	char *hid;

	if (g->err != GERR_OK) {
		mailsync_google_failed(ms, g);
		return;
	}
	if ((o = page_parse(ms, g, profile_fetch)) == NULL)
		return;
	hid = page_token(o, "historyId");
	json_object_put(o);
	if (hid == NULL || !mail_history_id_valid(hid)) {
		free(hid);
		mailsync_fail(ms, "malformed", "a profile without a history id");
		return;
	}
	p[0] = ms->job->tenant_id;
	p[1] = ms->conn;
	p[2] = hid;
	mailsync_query(ms, MAILSYNC_SQL_START_FULL, 3, p, full_started_cb);
	free(hid);
}

static void
profile_fetch(struct mailsync *ms)
{
	char *url = xasprintf("%s/users/me/profile", ms->d->conf.google_gmail_url);

	google_call(ms->d, ms->job->tenant_id, ms->conn, "GET", url, NULL, NULL,
	    profile_cb, ms);
	free(url);
}

static void
start_full(struct mailsync *ms)
{
	mail_pump_free(ms->pump);
	ms->pump = NULL;
	ms->listed = ms->committed = 0;
	ms->list_end = false;
	free(ms->list_next);
	ms->list_next = NULL;
	profile_fetch(ms);
}

/* --- incremental ----------------------------------------------------- */

static void
history_committed_cb(void *arg, json_object *result)
{
	struct mailsync *ms = arg;
	struct mail_history *h = ms->hist;
	char *next = h->next_page != NULL ? xstrdup(h->next_page) : NULL;

	ms->hist = NULL;
	mail_history_free(h);
	if (next == NULL)
		mailsync_finish(ms, JOB_DONE, NULL);
	else
		history_fetch(ms, next);
	free(next);
}

/* Queues a history page's work on the pump. */
static void
history_ops_feed(const struct mail_history *h, struct mail_pump *pump)
{
	json_object *labels;

	json_object_object_foreach(h->ops, id, o) {
		const char *op = json_get_string(o, "op");

		if (strcmp(op, "fetch") == 0)
			mail_pump_fetch(pump, id);
		else if (strcmp(op, "delete") == 0)
			mail_pump_delete(pump, id);
		else if (json_object_object_get_ex(o, "labels", &labels))
			mail_pump_labels(pump, id, json_object_get(labels),
			    json_get_string(o, "hid"));
	}
}

/* The page's changes, now that the unknown ids are known. */
static void
history_feed(struct mailsync *ms)
{
	struct mail_pump *pump = mailsync_pump(ms);
	json_object *fields = json_object_new_object();

	history_ops_feed(ms->hist, pump);
	if (ms->hist->next_page == NULL) {
		json_object_object_add(fields, "history_id",
		    json_object_new_string(ms->hist->history_id));
		json_object_object_add(fields, "done", json_object_new_boolean(1));
	}
	mail_pump_checkpoint(pump, fields, history_committed_cb, ms);
}

static void
unknown_cb(const PGresult *res, const char *error, void *arg)
{
	struct mailsync *ms = arg;

	if (detached(ms))
		return;
	if (error != NULL || PQntuples(res) != 1) {
		mailsync_fail(ms, "database", error ? error : "no answer");
		return;
	}
	mail_history_mark_unknown(ms->hist, PQgetvalue(res, 0, 0));
	history_feed(ms);
}

static void
history_cb(const struct gresp *g, void *arg)
{
	struct mailsync *ms = arg;
	json_object *o;
	const char *p[3];
	char *ids, *cause = NULL;

	if (g->err == GERR_NOT_FOUND && !ms->restarted) {
		/* The history id is older than Gmail keeps: start over. */
		log_emit(LOG_INFO, NULL, &ms->job->log,
		    "gmail history of connection %s expired: full sync",
		    ms->conn);
		ms->restarted = true;
		start_full(ms);
		return;
	}
	if (g->err != GERR_OK) {
		mailsync_google_failed(ms, g);
		return;
	}
	if ((o = page_parse(ms, g, history_again)) == NULL)
		return;
	ms->hist = mail_history_parse(o, &cause);
	json_object_put(o);
	if (ms->hist == NULL) {
		mailsync_fail(ms, "malformed", cause);
		free(cause);
		return;
	}
	ms->pages++;
	if ((ids = mail_history_label_ids(ms->hist)) == NULL) {
		history_feed(ms);
		return;
	}
	p[0] = ms->job->tenant_id;
	p[1] = ms->conn;
	p[2] = ids;
	mailsync_query(ms, MAILSYNC_SQL_UNKNOWN, 3, p, unknown_cb);
	free(ids);
}

static void
history_fetch(struct mailsync *ms, const char *page)
{
	char *url = xasprintf("%s/users/me/history?startHistoryId=%s"
	    "&maxResults=500", ms->d->conf.google_gmail_url, ms->history_id);

	if (page != ms->hist_page) {
		free(ms->hist_page);
		ms->hist_page = page != NULL ? xstrdup(page) : NULL;
	}
	if (page != NULL)
		urlenc_append_param(&url, "pageToken", page);
	google_call(ms->d, ms->job->tenant_id, ms->conn, "GET", url, NULL, NULL,
	    history_cb, ms);
	free(url);
}

static void
history_again(struct mailsync *ms)
{
	history_fetch(ms, ms->hist_page);
}

/* --- start ----------------------------------------------------------- */

static void
state_cb(const PGresult *res, const char *error, void *arg)
{
	struct mailsync *ms = arg;

	if (detached(ms))
		return;
	if (error != NULL) {
		mailsync_fail(ms, "database", error);
		return;
	}
	if (PQntuples(res) == 0) {
		mailsync_finish(ms, JOB_DONE, NULL);	/* disconnected */
		return;
	}
	if (!PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 1), "f") == 0) {
		ms->history_id = xstrdup(PQgetvalue(res, 0, 0));
		history_fetch(ms, NULL);
	} else if (!PQgetisnull(res, 0, 2) && !PQgetisnull(res, 0, 3)) {
		/* An interrupted full sync: on from its last committed page. */
		ms->full_started = xstrdup(PQgetvalue(res, 0, 2));
		if (!PQgetisnull(res, 0, 4))
			ms->list_next = xstrdup(PQgetvalue(res, 0, 4));
		list_fetch(ms);
	} else
		start_full(ms);
}

static void
mailsync_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);
	struct mailsync *ms;
	const char *p[2];

	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	ms = xcalloc(1, sizeof *ms);
	ms->job = job;
	ms->d = job->d;
	ms->conn = xstrdup(conn);
	job->state = ms;
	job_set_connection(job, ms->conn);
	p[0] = job->tenant_id;
	p[1] = ms->conn;
	mailsync_query(ms, MAILSYNC_SQL_STATE, 2, p, state_cb);
}

/*
 * At shutdown: fetches and the page being listed are dropped now; a batch
 * being applied commits or not on its own.  The sync resumes from its last
 * committed checkpoint.
 */
static void
mailsync_cancel(struct job *job)
{
	struct mailsync *ms = job->state;

	if (ms == NULL)
		return;
	job->state = NULL;
	ms->job = NULL;
	google_cancel(ms->d, ms);
	mail_pump_free(ms->pump);
	ms->pump = NULL;
	if (ms->queries == 0)
		mailsync_free(ms);
}

const struct job_kind job_mailsync_kind = {
	.name = "mailsync",
	.start = mailsync_start,
	.cancel = mailsync_cancel,
};
