/* SPDX-License-Identifier: ISC */
/*
 * http: rallyd's HTTPS client for Google, libcurl's multi interface driven
 * by the daemon's libevent loop (the socket-action pattern of curl's
 * multi-event.c).  Nothing here blocks: name resolution runs in curl's
 * resolver thread, transfers advance on socket events, and a request waiting
 * to be retried is only a libevent timer (it holds no curl handle).
 *
 * One struct http per daemon.  Callers build a request, submit it, and get
 * exactly one callback from the event loop.  Transient failures (connection
 * errors, timeouts, 429, 500, 502, 503, 504) are retried with exponential
 * backoff and full jitter, honouring Retry-After.  Only https:// is spoken
 * (http:// only when a test allows it); redirects are never followed.
 *
 * Logs name a request by method, host and path only: never its query string,
 * its headers or its body.
 */
#ifndef RALLY_HTTP_H
#define RALLY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "http-date.h"	/* HTTP_RETRY_AFTER_MAX_MS, http_parse_retry_after() */
#include "util.h"

struct event_base;

struct http_opts {
	const char *ca_file;	/* NULL or "" = the system's CA store */
	long connect_timeout_ms; /* <= 0: 10 s */
	long timeout_ms;	/* whole transfer; <= 0: 60 s */
	size_t max_response;	/* decoded body bytes; 0: 32 MiB */
	int max_retries;	/* retries after the first attempt; < 0: 0 */
	long retry_base_ms;	/* <= 0: 500 ms */
	long retry_max_ms;	/* <= 0: 60 s */
	long max_connections;	/* CURLMOPT_MAX_TOTAL_CONNECTIONS; <= 0: 64 */
	bool allow_http;	/* tests only: permit http:// URLs */
};

enum http_err {
	HTTP_OK,		/* a response arrived: look at status */
	HTTP_ERR_CONNECT,	/* resolve, connect, reset, truncated reply */
	HTTP_ERR_TIMEOUT,
	HTTP_ERR_TLS,		/* handshake or certificate verification */
	HTTP_ERR_TOO_LARGE,	/* body over max_response */
	HTTP_ERR_PROTOCOL,	/* malformed reply, refused scheme, bad encoding */
	HTTP_ERR_CANCELLED,	/* http_cancel() */
};

/* Valid only during the callback: copy what you keep. */
struct http_response {
	enum http_err err;
	long status;		/* 0 when no response arrived */
	const char *body;	/* never NULL, NUL-terminated */
	size_t body_len;
	const char *content_type; /* NULL when absent */
	long retry_after_ms;	/* parsed Retry-After, -1 if none; one
				   longer than retry_max_ms is not waited
				   for here but handed to the caller */
	int attempts;		/* 1 + retries made */
	int http_version;	/* 10, 11, 20, 30; 0 when no response */
	const char *error;	/* NULL when err is HTTP_OK; never holds the
				   URL's query, a header or the body */
	struct http_request *req_; /* for http_response_take_body() only */
};

/*
 * In the done callback: takes the body out of the response instead of
 * copying it, NUL-terminated, body_len bytes, the caller's to free(); the
 * response's body is not to be read afterwards.  For a sync page, megabytes
 * that would otherwise be copied only to free the original.
 */
char *http_response_take_body(const struct http_response *);

typedef void (*http_done_cb)(const struct http_response *, void *arg);
/* Decides whether a response is retried; arg is the done callback's. */
typedef bool (*http_retry_cb)(const struct http_response *, void *arg);

struct http;
struct http_request;

/* Out of memory or a libcurl that cannot be initialised is fatal. */
struct http *http_new(struct event_base *, const struct http_opts *);
/*
 * Cancels everything in flight without calling callbacks.  Must not be
 * called from inside a done callback.
 */
void http_free(struct http *);

struct http_request *http_request_new(const char *method, const char *url);
/* Only for a request never submitted: http_submit() takes ownership. */
void http_request_free(struct http_request *);
void http_request_header(struct http_request *, const char *name,
    const char *value);
/* The body is copied.  content_type NULL: application/octet-stream. */
void http_request_body(struct http_request *, const char *content_type,
    const void *body, size_t len);
/* Sent as "Authorization: Bearer"; copied, and wiped when freed. */
void http_request_bearer(struct http_request *, const char *token);
/* Never retried: for calls that must not be repeated. */
void http_request_no_retry(struct http_request *);
/*
 * Replaces the default retry decision (http_default_should_retry()) for
 * this request, e.g. to also retry 403 rateLimitExceeded.  The retry count
 * and the backoff still apply.
 */
void http_request_retry_if(struct http_request *, http_retry_cb);

/*
 * Takes ownership of the request.  On 0 the callback is called exactly once,
 * later, from the event loop (never from inside http_submit()), unless
 * http_free() comes first; the request pointer stays valid, for
 * http_cancel(), until then.  On -1 (no URL, a URL that does not parse, or
 * a scheme not allowed) the reason is logged, the request is freed and the
 * callback is never called.
 */
int http_submit(struct http *, struct http_request *, http_done_cb,
    void *arg) MUST_CHECK;
/*
 * Stops a submitted request whose callback has not run yet: the callback is
 * called before http_cancel() returns, with HTTP_ERR_CANCELLED, and the
 * request is freed.  Callers that may cancel must forget the pointer when
 * their callback runs.
 */
void http_cancel(struct http *, struct http_request *);

/* Submitted requests whose callback has not run: running or waiting. */
size_t http_in_flight(const struct http *);

/* Connection errors, timeouts, 429, 500, 502, 503 and 504. */
bool http_default_should_retry(const struct http_response *);

#endif
