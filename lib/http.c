/* SPDX-License-Identifier: ISC */
/*
 * http: libcurl multi on libevent; see http.h.
 *
 * curl tells us which sockets to watch (http_socket_cb) and when to call it
 * back (http_timer_cb); libevent tells curl what happened on them
 * (http_action).  A finished transfer is found by CURLOPT_PRIVATE, then
 * either delivered or parked on its own libevent timer for a retry with a
 * fresh easy handle; connections stay in the multi handle's cache.
 * One attempt is http-attempt.c's, building a request http-request.c's.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "http-private.h"
#include "log.h"

#define HTTP_DEF_CONNECT_MS 10000L
#define HTTP_DEF_TIMEOUT_MS 60000L
#define HTTP_DEF_MAX_RESPONSE ((size_t)32 * 1024 * 1024)
#define HTTP_DEF_RETRY_BASE_MS 500L
#define HTTP_DEF_RETRY_MAX_MS 60000L
#define HTTP_DEF_MAX_CONNECTIONS 64L

struct http_sock {
	struct http *h;
	curl_socket_t fd;
	struct event *ev;
	LIST_ENTRY(http_sock) entry;
};

static void http_action(struct http *, curl_socket_t, int);

static struct timeval
ms_to_tv(long ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* ---- curl <-> libevent glue ---- */

static void
http_sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	http_action(arg, fd, flags);
}

static void
http_sock_free(struct http_sock *s)
{
	LIST_REMOVE(s, entry);
	if (s->ev != NULL)
		event_free(s->ev);
	free(s);
}

static int
http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct http *h = arg;
	struct http_sock *s = sockp;
	short events = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			http_sock_free(s);
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->h = h;
		s->fd = fd;
		LIST_INSERT_HEAD(&h->socks, s, entry);
		if (curl_multi_assign(h->multi, fd, s) != CURLM_OK) {
			http_sock_free(s);
			return -1;
		}
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (s->ev == NULL)
		s->ev = event_new(h->base, fd, events, http_sock_event_cb, h);
	else {
		event_del(s->ev);
		event_assign(s->ev, h->base, fd, events, http_sock_event_cb, h);
	}
	if (s->ev == NULL)
		fatalx("http: event_new failed");
	if ((events & (EV_READ | EV_WRITE)) != 0 && event_add(s->ev, NULL) != 0) {
		log_warnx("http: cannot watch socket %d", (int)fd);
		return -1;
	}
	return 0;
}

/* curl's docs forbid driving the multi handle from here: only arm a timer. */
static int
http_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct http *h = arg;
	struct timeval tv;

	if (timeout_ms < 0)
		return evtimer_del(h->timer) == 0 ? 0 : -1;
	tv = ms_to_tv(timeout_ms);
	return evtimer_add(h->timer, &tv) == 0 ? 0 : -1;
}

static void
http_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	http_action(arg, CURL_SOCKET_TIMEOUT, 0);
}


bool
http_default_should_retry(const struct http_response *r)
{
	switch (r->err) {
	case HTTP_ERR_CONNECT:
	case HTTP_ERR_TIMEOUT:
		return true;
	case HTTP_OK:
		return r->status == 429 || r->status == 500 || r->status == 502 ||
		    r->status == 503 || r->status == 504;
	default:
		return false;
	}
}

/* ---- delivery and retries ---- */

static void
http_response_fill(const struct http_request *req, struct http_response *r)
{
	memset(r, 0, sizeof *r);
	r->err = req->err;
	r->status = req->status;
	r->body = req->err == HTTP_OK && req->buf != NULL ? req->buf : "";
	r->body_len = req->err == HTTP_OK ? req->len : 0;
	r->content_type = req->content_type;
	r->retry_after_ms = req->retry_after_ms;
	r->attempts = req->attempts;
	r->http_version = req->http_version;
	r->error = req->err == HTTP_OK ? NULL : req->error;
}

/* Takes the request out of its http and hands its outcome to the caller. */
static void
http_finish(struct http_request *req)
{
	struct http *h = req->h;
	struct http_response r;

	TAILQ_REMOVE(&h->reqs, req, entry);
	h->n_reqs--;
	http_response_fill(req, &r);
	if (r.err == HTTP_OK)
		log_debug("http: %s: %ld, %zu bytes, attempt %d, %llu ms",
		    req->log_name, r.status, r.body_len, r.attempts,
		    (unsigned long long)((now_usec() - req->started) / 1000));
	else
		log_debug("http: %s: %s (attempt %d)", req->log_name, r.error,
		    r.attempts);
	r.req_ = req;
	req->done_cb(&r, req->arg);
	http_request_destroy(req);
}

char *
http_response_take_body(const struct http_response *r)
{
	struct http_request *req = r->req_;
	char *body;

	if (req == NULL || r->err != HTTP_OK || req->buf == NULL)
		return xstrndup(r->body, r->body_len);
	/* Shrinking gives back what the doubling reserved (a mremap at most). */
	body = xreallocarray(req->buf, req->len + 1, 1);
	req->buf = NULL;
	req->cap = 0;
	req->len = 0;
	return body;
}

static bool
http_should_retry(const struct http_request *req, const struct http_response *r)
{
	if (req->no_retry || req->attempts > req->h->opts.max_retries)
		return false;
	if (req->err == HTTP_ERR_CANCELLED)
		return false;
	/*
	 * A wait longer than this layer sleeps is the caller's to honour
	 * (a job is rescheduled for then): cutting it short would only
	 * earn another refusal.
	 */
	if (r->retry_after_ms > req->h->opts.retry_max_ms)
		return false;
	if (req->retry_cb != NULL)
		return req->retry_cb(r, req->arg);
	return http_default_should_retry(r);
}

/* Full jitter (AWS "Exponential Backoff and Jitter") unless the server said. */
static long
http_retry_delay(const struct http_request *req, const struct http_response *r)
{
	const struct http_opts *o = &req->h->opts;
	double ceiling;
	int shift = req->attempts - 1;

	if (r->retry_after_ms >= 0)
		return r->retry_after_ms;	/* at most retry_max_ms here */
	if (shift > 30)
		shift = 30;
	ceiling = (double)o->retry_base_ms * (double)(1L << shift);
	if (ceiling > (double)o->retry_max_ms)
		ceiling = (double)o->retry_max_ms;
	return (long)(random_unit() * ceiling);
}

static void
http_attempt_done(struct http_request *req)
{
	struct http_response r;
	struct timeval tv;
	long delay;

	http_response_fill(req, &r);
	if (!http_should_retry(req, &r)) {
		http_finish(req);
		return;
	}
	delay = http_retry_delay(req, &r);
	if (r.err == HTTP_OK)
		log_info("http: %s: HTTP %ld; retry %d of %d in %ld ms",
		    req->log_name, r.status, req->attempts,
		    req->h->opts.max_retries, delay);
	else
		log_info("http: %s: %s; retry %d of %d in %ld ms", req->log_name,
		    r.error, req->attempts, req->h->opts.max_retries, delay);
	tv = ms_to_tv(delay);
	if (evtimer_add(req->timer, &tv) != 0)
		fatalx("http: evtimer_add failed");
}

static void
http_request_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_request *req = arg;

	if (http_attempt_start(req) != 0)
		http_finish(req);
}

static void
http_check_done(struct http *h)
{
	struct http_request *req;
	CURLMsg *msg;
	CURLcode rc;
	char *priv;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    &priv) != CURLE_OK || priv == NULL)
			fatalx("http: finished transfer without its request");
		req = (struct http_request *)(void *)priv;
		http_attempt_collect(req, rc);
		http_attempt_done(req);
	}
}

static void
http_action(struct http *h, curl_socket_t fd, int flags)
{
	CURLMcode rc;
	int running;

	rc = curl_multi_socket_action(h->multi, fd, flags, &running);
	if (rc != CURLM_OK)
		log_warnx("http: curl_multi_socket_action: %s",
		    curl_multi_strerror(rc));
	http_check_done(h);
}

/* ---- public API ---- */

static void
http_opts_apply(struct http *h, const struct http_opts *o)
{
	h->opts = *o;
	h->opts.ca_file = NULL;
	if (o->ca_file != NULL && *o->ca_file != '\0')
		h->ca_file = xstrdup(o->ca_file);
	if (h->opts.connect_timeout_ms <= 0)
		h->opts.connect_timeout_ms = HTTP_DEF_CONNECT_MS;
	if (h->opts.timeout_ms <= 0)
		h->opts.timeout_ms = HTTP_DEF_TIMEOUT_MS;
	if (h->opts.max_response == 0)
		h->opts.max_response = HTTP_DEF_MAX_RESPONSE;
	if (h->opts.max_response > SIZE_MAX / 2)
		h->opts.max_response = SIZE_MAX / 2;
	if (h->opts.max_retries < 0)
		h->opts.max_retries = 0;
	if (h->opts.retry_base_ms <= 0)
		h->opts.retry_base_ms = HTTP_DEF_RETRY_BASE_MS;
	if (h->opts.retry_max_ms <= 0)
		h->opts.retry_max_ms = HTTP_DEF_RETRY_MAX_MS;
	if (h->opts.max_connections <= 0)
		h->opts.max_connections = HTTP_DEF_MAX_CONNECTIONS;
}

struct http *
http_new(struct event_base *base, const struct http_opts *o)
{
	struct http *h;
	CURLMcode rc = CURLM_OK;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("http: curl_global_init failed");
	/* Without it every name lookup runs on the caller's (the loop's) thread. */
	if ((curl_version_info(CURLVERSION_NOW)->features &
	    CURL_VERSION_ASYNCHDNS) == 0)
		log_warnx("http: this libcurl resolves host names synchronously: "
		    "a slow name server stalls the daemon");
	h = xcalloc(1, sizeof *h);
	h->base = base;
	http_opts_apply(h, o);
	TAILQ_INIT(&h->reqs);
	LIST_INIT(&h->socks);
	h->timer = evtimer_new(base, http_timeout_cb, h);
	h->multi = curl_multi_init();
	if (h->timer == NULL || h->multi == NULL)
		fatalx("http: cannot create the multi handle");
#define MSETOPT(opt, val) do {						\
	if (rc == CURLM_OK)						\
		rc = curl_multi_setopt(h->multi, opt, val);		\
} while (0)
	MSETOPT(CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	MSETOPT(CURLMOPT_SOCKETDATA, h);
	MSETOPT(CURLMOPT_TIMERFUNCTION, http_timer_cb);
	MSETOPT(CURLMOPT_TIMERDATA, h);
	MSETOPT(CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	MSETOPT(CURLMOPT_MAX_TOTAL_CONNECTIONS, h->opts.max_connections);
#undef MSETOPT
	if (rc != CURLM_OK)
		fatalx("http: curl_multi_setopt: %s", curl_multi_strerror(rc));
	return h;
}

void
http_free(struct http *h)
{
	struct http_request *req;
	struct http_sock *s;

	if (h == NULL)
		return;
	while ((req = TAILQ_FIRST(&h->reqs)) != NULL) {
		TAILQ_REMOVE(&h->reqs, req, entry);
		http_request_destroy(req);
	}
	curl_multi_cleanup(h->multi);
	/* Sockets curl did not say goodbye to. */
	while ((s = LIST_FIRST(&h->socks)) != NULL)
		http_sock_free(s);
	event_free(h->timer);
	free(h->ca_file);
	free(h);
	curl_global_cleanup();
}

int
http_submit(struct http *h, struct http_request *req, http_done_cb cb,
    void *arg)
{
	struct timeval tv = { 0, 0 };
	char *cause = NULL;

	if (req->state != REQ_BUILDING)
		fatalx("http: request submitted twice");
	if (http_request_prepare(h, req, &cause) != 0) {
		log_warnx("http: %s", cause);
		free(cause);
		http_request_destroy(req);
		return -1;
	}
	req->h = h;
	req->done_cb = cb;
	req->arg = arg;
	req->timer = evtimer_new(h->base, http_request_timer_cb, req);
	if (req->timer == NULL || evtimer_add(req->timer, &tv) != 0)
		fatalx("http: cannot schedule a request");
	req->state = REQ_WAITING;
	TAILQ_INSERT_TAIL(&h->reqs, req, entry);
	h->n_reqs++;
	return 0;
}

void
http_cancel(struct http *h, struct http_request *req)
{
	if (req == NULL)
		return;
	if (req->easy != NULL) {
		curl_multi_remove_handle(h->multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	evtimer_del(req->timer);
	http_attempt_reset(req);
	http_set_error(req, HTTP_ERR_CANCELLED, "cancelled");
	http_finish(req);
}

size_t
http_in_flight(const struct http *h)
{
	return h->n_reqs;
}
