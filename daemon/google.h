/* SPDX-License-Identifier: ISC */
/*
 * google: how rallyd's jobs call Google's APIs for one connection.
 *
 * google_call() finds a usable access token for the connection (opening
 * the sealed copy in rally.google_connections, refreshing it shortly before
 * it expires and storing the new one sealed), sends the request with it,
 * and on 401 refreshes once and retries.  When Google answers the refresh
 * with invalid_grant the user revoked Rally's access: the connection
 * becomes 'revoked' in the database (its tokens leave the row at once) and
 * its synced data is queued for purging, as on a disconnect.
 *
 * Rate limits (429, 403 rateLimitExceeded/userRateLimitExceeded) and 5xx
 * are retried by lib/http with backoff honouring Retry-After; what is still
 * failing after that reaches the caller as a typed error.  403
 * quotaExceeded (a daily quota) is not retried: it is GERR_RATE_LIMITED at
 * once.
 *
 * The access token is cached in memory per connection (wiped when dropped),
 * so a burst of calls costs one database read, not one per call; it is
 * refreshed when it expires within 60 seconds.  Concurrent calls of one
 * connection share one load or refresh (single flight).
 *
 * Fairness: at most GOOGLE_MAX_PER_CONNECTION calls of one connection are
 * in progress at once (waiting for the token or with lib/http); the rest
 * wait in FIFO order.  A huge account thus never holds more than that many
 * of the http.max_connections connections, and other users' calls go on.
 *
 * Priority: a bulk call (google_call_bulk: a first import's listing and
 * fetches, a reconcile) spends quota only when no ordinary call (a send,
 * an incremental sync, a label change) waits for it, of its own
 * connection or, for the per-project bucket, of any connection; it never
 * holds the connection's last slot.  google-project.c has the project
 * bucket, shared by every instance through PostgreSQL.
 *
 * Used by the job kinds that talk to Google; main() creates and frees the
 * one struct google (d->google) after d->http and d->db.
 */
#ifndef RALLYD_GOOGLE_H
#define RALLYD_GOOGLE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* Calls of one connection in progress at once; the rest wait their turn. */
#define GOOGLE_MAX_PER_CONNECTION 4
/* Longest gresp.message, in bytes. */
#define GOOGLE_MESSAGE_MAX 300

struct conf;
struct http_response;
struct rallyd;

enum gerr {
	GERR_OK,		/* 2xx */
	GERR_REVOKED,		/* access revoked: the connection is now revoked */
	GERR_NOT_CONNECTED,	/* no such active connection, or no tokens */
	GERR_AUTH,		/* 401 even with a fresh token */
	GERR_RATE_LIMITED,	/* 429 / 403 rate limits, after retries */
	GERR_UNAVAILABLE,	/* 5xx, network, timeout, after retries */
	GERR_NOT_FOUND,		/* 404 */
	GERR_GONE,		/* 410 (fullSyncRequired, deleted) */
	GERR_CONFLICT,		/* 409 (duplicate id) */
	GERR_PRECONDITION,	/* 412 (If-Match failed) */
	GERR_REJECTED,		/* any other 4xx */
	GERR_MALFORMED,		/* unparseable, oversize or unexpected body */
	GERR_CONFIG,		/* no keyring, no client secret */
};

struct gresp {
	enum gerr err;
	long status;
	const char *body;	/* raw body, NUL-terminated; valid during the call */
	size_t body_len;	/* (unparsed: a sync page goes to SQL as it is) */
	const char *reason;	/* Google's errors[0].reason, or "" */
	const char *message;	/* one line, safe to log and store */
	const char *content_type; /* the response's, NULL when absent */
	long retry_after_ms;	/* Google's Retry-After, -1 if none: a job
				   retries no earlier (job_defer) */
	const struct http_response *http_; /* for google_take_body() */
};

/*
 * In the callback: the body, taken from the HTTP layer rather than copied
 * (a copy when there is none to take); the caller frees it.
 */
char *google_take_body(const struct gresp *);

/* The short name of an error kind, for last_error_kind columns and logs. */
const char *gerr_kind(enum gerr);

typedef void (*google_cb)(const struct gresp *, void *arg);

/*
 * Calls Google for connection (tenant_id, connection_id).  url is absolute;
 * body (borrowed; may be NULL) is sent as JSON; if_match adds If-Match.
 * cb is called exactly once, later, from the event loop.
 */
void google_call(struct rallyd *, const char *tenant_id,
    const char *connection_id, const char *method, const char *url,
    json_object *body, const char *if_match, google_cb cb, void *arg);

/*
 * The same, sent once: no retry after a timeout, a cut answer or a 5xx
 * (lib/http retries those), which may come after Google has done the
 * call.  For what is not idempotent (messages.send): the caller settles
 * whether it was done, as the job does with its lookup.  A 401 is still
 * retried once with a fresh token, as it says the call was not made.
 */
void google_call_once(struct rallyd *, const char *tenant_id,
    const char *connection_id, const char *method, const char *url,
    json_object *body, google_cb cb, void *arg);

/*
 * A POST of body (taken; len bytes of content_type) to url, for Gmail's
 * upload endpoint (google_gmail_upload_url), ordinary priority; sent
 * once, as google_call_once.
 */
void google_call_upload(struct rallyd *, const char *tenant_id,
    const char *connection_id, const char *url, const char *content_type,
    char *body, size_t len, google_cb cb, void *arg);

/*
 * Gmail's upload URL for path ("users/me/messages/send"): google.gmail_url
 * with /upload before its /gmail/v1; NULL when it does not end so.
 * Caller frees.
 */
char *google_gmail_upload_url(const struct conf *, const char *path);

/*
 * A POST of a batch (lib/http-batch.h: body taken, len bytes, boundary
 * its delimiter) of calls inner Gmail calls to url
 * (google_gmail_batch_url), bulk priority, charged what the calls cost
 * one by one (5 units each: messages.get) to both quota buckets.
 */
void google_call_batch(struct rallyd *, const char *tenant_id,
    const char *connection_id, const char *url, const char *boundary,
    char *body, size_t len, unsigned calls, google_cb cb, void *arg);

/*
 * Gmail's batch endpoint: google.gmail_url with /batch before its
 * /gmail/v1; NULL when it does not end so.  Caller frees.
 */
char *google_gmail_batch_url(const struct conf *);

/* The same, for bulk work that yields to every ordinary call. */
void google_call_bulk(struct rallyd *, const char *tenant_id,
    const char *connection_id, const char *method, const char *url,
    json_object *body, const char *if_match, google_cb cb, void *arg);

/*
 * Forgets every call made with arg (a job being cancelled): their
 * callbacks are never called.  Safe from inside a google_cb.
 */
void google_cancel(struct rallyd *, void *arg);

/*
 * Drops the connection's cached access token (its tokens left the row:
 * disconnected or revoked), so no call of this instance uses it again.
 * Other instances notice at their next refresh, or at Google's 401 once
 * token-revoke has revoked the grant.
 */
void google_forget(struct rallyd *, const char *tenant_id,
    const char *connection_id);

struct google *google_new(struct rallyd *);
/* Wipes the cached tokens.  Before http_free() and pgloop_free(). */
void google_free(struct google *);

/*
 * Google's or a server's text made safe to log and store: one line, at
 * most GOOGLE_MESSAGE_MAX bytes, secrets masked (log_redact); caller frees.
 */
char *google_sanitize(const char *);

#endif
