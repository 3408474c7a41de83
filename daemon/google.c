/*
 * google: see google.h.
 *
 * Each connection rallyd has called Google for recently has a struct gconn
 * in a hash table: its access token in memory, the calls queued for it,
 * and at most one token fetch (load the row, maybe refresh, store) that
 * every call needing a token waits for.  A call goes through these states:
 *
 *	incoming	google_call() returned; started from the loop
 *	queued		waiting for one of the connection's slots
 *	waiting		holds a slot, waits for the token fetch
 *	sending		holds a slot, its request is with lib/http
 *	deferred	finished early (an error found synchronously);
 *			its callback runs from the loop
 *
 * Callbacks are only ever called from a database, http or timer callback,
 * never from inside google_call() or google_cancel().
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "conf.h"
#include "google.h"
#include "google/oauth.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "msgid.h"
#include "pgloop.h"
#include "rallyd.h"
#include "seal.h"
#include "util.h"
#include "uuid.h"

/* A token that expires sooner than this is refreshed before use. */
#define GOOGLE_REFRESH_MARGIN_SEC 60
/* Google says 3599 s; anything outside this is not believed. */
#define GOOGLE_TOKEN_MIN_TTL_SEC 10
#define GOOGLE_TOKEN_MAX_TTL_SEC 86400
#define GOOGLE_BUCKETS 4096
/* Idle connections whose token has expired are forgotten this often. */
#define GOOGLE_SWEEP_SEC 300
/* Error bodies larger or deeper than this are not parsed. */
#define GOOGLE_ERROR_MAX_BODY (64 * 1024)
#define GOOGLE_ERROR_MAX_DEPTH 16
#define GOOGLE_REASON_MAX 64
#define GOOGLE_METHOD_MAX 16
#define GOOGLE_URL_MAX 8192
#define GOOGLE_ID_MAX 64

#define SQL_LOAD \
	"SELECT refresh_token, access_token," \
	" extract(epoch FROM access_token_expires_at - now())::float8," \
	" status, calendar_enabled, mail_enabled" \
	" FROM rally.google_connections WHERE tenant_id = $1 AND id = $2"

/*
 * Only a connection still in use takes the new token: one disconnected or
 * revoked meanwhile keeps no token.  $3 access token, $4 its lifetime in
 * seconds, $5 a new refresh token or NULL.
 */
#define SQL_STORE \
	"UPDATE rally.google_connections SET access_token = $3::bytea," \
	" access_token_expires_at = now() + make_interval(secs => $4::float8)," \
	" refresh_token = coalesce($5::bytea, refresh_token), updated_at = now()" \
	" WHERE tenant_id = $1 AND id = $2 AND status = 'active'" \
	" AND (calendar_enabled OR mail_enabled) AND refresh_token IS NOT NULL"

/*
 * The user took Rally's access away at Google: in one statement the
 * connection becomes revoked with no integration left (the release_tokens
 * trigger moves its tokens to rally.token_revocations and queues
 * token_revoke, the calendar_off trigger queues the purge of its synced data),
 * and the audit log says so.  $3 the error recorded on the connection.
 */
#define SQL_REVOKE \
	"WITH c AS (SELECT tenant_id, id, calendar_enabled, mail_enabled" \
	"  FROM rally.google_connections WHERE tenant_id = $1 AND id = $2" \
	"  AND status <> 'revoked' FOR UPDATE)," \
	" u AS (UPDATE rally.google_connections g SET status = 'revoked'," \
	"  calendar_enabled = false, mail_enabled = false, last_error = $3," \
	"  last_error_kind = 'revoked', last_error_at = now(), updated_at = now()" \
	"  FROM c WHERE g.tenant_id = c.tenant_id AND g.id = c.id RETURNING g.id)," \
	" a AS (INSERT INTO rally.audit_log (tenant_id, actor, action, detail)" \
	"  SELECT c.tenant_id, 'google', 'google.access_revoked'," \
	"   jsonb_build_object('connection_id', c.id," \
	"    'calendar', c.calendar_enabled, 'mail', c.mail_enabled)" \
	"  FROM c JOIN u ON u.id = c.id)" \
	" SELECT c.calendar_enabled, c.mail_enabled FROM c"

enum call_state {
	CALL_INCOMING,
	CALL_QUEUED,
	CALL_WAITING,
	CALL_SENDING,
	CALL_DEFERRED,
};

enum fetch_state {
	FETCH_IDLE,
	FETCH_LOADING,		/* SQL_LOAD in flight */
	FETCH_REFRESHING,	/* the token request is with lib/http */
	FETCH_STORING,		/* SQL_STORE in flight */
	FETCH_REVOKING,		/* SQL_REVOKE in flight */
};

struct gconn;

struct gcall {
	struct google *g;
	struct gconn *conn;	/* NULL while incoming or when refused */
	enum call_state state;
	char *tenant_id, *connection_id;
	char *method, *url, *if_match;
	char *body;
	size_t body_len;
	google_cb cb;
	void *arg;
	bool has_slot;
	bool reauthed;		/* refreshed once after a 401 already */
	bool cancelled;
	uint64_t token_gen;	/* generation of the token it was sent with */
	struct http_request *req;
	enum gerr err;		/* CALL_DEFERRED: how it ends */
	char *err_msg;
	TAILQ_ENTRY(gcall) entry;	/* the list its state names */
	TAILQ_ENTRY(gcall) all;		/* g->calls */
};

TAILQ_HEAD(gcall_list, gcall);

struct gconn {
	struct google *g;
	char *tenant_id, *id;
	struct log_ctx log;
	char *token;		/* NUL-terminated; wiped when dropped */
	size_t token_len;
	uint64_t usable_until;	/* monotonic usec: refresh from then on */
	uint64_t gen;		/* bumped with every new token */
	enum fetch_state fetch;
	bool force_refresh;	/* a call saw 401 with the current token */
	struct http_request *refresh_req;
	uint64_t refresh_sent;
	char *new_token;	/* refreshed, being stored */
	size_t new_token_len;
	int64_t new_ttl;
	unsigned slots_used;
	double quota;		/* the per-user bucket: calls it may start now */
	uint64_t quota_at;	/* monotonic usec of its last refill */
	struct event *ev_quota;	/* pumps again once the bucket has refilled */
	bool pump_pending;	/* on g->pumps */
	TAILQ_ENTRY(gconn) pump_entry;
	struct gcall_list queue;
	struct gcall_list waiting;
	struct gcall_list sending;
	LIST_ENTRY(gconn) entry;
};

LIST_HEAD(gconn_bucket, gconn);

struct google {
	struct rallyd *d;
	struct gconn_bucket buckets[GOOGLE_BUCKETS];
	size_t nconns;
	struct gcall_list calls;	/* every live call, for google_cancel() */
	struct gcall_list incoming;
	struct gcall_list deferred;
	TAILQ_HEAD(, gconn) pumps;	/* slots freed by google_cancel() */
	struct event *ev_kick;		/* starts incoming, ends deferred */
	struct event *ev_sweep;
};

static void conn_pump(struct gconn *);
static void call_need_token(struct gcall *);

const char *
gerr_kind(enum gerr e)
{
	static const char *const names[] = {
		[GERR_OK] = "ok",
		[GERR_REVOKED] = "revoked",
		[GERR_NOT_CONNECTED] = "not_connected",
		[GERR_AUTH] = "auth",
		[GERR_RATE_LIMITED] = "rate_limited",
		[GERR_UNAVAILABLE] = "unavailable",
		[GERR_NOT_FOUND] = "not_found",
		[GERR_GONE] = "gone",
		[GERR_CONFLICT] = "conflict",
		[GERR_PRECONDITION] = "precondition",
		[GERR_REJECTED] = "rejected",
		[GERR_MALFORMED] = "malformed",
		[GERR_CONFIG] = "config",
	};

	if ((unsigned)e >= nitems(names) || names[e] == NULL)
		return "unknown";
	return names[e];
}

/* ---- helpers shared with job-token-revoke.c ---- */

char *
google_bytea_hex(const unsigned char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *out = xmalloc(2 + 2 * len + 1), *p = out;

	*p++ = '\\';
	*p++ = 'x';
	for (size_t i = 0; i < len; i++) {
		*p++ = hex[buf[i] >> 4];
		*p++ = hex[buf[i] & 0xf];
	}
	*p = '\0';
	return out;
}

int
google_token_open(const struct keyring *kr, const char *tenant_id,
    const char *row_id, const char *column, const char *bytea, char **token,
    size_t *len, char **cause)
{
	struct seal_ad ad = { tenant_id, row_id, column };
	unsigned char *raw, *pt;
	size_t rawlen, ptlen;
	int rc;

	if (kr == NULL)
		return set_cause(cause, "no keyring");
	raw = PQunescapeBytea((const unsigned char *)bytea, &rawlen);
	if (raw == NULL)
		return set_cause(cause, "%s: not a bytea value", column);
	rc = seal_open(kr, &ad, raw, rawlen, &pt, &ptlen, cause);
	PQfreemem(raw);
	if (rc == -1)
		return -1;
	if (ptlen == 0 || memchr(pt, '\0', ptlen) != NULL) {
		secure_free(pt, ptlen);
		return set_cause(cause, "%s: not a token", column);
	}
	*token = (char *)pt;
	*len = ptlen;
	return 0;
}

bool
google_token_key_missing(const struct keyring *kr, const char *bytea)
{
	unsigned char *raw;
	size_t rawlen;
	uint32_t id;
	bool missing;

	if (kr == NULL || bytea == NULL)
		return false;
	if ((raw = PQunescapeBytea((const unsigned char *)bytea, &rawlen)) == NULL)
		return false;
	missing = seal_key_id(raw, rawlen, &id) == 0 && !keyring_has(kr, id);
	PQfreemem(raw);
	return missing;
}

char *
google_token_seal(const struct keyring *kr, const char *tenant_id,
    const char *row_id, const char *column, const char *token, char **cause)
{
	struct seal_ad ad = { tenant_id, row_id, column };
	unsigned char *sealed;
	size_t len;
	char *hex;

	if (kr == NULL) {
		set_cause(cause, "no keyring");
		return NULL;
	}
	if (seal_seal(kr, &ad, token, strlen(token), &sealed, &len,
	    cause) == -1)
		return NULL;
	hex = google_bytea_hex(sealed, len);
	free(sealed);
	return hex;
}

/* One line, at most GOOGLE_MESSAGE_MAX bytes, secrets masked; caller frees. */
char *
google_sanitize(const char *s)
{
	char *r = log_redact(s != NULL ? s : "");
	size_t n = strlen(r);

	for (char *p = r; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (n > GOOGLE_MESSAGE_MAX) {
		n = GOOGLE_MESSAGE_MAX;
		/* Do not cut a UTF-8 sequence in two. */
		while (n > 0 && ((unsigned char)r[n] & 0xc0) == 0x80)
			n--;
		r[n] = '\0';
	}
	return r;
}

/* ---- Google's error bodies ---- */

struct gerror {
	char reason[GOOGLE_REASON_MAX + 1];
	char *message;		/* sanitized, or NULL */
};

static bool
reason_ok(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (n >= GOOGLE_REASON_MAX || !(isalnum((unsigned char)*s) ||
		    *s == '_' || *s == '.' || *s == '-'))
			return false;
	return n > 0;
}

static void
gerror_set(struct gerror *ge, const char *reason, const char *message)
{
	if (reason != NULL && reason_ok(reason))
		snprintf(ge->reason, sizeof ge->reason, "%s", reason);
	if (message != NULL)
		ge->message = google_sanitize(message);
}

/*
 * {"error": {"code", "message", "errors": [{"reason"}]}} from the APIs, or
 * {"error": "...", "error_description": "..."} from OAuth endpoints.
 * Anything else leaves ge empty.
 */
static void
gerror_parse(const struct http_response *r, struct gerror *ge)
{
	json_object *doc, *err, *errors, *first;

	memset(ge, 0, sizeof *ge);
	if (r->err != HTTP_OK || r->body_len == 0)
		return;
	doc = json_parse_limited(r->body, r->body_len, GOOGLE_ERROR_MAX_BODY,
	    GOOGLE_ERROR_MAX_DEPTH, NULL);
	if (doc == NULL)
		return;
	if (!json_object_object_get_ex(doc, "error", &err))
		goto done;
	if (json_object_is_type(err, json_type_string)) {
		gerror_set(ge, json_object_get_string(err),
		    json_get_string(doc, "error_description"));
		goto done;
	}
	if (!json_object_is_type(err, json_type_object))
		goto done;
	first = NULL;
	if (json_object_object_get_ex(err, "errors", &errors) &&
	    json_object_is_type(errors, json_type_array) &&
	    json_object_array_length(errors) > 0)
		first = json_object_array_get_idx(errors, 0);
	gerror_set(ge, json_get_string(first, "reason"),
	    json_get_string(err, "message"));
done:
	json_object_put(doc);
}

static bool
reason_is(const struct gerror *ge, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(ge->reason, *list) == 0)
			return true;
	return false;
}

/* Reasons of a 403 that are rate limits; quotaExceeded is daily: not retried. */
static const char *const rate_reasons[] = {
	"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded",
	"dailyLimitExceeded", NULL,
};
static const char *const retry_reasons[] = {
	"rateLimitExceeded", "userRateLimitExceeded", NULL,
};

static bool
google_should_retry_cb(const struct http_response *r, void *arg)
{
	struct gerror ge;
	bool retry;

	if (http_default_should_retry(r))
		return true;
	if (r->err != HTTP_OK || r->status != 403)
		return false;
	gerror_parse(r, &ge);
	retry = reason_is(&ge, retry_reasons);
	free(ge.message);
	return retry;
}

static enum gerr
classify_status(long status, const struct gerror *ge)
{
	if (status >= 200 && status < 300)
		return GERR_OK;
	switch (status) {
	case 401:
		return GERR_AUTH;
	case 403:
		return reason_is(ge, rate_reasons) ? GERR_RATE_LIMITED :
		    GERR_REJECTED;
	case 404:
		return GERR_NOT_FOUND;
	case 409:
		return GERR_CONFLICT;
	case 410:
		return GERR_GONE;
	case 412:
		return GERR_PRECONDITION;
	case 429:
		return GERR_RATE_LIMITED;
	}
	if (status >= 500 && status < 600)
		return GERR_UNAVAILABLE;
	if (status >= 400 && status < 500)
		return GERR_REJECTED;
	return GERR_MALFORMED;	/* 1xx, 3xx: Google does not send these */
}

static enum gerr
classify_transport(enum http_err e)
{
	switch (e) {
	case HTTP_ERR_TOO_LARGE:
	case HTTP_ERR_PROTOCOL:
		return GERR_MALFORMED;
	default:
		return GERR_UNAVAILABLE;
	}
}

/* ---- connections ---- */

static uint32_t
conn_hash(const char *tenant_id, const char *id)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *s = tenant_id; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *s = id; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % GOOGLE_BUCKETS;
}

static void
conn_drop_token(struct gconn *c)
{
	if (c->token != NULL)
		secure_free(c->token, c->token_len);
	c->token = NULL;
	c->token_len = 0;
	c->usable_until = 0;
}

static void
conn_drop_new_token(struct gconn *c)
{
	if (c->new_token != NULL)
		secure_free(c->new_token, c->new_token_len);
	c->new_token = NULL;
	c->new_token_len = 0;
}

/* Takes token (a secure_free()able string) as the connection's token. */
static void
conn_set_token(struct gconn *c, char *token, size_t len, int64_t ttl_sec)
{
	int64_t margin = GOOGLE_REFRESH_MARGIN_SEC;

	conn_drop_token(c);
	if (margin > ttl_sec / 2)
		margin = ttl_sec / 2;
	c->token = token;
	c->token_len = len;
	c->usable_until = now_usec() + (uint64_t)(ttl_sec - margin) * 1000000;
	c->gen++;
	/* A new token is not the one a 401 condemned. */
	c->force_refresh = false;
}

static bool
conn_token_usable(const struct gconn *c)
{
	return c->token != NULL && now_usec() < c->usable_until;
}

static struct gconn *
conn_get(struct google *g, const char *tenant_id, const char *id)
{
	struct gconn_bucket *b = &g->buckets[conn_hash(tenant_id, id)];
	struct gconn *c;

	LIST_FOREACH(c, b, entry)
		if (strcmp(c->id, id) == 0 && strcmp(c->tenant_id, tenant_id) == 0)
			return c;
	c = xcalloc(1, sizeof *c);
	c->g = g;
	c->tenant_id = xstrdup(tenant_id);
	c->id = xstrdup(id);
	c->log.tenant = c->tenant_id;
	c->log.connection = c->id;
	TAILQ_INIT(&c->queue);
	TAILQ_INIT(&c->waiting);
	TAILQ_INIT(&c->sending);
	LIST_INSERT_HEAD(b, c, entry);
	g->nconns++;
	return c;
}

static bool
conn_idle(const struct gconn *c)
{
	return c->fetch == FETCH_IDLE && c->slots_used == 0 && !c->pump_pending &&
	    (c->ev_quota == NULL || !evtimer_pending(c->ev_quota, NULL)) &&
	    TAILQ_EMPTY(&c->queue) && TAILQ_EMPTY(&c->waiting) &&
	    TAILQ_EMPTY(&c->sending);
}

/* Requests and queries still in flight are dropped by http_free and pgloop_free. */
static void
conn_free(struct gconn *c)
{
	LIST_REMOVE(c, entry);
	c->g->nconns--;
	if (c->ev_quota != NULL)
		event_free(c->ev_quota);
	conn_drop_token(c);
	conn_drop_new_token(c);
	free(c->tenant_id);
	free(c->id);
	free(c);
}

/* ---- calls ---- */

static void
call_free(struct gcall *call)
{
	TAILQ_REMOVE(&call->g->calls, call, all);
	free(call->tenant_id);
	free(call->connection_id);
	free(call->method);
	if (call->url != NULL)
		secure_free(call->url, strlen(call->url));
	free(call->if_match);
	secure_free(call->body, call->body_len);
	free(call->err_msg);
	free(call);
}

/* Takes the call out of the list its state names. */
static void
call_unlink(struct gcall *call)
{
	struct gconn *c = call->conn;

	switch (call->state) {
	case CALL_INCOMING:
		TAILQ_REMOVE(&call->g->incoming, call, entry);
		break;
	case CALL_DEFERRED:
		TAILQ_REMOVE(&call->g->deferred, call, entry);
		break;
	case CALL_QUEUED:
		TAILQ_REMOVE(&c->queue, call, entry);
		break;
	case CALL_WAITING:
		TAILQ_REMOVE(&c->waiting, call, entry);
		break;
	case CALL_SENDING:
		TAILQ_REMOVE(&c->sending, call, entry);
		break;
	}
	if (call->has_slot) {
		c->slots_used--;
		call->has_slot = false;
	}
}

/*
 * Ends an unlinked call: its callback, then the call is freed.  The caller
 * pumps the connection afterwards, so a freed slot is used again.
 */
static void
call_end(struct gcall *call, const struct gresp *r)
{
	if (r->err != GERR_OK)
		log_emit(LOG_DEBUG, NULL, call->conn != NULL ? &call->conn->log :
		    NULL, "google: %s %s: %s (%s)", call->method,
		    call->conn != NULL ? "call" : "refused call", gerr_kind(r->err),
		    r->message);
	call->cb(r, call->arg);
	call_free(call);
}

static void
call_end_err(struct gcall *call, enum gerr err, const char *message)
{
	struct gresp r = { .err = err, .body = "", .reason = "",
		.retry_after_ms = -1 };
	char *msg = google_sanitize(message);

	r.message = msg;
	call_end(call, &r);
	free(msg);
}

static void
kick(struct google *g)
{
	event_active(g->ev_kick, EV_TIMEOUT, 0);
}

/* Ends the call from the loop, not from the caller's stack. */
static void
call_defer(struct gcall *call, enum gerr err, const char *message)
{
	call_unlink(call);
	call->state = CALL_DEFERRED;
	call->err = err;
	free(call->err_msg);
	call->err_msg = xstrdup(message);
	TAILQ_INSERT_TAIL(&call->g->deferred, call, entry);
	kick(call->g);
}

/* Ends every call of the connection that waits or is queued (a failed fetch). */
static void
conn_fail_all(struct gconn *c, enum gerr err, const char *message)
{
	struct gcall_list dead = TAILQ_HEAD_INITIALIZER(dead);
	struct gcall *call;

	c->fetch = FETCH_IDLE;
	c->force_refresh = false;
	while ((call = TAILQ_FIRST(&c->waiting)) != NULL) {
		call_unlink(call);
		TAILQ_INSERT_TAIL(&dead, call, entry);
	}
	while ((call = TAILQ_FIRST(&c->queue)) != NULL) {
		call_unlink(call);
		TAILQ_INSERT_TAIL(&dead, call, entry);
	}
	while ((call = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, call, entry);
		call_end_err(call, err, message);
	}
	conn_pump(c);
}

/* ---- sending ---- */

static void
call_done_cb(const struct http_response *hr, void *arg)
{
	struct gcall *call = arg;
	struct gconn *c = call->conn;
	struct gerror ge;
	struct gresp r;
	char *msg;

	call->req = NULL;
	if (call->cancelled)
		return;		/* google_cancel() frees it */
	if (hr->err == HTTP_OK && hr->status == 401 && !call->reauthed) {
		/* The token may have been revoked or expired early: once more. */
		call->reauthed = true;
		TAILQ_REMOVE(&c->sending, call, entry);
		if (call->token_gen == c->gen) {
			conn_drop_token(c);
			c->force_refresh = true;
		}
		call_need_token(call);
		return;
	}
	if (hr->err == HTTP_OK && (hr->status < 200 || hr->status >= 300))
		gerror_parse(hr, &ge);
	else
		memset(&ge, 0, sizeof ge);
	memset(&r, 0, sizeof r);
	r.retry_after_ms = hr->retry_after_ms;
	r.status = hr->status;
	r.body = hr->body;
	r.body_len = hr->body_len;
	r.reason = ge.reason;
	if (hr->err != HTTP_OK) {
		r.err = classify_transport(hr->err);
		msg = xasprintf("%s", hr->error != NULL ? hr->error : "failed");
	} else {
		r.err = classify_status(hr->status, &ge);
		msg = r.err == GERR_OK ? xstrdup("") :
		    xasprintf("HTTP %ld%s%s%s%s", hr->status,
		    ge.reason[0] != '\0' ? " " : "", ge.reason,
		    ge.message != NULL ? ": " : "",
		    ge.message != NULL ? ge.message : "");
	}
	free(ge.message);
	r.message = google_sanitize(msg);
	free(msg);
	call_unlink(call);
	call_end(call, &r);
	free((char *)r.message);
	conn_pump(c);
}

static void
call_send(struct gcall *call)
{
	struct gconn *c = call->conn;
	struct http_request *req;

	req = http_request_new(call->method, call->url);
	http_request_bearer(req, c->token);
	if (call->body != NULL)
		http_request_body(req, "application/json", call->body,
		    call->body_len);
	if (call->if_match != NULL)
		http_request_header(req, "If-Match", call->if_match);
	http_request_retry_if(req, google_should_retry_cb);
	call->token_gen = c->gen;
	call->state = CALL_SENDING;
	TAILQ_INSERT_TAIL(&c->sending, call, entry);
	call->req = req;
	if (http_submit(c->g->d->http, req, call_done_cb, call) == -1) {
		call->req = NULL;
		call_defer(call, GERR_REJECTED,
		    "the request was refused before sending (URL or header)");
	}
}

/* Sends every call that waited for the token the fetch just installed. */
static void
conn_dispatch(struct gconn *c)
{
	struct gcall *call;

	c->fetch = FETCH_IDLE;
	while ((call = TAILQ_FIRST(&c->waiting)) != NULL) {
		TAILQ_REMOVE(&c->waiting, call, entry);
		call_send(call);
	}
	conn_pump(c);
}

/* ---- the token fetch ---- */

static void conn_fetch(struct gconn *);

static void
revoke_cb(const PGresult *res, const char *error, void *arg)
{
	struct gconn *c = arg;

	if (error != NULL) {
		log_emit(LOG_WARNING, NULL, &c->log, "google: could not record "
		    "that access was revoked, trying again at the next call: %s",
		    error);
		conn_fail_all(c, GERR_UNAVAILABLE, "access was revoked at Google; "
		    "recording it failed");
		return;
	}
	/* No row: another instance, or a disconnect, got there first. */
	if (PQntuples(res) == 1)
		log_emit(LOG_NOTICE, MSGID_GOOGLE_REVOKED, &c->log,
		    "google: access was revoked at Google (invalid_grant): "
		    "connection revoked, its tokens queued for revocation and "
		    "its synced %s queued for purging",
		    strcmp(PQgetvalue(res, 0, 1), "t") == 0 ?
		    "calendar and mail" : "calendar");
	conn_fail_all(c, GERR_REVOKED, "access was revoked at Google");
}

static void
conn_revoke(struct gconn *c, const char *cause)
{
	char *why = google_sanitize(cause);
	char *msg = xasprintf("access revoked at Google: %s", why);
	const char *params[] = { c->tenant_id, c->id, msg };

	conn_drop_token(c);
	c->fetch = FETCH_REVOKING;
	pgloop_query(c->g->d->db, SQL_REVOKE, 3, params, revoke_cb, c);
	free(msg);
	free(why);
}

static void
store_cb(const PGresult *res, const char *error, void *arg)
{
	struct gconn *c = arg;

	if (error != NULL) {
		conn_drop_new_token(c);
		conn_fail_all(c, GERR_UNAVAILABLE, "could not store the "
		    "refreshed access token");
		return;
	}
	if (atol(PQcmdTuples((PGresult *)res)) != 1) {
		/* Disconnected or revoked while refreshing: the token is not ours. */
		conn_drop_new_token(c);
		conn_fail_all(c, GERR_NOT_CONNECTED, "the connection is no "
		    "longer active");
		return;
	}
	conn_set_token(c, c->new_token, c->new_token_len, c->new_ttl);
	c->new_token = NULL;
	c->new_token_len = 0;
	conn_dispatch(c);
}

/* Seals and stores a refreshed token; takes tok's members it keeps. */
static void
conn_store(struct gconn *c, struct oauth_tokens *tok)
{
	const struct keyring *kr = c->g->d->keyring;
	uint64_t elapsed = (now_usec() - c->refresh_sent) / 1000000;
	char *at_hex, *rt_hex = NULL, *cause = NULL, ttl[32];
	const char *params[5];
	int64_t lifetime = tok->expires_in;

	if (lifetime < GOOGLE_TOKEN_MIN_TTL_SEC)
		lifetime = GOOGLE_TOKEN_MIN_TTL_SEC;
	if (lifetime > GOOGLE_TOKEN_MAX_TTL_SEC)
		lifetime = GOOGLE_TOKEN_MAX_TTL_SEC;
	/* Counted from when the request left: Google's clock started then. */
	if ((uint64_t)lifetime > elapsed + 1)
		lifetime -= (int64_t)elapsed;
	at_hex = google_token_seal(kr, c->tenant_id, c->id, "access_token",
	    tok->access_token, &cause);
	if (at_hex != NULL && tok->refresh_token != NULL)
		rt_hex = google_token_seal(kr, c->tenant_id, c->id,
		    "refresh_token", tok->refresh_token, &cause);
	if (at_hex == NULL || (tok->refresh_token != NULL && rt_hex == NULL)) {
		conn_fail_all(c, GERR_CONFIG, cause);
		free(cause);
		free(at_hex);
		return;
	}
	c->new_token_len = strlen(tok->access_token);
	c->new_token = tok->access_token;
	tok->access_token = NULL;
	c->new_ttl = lifetime;
	snprintf(ttl, sizeof ttl, "%lld", (long long)lifetime);
	params[0] = c->tenant_id;
	params[1] = c->id;
	params[2] = at_hex;
	params[3] = ttl;
	params[4] = rt_hex;
	c->fetch = FETCH_STORING;
	pgloop_query(c->g->d->db, SQL_STORE, 5, params, store_cb, c);
	free(at_hex);
	free(rt_hex);
}

static void
refresh_cb(const struct http_response *hr, void *arg)
{
	struct gconn *c = arg;
	struct oauth_tokens tok = { 0 };
	char *cause = NULL, *msg;
	enum oauth_result rc;

	c->refresh_req = NULL;
	rc = oauth_parse_token_response(hr, &tok, &cause);
	if (rc == OAUTH_OK) {
		log_emit(LOG_DEBUG, NULL, &c->log, "google: refreshed the access "
		    "token (valid %lld s)", (long long)tok.expires_in);
		conn_store(c, &tok);
		oauth_tokens_clear(&tok);
		return;
	}
	oauth_tokens_clear(&tok);
	if (rc == OAUTH_INVALID_GRANT) {
		conn_revoke(c, cause != NULL ? cause : "invalid_grant");
		free(cause);
		return;
	}
	msg = xasprintf("token refresh: %s", cause != NULL ? cause : "failed");
	switch (rc) {
	case OAUTH_TRANSIENT:
		conn_fail_all(c, GERR_UNAVAILABLE, msg);
		break;
	case OAUTH_INVALID_CLIENT:
		log_emit(LOG_WARNING, NULL, &c->log, "google: %s (check "
		    "google.client_id and google.client_secret_file)", msg);
		conn_fail_all(c, GERR_CONFIG, msg);
		break;
	case OAUTH_MALFORMED:
		conn_fail_all(c, GERR_MALFORMED, msg);
		break;
	default:
		conn_fail_all(c, GERR_AUTH, msg);
		break;
	}
	free(msg);
	free(cause);
}

/* Asks Google for a new access token with the refresh token (bytea text). */
static void
conn_refresh(struct gconn *c, const char *refresh_bytea)
{
	struct oauth_client client;
	struct http_request *req;
	char *rt = NULL, *secret = NULL, *cause = NULL;
	size_t rtlen;

	if (google_token_open(c->g->d->keyring, c->tenant_id, c->id,
	    "refresh_token", refresh_bytea, &rt, &rtlen, &cause) == -1) {
		log_emit(LOG_WARNING, NULL, &c->log, "google: the stored refresh "
		    "token does not open: %s", cause);
		conn_fail_all(c, GERR_CONFIG, cause);
		free(cause);
		return;
	}
	if (oauth_client_from_conf(&c->g->d->conf, &client, &secret,
	    &cause) == -1) {
		secure_free(rt, rtlen);
		conn_fail_all(c, GERR_CONFIG, cause);
		free(cause);
		return;
	}
	req = oauth_refresh_request(&client, rt);
	secure_free(rt, rtlen);
	if (secret != NULL)
		secure_free(secret, strlen(secret));
	c->fetch = FETCH_REFRESHING;
	c->refresh_sent = now_usec();
	c->refresh_req = req;
	if (http_submit(c->g->d->http, req, refresh_cb, c) == -1) {
		c->refresh_req = NULL;
		conn_fail_all(c, GERR_CONFIG, "the token request was refused "
		    "(google.token_url)");
	}
}

/* Opens the stored access token when it is good for a while yet; 0 or -1. */
static int
conn_take_stored(struct gconn *c, const PGresult *res)
{
	char *token, *cause = NULL;
	size_t len;
	double ttl;

	if (PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 2))
		return -1;
	ttl = atof(PQgetvalue(res, 0, 2));
	if (ttl <= GOOGLE_REFRESH_MARGIN_SEC || ttl > GOOGLE_TOKEN_MAX_TTL_SEC)
		return -1;
	if (google_token_open(c->g->d->keyring, c->tenant_id, c->id,
	    "access_token", PQgetvalue(res, 0, 1), &token, &len,
	    &cause) == -1) {
		log_emit(LOG_WARNING, NULL, &c->log, "google: the stored access "
		    "token does not open, refreshing instead: %s", cause);
		free(cause);
		return -1;
	}
	conn_set_token(c, token, len, (int64_t)ttl);
	return 0;
}

static void
load_cb(const PGresult *res, const char *error, void *arg)
{
	struct gconn *c = arg;
	bool force = c->force_refresh;

	c->force_refresh = false;
	if (error != NULL) {
		conn_fail_all(c, GERR_UNAVAILABLE, error);
		return;
	}
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 3), "active") != 0 ||
	    PQgetisnull(res, 0, 0) || (strcmp(PQgetvalue(res, 0, 4), "t") != 0 &&
	    strcmp(PQgetvalue(res, 0, 5), "t") != 0)) {
		conn_fail_all(c, GERR_NOT_CONNECTED, "no active connection with "
		    "tokens");
		return;
	}
	if (c->g->d->keyring == NULL) {
		conn_fail_all(c, GERR_CONFIG, "no keyring");
		return;
	}
	if (!force && conn_take_stored(c, res) == 0) {
		conn_dispatch(c);
		return;
	}
	conn_refresh(c, PQgetvalue(res, 0, 0));
}

static void
conn_fetch(struct gconn *c)
{
	const char *params[] = { c->tenant_id, c->id };

	if (c->fetch != FETCH_IDLE)
		return;		/* single flight: the waiters get its token */
	c->fetch = FETCH_LOADING;
	log_emit(LOG_DEBUG, NULL, &c->log, "google: loading the tokens of "
	    "connection %s", c->id);
	pgloop_query(c->g->d->db, SQL_LOAD, 2, params, load_cb, c);
}

/* A call holding a slot: send it with the token, or wait for one. */
static void
call_need_token(struct gcall *call)
{
	struct gconn *c = call->conn;

	if (c->fetch == FETCH_IDLE && conn_token_usable(c)) {
		call_send(call);
		return;
	}
	call->state = CALL_WAITING;
	TAILQ_INSERT_TAIL(&c->waiting, call, entry);
	conn_fetch(c);
}

static void
quota_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_pump(arg);
}

/*
 * The per-user quota bucket: google.user_rate calls a second on average,
 * google.user_burst at once.  Returns whether a call may start now; if not,
 * arms a timer to pump again when one may.
 */
static bool
conn_quota_take(struct gconn *c)
{
	const struct conf *conf = &c->g->d->conf;
	double rate = (double)conf->google_user_rate;
	double burst = (double)conf->google_user_burst;
	uint64_t now = now_usec();
	struct timeval tv;
	double wait;

	if (c->quota_at == 0)
		c->quota = burst;
	else
		c->quota += (double)(now - c->quota_at) / 1e6 * rate;
	if (c->quota > burst)
		c->quota = burst;
	c->quota_at = now;
	if (c->quota >= 1) {
		c->quota -= 1;
		return true;
	}
	if (c->ev_quota == NULL)
		c->ev_quota = evtimer_new(c->g->d->base, quota_cb, c);
	wait = (1 - c->quota) / rate;
	tv.tv_sec = (long)wait;
	tv.tv_usec = (long)((wait - (double)tv.tv_sec) * 1e6) + 1;
	evtimer_add(c->ev_quota, &tv);
	return false;
}

/* Starts queued calls while the connection has free slots and quota. */
static void
conn_pump(struct gconn *c)
{
	struct gcall *call;

	while (c->slots_used < GOOGLE_MAX_PER_CONNECTION &&
	    (call = TAILQ_FIRST(&c->queue)) != NULL && conn_quota_take(c)) {
		TAILQ_REMOVE(&c->queue, call, entry);
		call->has_slot = true;
		c->slots_used++;
		call_need_token(call);
	}
}

/* ---- from the loop ---- */

static bool
id_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; *s != '\0'; s++, n++)
		if (n >= GOOGLE_ID_MAX || !(isxdigit((unsigned char)*s) ||
		    *s == '-'))
			return false;
	return n > 0;
}

static const char *
call_problem(const struct gcall *call)
{
	if (!id_ok(call->tenant_id) || !id_ok(call->connection_id))
		return "not a tenant and connection id";
	if (call->method[0] == '\0' || strlen(call->method) > GOOGLE_METHOD_MAX)
		return "no method";
	if (call->url[0] == '\0' || strlen(call->url) > GOOGLE_URL_MAX)
		return "no URL, or one too long";
	return NULL;
}

static void
start_incoming(struct gcall *call)
{
	struct gconn *c;
	const char *problem = call_problem(call);

	TAILQ_REMOVE(&call->g->incoming, call, entry);
	if (problem != NULL) {
		call_end_err(call, id_ok(call->tenant_id) &&
		    id_ok(call->connection_id) ? GERR_REJECTED :
		    GERR_NOT_CONNECTED, problem);
		return;
	}
	c = conn_get(call->g, call->tenant_id, call->connection_id);
	call->conn = c;
	call->state = CALL_QUEUED;
	TAILQ_INSERT_TAIL(&c->queue, call, entry);
	conn_pump(c);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct google *g = arg;
	struct gcall *call;
	struct gconn *c;

	while ((call = TAILQ_FIRST(&g->deferred)) != NULL) {
		TAILQ_REMOVE(&g->deferred, call, entry);
		c = call->conn;
		call_end_err(call, call->err, call->err_msg);
		if (c != NULL)
			conn_pump(c);
	}
	while ((c = TAILQ_FIRST(&g->pumps)) != NULL) {
		TAILQ_REMOVE(&g->pumps, c, pump_entry);
		c->pump_pending = false;
		conn_pump(c);
	}
	while ((call = TAILQ_FIRST(&g->incoming)) != NULL)
		start_incoming(call);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct google *g = arg;
	struct gconn *c, *next;

	for (size_t i = 0; i < GOOGLE_BUCKETS; i++)
		for (c = LIST_FIRST(&g->buckets[i]); c != NULL; c = next) {
			next = LIST_NEXT(c, entry);
			if (conn_idle(c) && !conn_token_usable(c))
				conn_free(c);
		}
}

/* ---- public ---- */

struct google *
google_new(struct rallyd *d)
{
	struct google *g = xcalloc(1, sizeof *g);
	struct timeval tv = { GOOGLE_SWEEP_SEC, 0 };

	g->d = d;
	for (size_t i = 0; i < GOOGLE_BUCKETS; i++)
		LIST_INIT(&g->buckets[i]);
	TAILQ_INIT(&g->calls);
	TAILQ_INIT(&g->incoming);
	TAILQ_INIT(&g->deferred);
	TAILQ_INIT(&g->pumps);
	g->ev_kick = evtimer_new(d->base, kick_cb, g);
	g->ev_sweep = event_new(d->base, -1, EV_PERSIST, sweep_cb, g);
	if (g->ev_kick == NULL || g->ev_sweep == NULL)
		fatalx("google: cannot create timers");
	event_add(g->ev_sweep, &tv);
	return g;
}

void
google_free(struct google *g)
{
	struct gcall *call;
	struct gconn *c;

	if (g == NULL)
		return;
	/* Requests and queries in flight die with http_free and pgloop_free. */
	while ((call = TAILQ_FIRST(&g->calls)) != NULL)
		call_free(call);
	for (size_t i = 0; i < GOOGLE_BUCKETS; i++)
		while ((c = LIST_FIRST(&g->buckets[i])) != NULL)
			conn_free(c);
	event_free(g->ev_kick);
	event_free(g->ev_sweep);
	free(g);
}

void
google_call(struct rallyd *d, const char *tenant_id, const char *connection_id,
    const char *method, const char *url, json_object *body,
    const char *if_match, google_cb cb, void *arg)
{
	struct google *g = d->google;
	struct gcall *call = xcalloc(1, sizeof *call);
	char tid[UUID_STR_LEN], cid[UUID_STR_LEN];
	const char *json;

	/*
	 * The ids go into a token's associated data, which only the
	 * canonical spelling opens; anything else finds no connection.
	 */
	uuid_canonical(tenant_id, tid);
	uuid_canonical(connection_id, cid);
	call->g = g;
	call->tenant_id = xstrdup(tid);
	call->connection_id = xstrdup(cid);
	call->method = xstrdup(method != NULL ? method : "");
	call->url = xstrdup(url != NULL ? url : "");
	if (if_match != NULL)
		call->if_match = xstrdup(if_match);
	if (body != NULL) {
		json = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		call->body_len = strlen(json);
		call->body = xstrdup(json);
	}
	call->cb = cb;
	call->arg = arg;
	call->state = CALL_INCOMING;
	TAILQ_INSERT_TAIL(&g->calls, call, all);
	TAILQ_INSERT_TAIL(&g->incoming, call, entry);
	kick(g);
}

void
google_forget(struct rallyd *d, const char *tenant_id,
    const char *connection_id)
{
	struct google *g = d->google;
	struct gconn *c;

	LIST_FOREACH(c, &g->buckets[conn_hash(tenant_id, connection_id)], entry)
		if (strcmp(c->id, connection_id) == 0 &&
		    strcmp(c->tenant_id, tenant_id) == 0) {
			conn_drop_token(c);
			return;
		}
}

void
google_cancel(struct rallyd *d, void *arg)
{
	struct google *g = d->google;
	struct gcall *call, *next;
	struct gconn *c;

	for (call = TAILQ_FIRST(&g->calls); call != NULL; call = next) {
		next = TAILQ_NEXT(call, all);
		if (call->arg != arg)
			continue;
		c = call->conn;
		if (call->req != NULL) {
			/* Its callback runs now and sees the flag. */
			call->cancelled = true;
			http_cancel(g->d->http, call->req);
		}
		call_unlink(call);
		call_free(call);
		/* A freed slot is used again from the loop, never from here. */
		if (c != NULL && !c->pump_pending) {
			c->pump_pending = true;
			TAILQ_INSERT_TAIL(&g->pumps, c, pump_entry);
			kick(g);
		}
	}
}
