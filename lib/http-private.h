/* SPDX-License-Identifier: ISC */
/*
 * http-private.h: what lib/http.c (the multi handle, scheduling, retries),
 * lib/http-attempt.c (one transfer on an easy handle) and lib/http-request.c
 * (building and checking a request) share.  Nothing outside lib/http*.c
 * includes it: the API is http.h.
 */
#ifndef RALLY_HTTP_PRIVATE_H
#define RALLY_HTTP_PRIVATE_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "http.h"

#define HTTP_MAX_METHOD_LEN 16
#define HTTP_MAX_HEADER_LEN 8192

/*
 * Response bodies that can hold credentials (token endpoint answers) are a
 * few KiB and are wiped when freed; bodies past this size are API data
 * (pages of events, messages), and wiping megabytes per page would cost
 * more CPU than the rest of a sync.
 */
#define HTTP_WIPE_MAX (64 * 1024)

enum req_state { REQ_BUILDING, REQ_WAITING, REQ_RUNNING };

struct http_request {
	struct http *h;		/* set by http_submit() */
	char *method;
	char *url;
	char *log_name;		/* "GET https://host/path": no query */
	struct curl_slist *headers;
	bool bad_header;
	char *body;
	size_t body_len;
	bool has_body;
	char *bearer;
	bool no_retry;
	http_retry_cb retry_cb;
	http_done_cb done_cb;
	void *arg;

	enum req_state state;
	struct event *timer;	/* start of the next attempt */
	CURL *easy;		/* only while an attempt runs */
	int attempts;
	uint64_t started;	/* of the current attempt, microseconds */

	/* The last attempt's outcome. */
	enum http_err err;
	char *error;
	long status;
	int http_version;
	char *content_type;
	long retry_after_ms;
	char *buf;
	size_t len, cap;
	bool too_large;
	char errbuf[CURL_ERROR_SIZE];

	TAILQ_ENTRY(http_request) entry;
};

struct http_sock;

struct http {
	struct event_base *base;
	struct http_opts opts;
	char *ca_file;
	CURLM *multi;
	struct event *timer;	/* curl's timeout */
	TAILQ_HEAD(, http_request) reqs;
	LIST_HEAD(, http_sock) socks;
	size_t n_reqs;
};

/* http-attempt.c */
/* Forgets the last attempt's outcome, wiping a small body. */
void http_attempt_reset(struct http_request *);
/* A fresh easy handle in the multi handle: 0, or -1 with the error set. */
int http_attempt_start(struct http_request *);
/* Records how the attempt ended and gives its easy handle back. */
void http_attempt_collect(struct http_request *, CURLcode);
void http_set_error(struct http_request *, enum http_err, const char *, ...)
    PRINTFLIKE(3, 4);

/*
 * At submit: adds the Authorization header, then checks the method, the
 * URL's scheme and the headers; sets log_name.  -1 with *cause set.
 */
int http_request_prepare(struct http *, struct http_request *, char **cause);
/* Frees a request in any state, wiping what may hold credentials. */
void http_request_destroy(struct http_request *);

#endif
