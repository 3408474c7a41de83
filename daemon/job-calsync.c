/* SPDX-License-Identifier: ISC */
/*
 * calsync: brings one connection's primary Google Calendar into the CRM.
 *
 * With a sync token it asks for what changed since; without one (first
 * sync, or Google answered 410 fullSyncRequired) it lists everything from
 * calendar.window back, and at the end removes what Google no longer has.
 * Every page goes to rally.cal_apply_columns, the members of its events
 * that the SQL reads read out as columns (a page that cannot be read so
 * goes to rally.cal_apply_page as Google sent it, but for the members no
 * SQL reads), which applies it in one transaction with the sync token of
 * the last page: a crash repeats pages, which are idempotent, and never
 * skips one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google.h"
#include "http.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "pgloop.h"
#include "rallyd.h"
#include "strbuf.h"
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

/* The columns of calsync_columns follow $6, as text[]s. */
#define CALSYNC_SQL_APPLY_COLUMNS \
	"SELECT rally.cal_apply_columns($1, $2, $3::timestamptz, $4::boolean," \
	" $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19," \
	" $20, $21, $22, $23, $24, $25, $26)"
#define CALSYNC_COLUMNS_AT 6

#define CALSYNC_SQL_ERROR \
	"UPDATE rally.sync_state SET last_error = $3, last_error_kind = $4," \
	"  last_error_at = now(), consecutive_errors = consecutive_errors + 1," \
	"  lag_seconds = extract(epoch FROM now() - coalesce(last_success_at, now()))::int" \
	" WHERE tenant_id = $1 AND connection_id = $2 AND resource = 'calendar'"

/*
 * The members of an event that the SQL reads, the only ones forwarded to
 * it (docs/calendar-sync.md "Cost"): rally.cal_fields_from_event
 * (calendar-fields.sql), rally.cal_apply_items and rally.cal_apply_page
 * (calendar-inbound.sql), rally.cal_merge (calendar-merge.sql, from the
 * page's own event) and rally.cal_push_done (calendar-outbound.sql).  A
 * member the SQL comes to read must be added here, or it reads NULL; the
 * test test_calendar_filter_keeps_what_the_sql_reads finds one missing.
 * bench/calendar-apply reads this list.
 */
static const char *const calsync_event_members[] = {
	"id", "etag", "status", "summary", "description", "location",
	"start", "end", "attendees", "recurrence", "recurringEventId",
	"originalStartTime", "updated", "sequence", "iCalUID",
	"extendedProperties",
};

/*
 * What rallyd reads out of each event for rally.cal_apply_columns
 * (calendar-inbound.sql), in the order of its arrays: the members
 * rally.cal_fill_columns reads, each as jsonb's ->> gives it (recurrence
 * and attendees as JSON), so PostgreSQL neither parses the page nor looks
 * its members up.  A page that cannot be read this way goes whole to
 * rally.cal_apply_page instead (page_keep()).
 */
static const struct json_column calsync_columns[] = {
	{ { "id" }, false },
	{ { "etag" }, false },
	{ { "status" }, false },
	{ { "summary" }, false },
	{ { "description" }, false },
	{ { "location" }, false },
	{ { "start", "dateTime" }, false },
	{ { "start", "date" }, false },
	{ { "start", "timeZone" }, false },
	{ { "end", "dateTime" }, false },
	{ { "end", "date" }, false },
	{ { "recurrence" }, true },
	{ { "attendees" }, true },
	{ { "recurringEventId" }, false },
	{ { "originalStartTime", "dateTime" }, false },
	{ { "originalStartTime", "date" }, false },
	{ { "updated" }, false },
	{ { "sequence" }, false },
	{ { "iCalUID" }, false },
	{ { "extendedProperties", "private", "rallyActivityId" }, false },
};

/* The page's own members read with them. */
static const char *const calsync_page_members[] = {
	"nextSyncToken", "nextPageToken",
};

/* A nextPageToken longer than this is not fetched ahead (the database's
 * copy is used once the page is applied). */
#define CALSYNC_TOKEN_MAX 8192

/* Google's answer for the page fetched ahead, kept until its turn. */
struct ahead {
	bool ready;
	enum gerr err;
	long status;
	char *body;
	size_t body_len;
	char *reason, *message;
	long retry_after_ms;
};

struct calsync {
	struct job *job;	/* NULL once cancelled */
	struct rallyd *d;
	char *conn;
	char *sync_token;	/* NULL: full sync */
	char *full_started;	/* timestamptz of the full sync's start */
	char time_min[32];	/* fixed for a full sync: pages must repeat the query */
	bool restarted;		/* a 410 already turned this into a full sync */
	/* maxResults, fixed for the job: a reload must not make a page
	 * fetched before it one of more events than were asked for. */
	int64_t page_size;
	/*
	 * Pipelining: while the database applies page N (applying), page N+1
	 * is fetched (fetching) with the token page N gave (fetch_token), and
	 * its answer waits in ahead.  Never more than that one page ahead.
	 */
	char *fetch_token;	/* NULL: the first page */
	bool fetching;
	bool applying;
	struct ahead ahead;
	int queries;		/* in flight with this state as their arg */
	int pages;
	int whole_pages;	/* handed over as JSON, not as columns */
	int64_t counts[9];
};

static const char *const count_names[] = {
	"applied", "unchanged", "deleted", "ignored", "conflict", "skipped", "swept",
	"merged", "one_by_one",
};

static void calsync_fetch(struct calsync *, char *);
static void calsync_start_full(struct calsync *);
static void page_take(struct calsync *, const struct gresp *, char *);
static void apply_cb(const PGresult *, const char *, void *);

static void
ahead_clear(struct ahead *a)
{
	free(a->body);
	free(a->reason);
	free(a->message);
	memset(a, 0, sizeof *a);
}

static void
ahead_store(struct ahead *a, const struct gresp *g)
{
	ahead_clear(a);
	a->ready = true;
	a->err = g->err;
	a->status = g->status;
	if (g->err == GERR_OK) {
		a->body = google_take_body(g);	/* a page: megabytes, not copied */
		a->body_len = g->body_len;
	}
	a->reason = xstrdup(g->reason ? g->reason : "");
	a->message = xstrdup(g->message ? g->message : "");
	a->retry_after_ms = g->retry_after_ms;
}

/* Forgets the page fetched ahead, whether it arrived or not. */
static void
calsync_drop_ahead(struct calsync *cs)
{
	if (cs->fetching)
		google_cancel(cs->d, cs);
	cs->fetching = false;
	ahead_clear(&cs->ahead);
	free(cs->fetch_token);
	cs->fetch_token = NULL;
}

static void
calsync_free(struct calsync *cs)
{
	ahead_clear(&cs->ahead);
	free(cs->conn);
	free(cs->sync_token);
	free(cs->full_started);
	free(cs->fetch_token);
	free(cs);
}

/*
 * A query of this state answered (each callback calls this first).  After
 * a cancel the answer only frees the state, once nothing else is in flight.
 */
static bool
detached(struct calsync *cs)
{
	cs->queries--;
	if (cs->job != NULL)
		return false;
	if (cs->queries == 0)
		calsync_free(cs);
	return true;
}

static void
calsync_query(struct calsync *cs, const char *sql, int n, const char *const *p,
    pgloop_result_cb cb)
{
	cs->queries++;
	pgloop_query(cs->d->db, sql, n, p, cb, cs);
}

/* Called with no apply in flight: a job ends after its pages, not before. */
static void
calsync_finish(struct calsync *cs, enum job_outcome outcome, const char *error)
{
	struct job *job = cs->job;
	json_object *result = NULL;

	calsync_drop_ahead(cs);
	if (outcome == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "mode",
		    json_object_new_string(cs->full_started ? "full" : "incremental"));
		json_object_object_add(result, "pages", json_object_new_int(cs->pages));
		json_object_object_add(result, "whole_pages",
		    json_object_new_int(cs->whole_pages));
		for (size_t i = 0; i < nitems(count_names); i++)
			json_object_object_add(result, count_names[i],
			    json_object_new_int64(cs->counts[i]));
	}
	job->state = NULL;
	cs->job = NULL;
	if (cs->queries == 0)
		calsync_free(cs);	/* else the last answer frees it */
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

	pgloop_query(cs->d->db, CALSYNC_SQL_ERROR, 4, p, error_recorded_cb, NULL);
	calsync_finish(cs, JOB_RETRY, msg);
	free(msg);
}

/*
 * The next page's token as the page itself gives it, so that its fetch
 * starts while the database applies this one; NULL for the last page (it
 * carries nextSyncToken) or when the scan finds no usable token.  Only a
 * forecast: apply_cb checks it against the token the database read.
 */
static char *
page_next_token(const char *body, size_t len)
{
	static const char *const keys[] = { "nextSyncToken", "nextPageToken" };
	struct json_span v[nitems(keys)];
	json_object *o;
	char *token = NULL;

	if (json_scan_members(body, len, keys, v, nitems(keys)) == -1 ||
	    v[0].p != NULL || v[1].p == NULL)
		return NULL;
	o = json_parse_limited(v[1].p, v[1].len, CALSYNC_TOKEN_MAX, 1, NULL);
	if (json_object_is_type(o, json_type_string))
		token = xstrdup(json_object_get_string(o));
	json_object_put(o);
	return token;
}

/*
 * The page (taken) without the members of its events that the SQL never
 * reads: PostgreSQL's parse of a page is a fifth of a first sync's cost,
 * and a third of its bytes are those.  A page that does not scan goes as
 * Google sent it, so that PostgreSQL says what is wrong with it.
 */
static char *
page_keep(char *body, size_t len)
{
	char *out;
	size_t out_len;

	if (json_keep_item_members(body, len, "items", calsync_event_members,
	    nitems(calsync_event_members), &out, &out_len) == -1)
		return body;
	free(body);
	return out;
}

/* The statement that applies a page, its params, and the next page's
 * token as the page forecasts it (NULL: none to fetch ahead). */
struct page_query {
	const char *sql;
	int n;
	char **p;
	int *lengths, *formats;	/* NULL: all text */
	char *next;
};

/*
 * The page read out as columns, with its tokens; -1 when it cannot be read
 * so (json_columns_read()), -2 when it holds more events than were asked
 * for.
 */
static int
page_as_columns(const struct calsync *cs, const char *body, size_t len,
    struct page_query *q)
{
	struct json_columns jc;
	int r;

	if ((r = json_columns_read(&jc, body, len, "items",
	    (size_t)cs->page_size, calsync_columns,
	    nitems(calsync_columns), calsync_page_members,
	    nitems(calsync_page_members))) < 0)
		return r;
	q->sql = CALSYNC_SQL_APPLY_COLUMNS;
	q->n = CALSYNC_COLUMNS_AT + (int)nitems(calsync_columns);
	q->p = xcalloc((size_t)q->n, sizeof *q->p);
	q->lengths = xcalloc((size_t)q->n, sizeof *q->lengths);
	q->formats = xcalloc((size_t)q->n, sizeof *q->formats);
	q->p[0] = xstrdup(cs->job->tenant_id);
	q->p[1] = xstrdup(cs->conn);
	q->p[2] = cs->full_started != NULL ? xstrdup(cs->full_started) : NULL;
	q->p[3] = xstrdup(jc.top_present[0] ? "true" : "false");
	q->p[4] = jc.top[0];
	q->p[5] = jc.top[1];
	jc.top[0] = jc.top[1] = NULL;
	for (size_t c = 0; c < nitems(calsync_columns); c++) {
		size_t n;

		q->p[CALSYNC_COLUMNS_AT + c] = strbuf_take(&jc.cols[c], &n);
		q->lengths[CALSYNC_COLUMNS_AT + c] = (int)n;
		q->formats[CALSYNC_COLUMNS_AT + c] = 1;
	}
	if (!jc.top_present[0] && q->p[5] != NULL &&
	    strlen(q->p[5]) <= CALSYNC_TOKEN_MAX)
		q->next = xstrdup(q->p[5]);
	json_columns_clear(&jc);
	return 0;
}

/* The page itself (body, taken), less the members no SQL reads. */
static void
page_as_json(const struct calsync *cs, char *body, size_t len,
    struct page_query *q)
{
	q->sql = CALSYNC_SQL_APPLY;
	q->n = 4;
	q->next = page_next_token(body, len);
	q->p = xcalloc(4, sizeof *q->p);
	q->p[0] = xstrdup(cs->job->tenant_id);
	q->p[1] = xstrdup(cs->conn);
	q->p[2] = page_keep(body, len);
	q->p[3] = cs->full_started != NULL ? xstrdup(cs->full_started) : NULL;
}

/*
 * Hands a page (body, taken) to the database, as columns or, when it
 * cannot be read so, as the page itself, and fetches the next one
 * meanwhile.  pgloop frees the params once libpq has them.
 */
static void
calsync_apply(struct calsync *cs, char *body, size_t len)
{
	struct page_query q = { 0 };

	switch (page_as_columns(cs, body, len, &q)) {
	case 0:
		free(body);
		break;
	case -2:
		/* Not a page Google sends; and an empty event takes 4 bytes
		 * a column, so 32 MiB of them would take nearly 1 GB. */
		free(body);
		calsync_fail(cs, "malformed", "a page of more events than "
		    "calendar.page_size asked for");
		return;
	default:
		cs->whole_pages++;
		page_as_json(cs, body, len, &q);
	}
	cs->applying = true;
	cs->queries++;
	pgloop_query_give_formats(cs->d->db, q.sql, q.n, q.p, q.lengths,
	    q.formats, apply_cb, cs);
	if (q.next != NULL)
		calsync_fetch(cs, q.next);
}

static int
apply_counts(struct calsync *cs, const PGresult *res, json_object **r)
{
	json_object *v;

	if ((*r = json_tokener_parse(PQgetvalue(res, 0, 0))) == NULL)
		return -1;
	cs->pages++;
	for (size_t i = 0; i < nitems(count_names); i++)
		if (json_object_object_get_ex(*r, count_names[i], &v))
			cs->counts[i] += json_object_get_int64(v);
	return 0;
}

/*
 * The page the database says comes next: the one fetched ahead when its
 * token is that one (in flight: page_cb takes it), else fetched now.
 */
static void
calsync_next(struct calsync *cs, const char *token)
{
	struct ahead a;
	struct gresp g;
	char *body;

	/* (The token of a page already taken, should Google repeat it, is
	 * neither fetching nor ready: fetched again.) */
	if (cs->fetch_token == NULL || strcmp(cs->fetch_token, token) != 0 ||
	    (!cs->fetching && !cs->ahead.ready)) {
		calsync_drop_ahead(cs);
		calsync_fetch(cs, xstrdup(token));
		return;
	}
	if (cs->fetching)
		return;
	/* Moved out: page_take() may fetch again, or end the job and free cs. */
	a = cs->ahead;
	memset(&cs->ahead, 0, sizeof cs->ahead);
	memset(&g, 0, sizeof g);
	body = a.body;			/* page_take() takes it */
	a.body = NULL;
	g.err = a.err;
	g.status = a.status;
	g.body = body != NULL ? body : "";
	g.body_len = a.body_len;
	g.reason = a.reason;
	g.message = a.message;
	g.retry_after_ms = a.retry_after_ms;
	page_take(cs, &g, body);
	ahead_clear(&a);
}

static void
apply_cb(const PGresult *res, const char *error, void *arg)
{
	struct calsync *cs = arg;
	json_object *r, *v;
	const char *next;

	cs->applying = false;
	if (detached(cs))
		return;
	if (error != NULL) {
		/* A page PostgreSQL will not take as JSON is Google's fault. */
		calsync_fail(cs, strstr(error, "json") ? "malformed" : "database",
		    error);
		return;
	}
	if (apply_counts(cs, res, &r) == -1) {
		calsync_fail(cs, "database", "unreadable page result");
		return;
	}
	if (json_object_object_get_ex(r, "gone", &v) ||	/* disconnected */
	    (json_object_object_get_ex(r, "done", &v) &&
	    json_object_get_boolean(v))) {
		json_object_put(r);
		calsync_finish(cs, JOB_DONE, NULL);
		return;
	}
	if ((next = json_get_string(r, "next_page_token")) == NULL)
		calsync_fail(cs, "malformed",
		    "a page with neither nextPageToken nor nextSyncToken");
	else
		calsync_next(cs, next);
	json_object_put(r);
}

/*
 * A page's answer, in its turn: no other page is being applied.  body is
 * its body when already taken from the HTTP layer (the page fetched
 * ahead), else NULL.
 */
static void
page_take(struct calsync *cs, const struct gresp *g, char *body)
{
	if (g->err != GERR_OK) {
		free(body);
		body = NULL;
	}
	switch (g->err) {
	case GERR_OK:
		calsync_apply(cs, body != NULL ? body : google_take_body(g),
		    g->body_len);
		return;
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
}

static void
page_cb(const struct gresp *g, void *arg)
{
	struct calsync *cs = arg;

	cs->fetching = false;
	if (cs->applying)
		ahead_store(&cs->ahead, g);	/* its turn comes in apply_cb */
	else
		page_take(cs, g, NULL);
}

/* Fetches the page of token (taken; NULL: the first page). */
static void
calsync_fetch(struct calsync *cs, char *token)
{
	const struct conf *c = &cs->d->conf;
	char *url = xasprintf("%s/calendars/primary/events?maxResults=%lld",
	    c->google_calendar_url, (long long)cs->page_size);

	if (cs->sync_token != NULL)
		urlenc_append_param(&url, "syncToken", cs->sync_token);
	else {
		urlenc_append_param(&url, "timeMin", cs->time_min);
		urlenc_append_param(&url, "singleEvents", "false");
	}
	if (token != NULL)
		urlenc_append_param(&url, "pageToken", token);
	free(cs->fetch_token);
	cs->fetch_token = token;
	cs->fetching = true;
	google_call(cs->d, cs->job->tenant_id, cs->conn, "GET", url, NULL,
	    NULL, page_cb, cs);
	free(url);
}

static void
full_started_cb(const PGresult *res, const char *error, void *arg)
{
	struct calsync *cs = arg;

	if (detached(cs))
		return;
	if (error != NULL || PQntuples(res) != 1) {
		calsync_fail(cs, "database", error ? error : "no sync state");
		return;
	}
	free(cs->full_started);
	cs->full_started = xstrdup(PQgetvalue(res, 0, 0));
	calsync_fetch(cs, NULL);
}

static void
calsync_start_full(struct calsync *cs)
{
	const char *p[] = { cs->job->tenant_id, cs->conn };
	time_t t = time(NULL) - (time_t)cs->d->conf.calendar_window_sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(cs->time_min, sizeof cs->time_min, "%Y-%m-%dT%H:%M:%SZ", &tm);
	free(cs->sync_token);
	cs->sync_token = NULL;
	calsync_drop_ahead(cs);
	calsync_query(cs, CALSYNC_SQL_START_FULL, 2, p, full_started_cb);
}

static void
state_cb(const PGresult *res, const char *error, void *arg)
{
	struct calsync *cs = arg;

	if (detached(cs))
		return;
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
		calsync_fetch(cs, NULL);
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
	cs->d = job->d;
	cs->page_size = job->d->conf.calendar_page_size;
	cs->conn = xstrdup(conn);
	job->state = cs;
	job_set_connection(job, cs->conn);
	p[0] = job->tenant_id;
	p[1] = cs->conn;
	calsync_query(cs, CALSYNC_SQL_STATE, 2, p, state_cb);
}

/*
 * At shutdown: the page being fetched is dropped now; a query in flight
 * (the page being applied commits or not on its own) frees the state when
 * it answers.  The lease is released and the sync repeats from its last
 * committed page.
 */
static void
calsync_cancel(struct job *job)
{
	struct calsync *cs = job->state;

	if (cs == NULL)
		return;
	job->state = NULL;
	cs->job = NULL;
	calsync_drop_ahead(cs);
	if (cs->queries == 0)
		calsync_free(cs);
}

const struct job_kind job_calsync_kind = {
	.name = "calsync",
	.start = calsync_start,
	.cancel = calsync_cancel,
};
