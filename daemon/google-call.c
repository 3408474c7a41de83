/* SPDX-License-Identifier: ISC */
/*
 * google-call: one call's life once it has a connection: waiting for a
 * slot and a token, sent with lib/http, retried once with a fresh token
 * after a 401, sent back to the quota after a Gmail 429, and ended with
 * its callback.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google-int.h"
#include "http.h"
#include "log.h"
#include "rallyd.h"
#include "util.h"

/* A Gmail 429 without Retry-After holds the user's units this long. */
#define CALL_REFUSED_HOLD_MS 1000
/* The longest hold, and the longest Retry-After a refused call waits out
 * in the queue (lib/http's own limit); past it, the call fails to its job. */
#define CALL_REFUSED_MAX_MS 60000

static void
call_destroy(struct gcall *call)
{
	free(call->tenant_id);
	free(call->connection_id);
	free(call->method);
	if (call->url != NULL)
		secure_free(call->url, strlen(call->url));
	free(call->if_match);
	free(call->content_type);
	secure_free(call->body, call->body_len);
	free(call->err_msg);
	free(call);
}

void
gcall_free(struct gcall *call)
{
	TAILQ_REMOVE(&call->g->calls, call, all);
	call_destroy(call);
}

/* Takes the call out of the list its state names. */
void
gcall_unlink(struct gcall *call)
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
		TAILQ_REMOVE(call->bulk ? &c->bulk : &c->queue, call, entry);
		break;
	case CALL_WAITING:
		TAILQ_REMOVE(&c->waiting, call, entry);
		break;
	case CALL_SENDING:
		TAILQ_REMOVE(&c->sending, call, entry);
		break;
	case CALL_ENDING:
		break;
	}
	call->state = CALL_ENDING;
	if (call->has_slot) {
		c->slots_used--;
		if (call->bulk)
			c->bulk_used--;
		call->has_slot = false;
	}
}

/*
 * Ends an unlinked call: its callback, then the call is freed.  The caller
 * pumps the connection afterwards, so a freed slot is used again.  The
 * call leaves g->calls before its callback runs: a job that fails cancels
 * the rest of its calls (google_cancel), which must not find this one and
 * free it under us.  One google_cancel found while it waited to end (on
 * gconn_fail_all's list) ends without its callback.
 */
static void
call_end(struct gcall *call, const struct gresp *r)
{
	if (r->err != GERR_OK)
		log_emit(LOG_DEBUG, NULL, call->conn != NULL ? &call->conn->log :
		    NULL, "google: %s %s: %s (%s)", call->method,
		    call->conn != NULL ? "call" : "refused call", gerr_kind(r->err),
		    r->message);
	call->state = CALL_ENDING;
	TAILQ_REMOVE(&call->g->calls, call, all);
	if (!call->cancelled)
		call->cb(r, call->arg);
	call_destroy(call);
}

void
gcall_end_err(struct gcall *call, enum gerr err,
    const char *message)
{
	struct gresp r = { .err = err, .body = "", .reason = "",
		.retry_after_ms = -1 };
	char *msg = google_sanitize(message);

	r.message = msg;
	call_end(call, &r);
	free(msg);
}

char *
google_take_body(const struct gresp *g)
{
	if (g->http_ != NULL)
		return http_response_take_body(g->http_);
	return xstrndup(g->body, g->body_len);
}

/* Ends the call from the loop, not from the caller's stack. */
static void
call_defer(struct gcall *call, enum gerr err, const char *message)
{
	gcall_unlink(call);
	call->state = CALL_DEFERRED;
	call->err = err;
	free(call->err_msg);
	call->err_msg = xstrdup(message);
	TAILQ_INSERT_TAIL(&call->g->deferred, call, entry);
	google_kick(call->g);
}

/* Ends every call of the connection that waits or is queued (a failed fetch). */
void
gconn_fail_all(struct gconn *c, enum gerr err, const char *message)
{
	struct gcall_list dead = TAILQ_HEAD_INITIALIZER(dead);
	struct gcall *call;

	c->fetch = FETCH_IDLE;
	c->force_refresh = false;
	while ((call = TAILQ_FIRST(&c->waiting)) != NULL) {
		gcall_unlink(call);
		TAILQ_INSERT_TAIL(&dead, call, entry);
	}
	while ((call = TAILQ_FIRST(&c->queue)) != NULL ||
	    (call = TAILQ_FIRST(&c->bulk)) != NULL) {
		gcall_unlink(call);
		TAILQ_INSERT_TAIL(&dead, call, entry);
	}
	while ((call = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, call, entry);
		gcall_end_err(call, err, message);
	}
	gconn_pump(c);
}

/* ---- sending ---- */

/*
 * Gmail answered 429: the user is over the rate rallyd paces itself at
 * (another client of the account spends it too, or its limit is lower).
 * Every call of the connection waits out Google's Retry-After, and this
 * one goes back to the head of its queue to be paced like any other, up
 * to http.max_retries times.  lib/http retrying it instead would send it
 * past the bucket, into the second Google just refused.  A send (not
 * idempotent) fails to its job, which knows how to look for it first.
 */
static bool
call_refused(struct gcall *call, const struct http_response *hr)
{
	struct gconn *c = call->conn;
	long ms = hr->retry_after_ms >= 0 ? hr->retry_after_ms :
	    CALL_REFUSED_HOLD_MS;

	gconn_hold_units(c, ms < CALL_REFUSED_MAX_MS ? ms : CALL_REFUSED_MAX_MS);
	if (call->once || ms > CALL_REFUSED_MAX_MS ||
	    call->refused >= (unsigned)c->g->d->conf.http_max_retries)
		return false;
	call->refused++;
	call->reauthed = false;		/* a fresh send may refresh once */
	log_emit(LOG_DEBUG, NULL, &c->log, "google: %s refused for the "
	    "user's rate: queued again, the connection waits %ld ms",
	    call->method, ms);
	gcall_unlink(call);
	call->state = CALL_QUEUED;
	TAILQ_INSERT_HEAD(call->bulk ? &c->bulk : &c->queue, call, entry);
	gconn_pump(c);
	return true;
}

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
			gconn_drop_token(c);
			c->force_refresh = true;
		}
		gcall_need_token(call);
		return;
	}
	if (hr->err == HTTP_OK && hr->status == 429 && call->units > 0 &&
	    call_refused(call, hr))
		return;
	if (hr->err == HTTP_OK && (hr->status < 200 || hr->status >= 300))
		gerror_parse(hr, &ge);
	else
		memset(&ge, 0, sizeof ge);
	memset(&r, 0, sizeof r);
	r.retry_after_ms = hr->retry_after_ms;
	r.status = hr->status;
	r.body = hr->body;
	r.body_len = hr->body_len;
	r.content_type = hr->content_type;
	r.http_ = hr;
	r.reason = ge.reason;
	if (hr->err != HTTP_OK) {
		r.err = gerror_classify_transport(hr->err);
		msg = xasprintf("%s", hr->error != NULL ? hr->error : "failed");
	} else {
		r.err = gerror_classify(hr->status, &ge);
		msg = r.err == GERR_OK ? xstrdup("") :
		    xasprintf("HTTP %ld%s%s%s%s", hr->status,
		    ge.reason[0] != '\0' ? " " : "", ge.reason,
		    ge.message != NULL ? ": " : "",
		    ge.message != NULL ? ge.message : "");
	}
	free(ge.message);
	r.message = google_sanitize(msg);
	free(msg);
	gcall_unlink(call);
	call_end(call, &r);
	free((char *)r.message);
	gconn_pump(c);
}

static void
call_send(struct gcall *call)
{
	struct gconn *c = call->conn;
	struct http_request *req;

	req = http_request_new(call->method, call->url);
	http_request_bearer(req, c->token);
	if (call->body != NULL)
		http_request_body(req, call->content_type != NULL ?
		    call->content_type : "application/json", call->body,
		    call->body_len);
	if (call->if_match != NULL)
		http_request_header(req, "If-Match", call->if_match);
	if (call->once)
		http_request_no_retry(req);
	else
		http_request_retry_if(req, call->units > 0 ?
		    gerror_should_retry_paced_cb : gerror_should_retry_cb);
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
void
gconn_dispatch(struct gconn *c)
{
	struct gcall *call;

	c->fetch = FETCH_IDLE;
	while ((call = TAILQ_FIRST(&c->waiting)) != NULL) {
		TAILQ_REMOVE(&c->waiting, call, entry);
		call_send(call);
	}
	gconn_pump(c);
}


/* A call holding a slot: send it with the token, or wait for one. */
void
gcall_need_token(struct gcall *call)
{
	struct gconn *c = call->conn;

	if (c->fetch == FETCH_IDLE && gconn_token_usable(c)) {
		call_send(call);
		return;
	}
	call->state = CALL_WAITING;
	TAILQ_INSERT_TAIL(&c->waiting, call, entry);
	gconn_fetch(c);
}

