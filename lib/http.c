/*
 * http: libcurl multi on libevent; see http.h.
 *
 * curl tells us which sockets to watch (http_socket_cb) and when to call it
 * back (http_timer_cb); libevent tells curl what happened on them
 * (http_action).  A finished transfer is found by CURLOPT_PRIVATE, then
 * either delivered or parked on its own libevent timer for a retry with a
 * fresh easy handle; connections stay in the multi handle's cache.
 */
#include "config.h"

#include <sys/queue.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "http.h"
#include "log.h"

#define HTTP_DEF_CONNECT_MS 10000L
#define HTTP_DEF_TIMEOUT_MS 60000L
#define HTTP_DEF_MAX_RESPONSE ((size_t)32 * 1024 * 1024)
#define HTTP_DEF_RETRY_BASE_MS 500L
#define HTTP_DEF_RETRY_MAX_MS 60000L
#define HTTP_DEF_MAX_CONNECTIONS 64L
/* Longer Retry-After values are not something a server means. */
#define HTTP_MAX_RETRY_AFTER_LEN 64
#define HTTP_MAX_METHOD_LEN 16
#define HTTP_MAX_HEADER_LEN 8192

enum req_state { REQ_BUILDING, REQ_WAITING, REQ_RUNNING };

struct http_sock {
	struct http *h;
	curl_socket_t fd;
	struct event *ev;
	LIST_ENTRY(http_sock) entry;
};

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

/* ---- classification ---- */

static enum http_err
http_classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_OK;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return HTTP_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_ERR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return HTTP_ERR_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_ERR_TOO_LARGE;
	default:
		return HTTP_ERR_PROTOCOL;
	}
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

/* ---- one attempt ---- */

static size_t
http_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_request *req = arg;
	size_t len = size * n, max = req->h->opts.max_response, need;

	if (len > max - req->len) {
		req->too_large = true;
		return 0;	/* curl aborts with CURLE_WRITE_ERROR */
	}
	need = req->len + len + 1;
	if (need > req->cap) {
		size_t cap = req->cap != 0 ? req->cap : 4096;

		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if (cap > max + 1)
			cap = max + 1;
		req->buf = xreallocarray(req->buf, cap, 1);
		req->cap = cap;
	}
	memcpy(req->buf + req->len, data, len);
	req->len += len;
	req->buf[req->len] = '\0';
	return len;
}

static void
http_header_retry_after(struct http_request *req, const char *v, size_t len)
{
	char value[HTTP_MAX_RETRY_AFTER_LEN + 1];

	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n'))
		len--;
	if (len > HTTP_MAX_RETRY_AFTER_LEN) {
		req->retry_after_ms = -1;
		return;
	}
	memcpy(value, v, len);
	value[len] = '\0';
	req->retry_after_ms = http_parse_retry_after(value, time(NULL));
}

/* Called once per header line of every response, interim ones included. */
static size_t
http_header_cb(char *line, size_t size, size_t n, void *arg)
{
	static const char name[] = "Retry-After:";
	struct http_request *req = arg;
	size_t len = size * n;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0)
		req->retry_after_ms = -1;
	else if (len >= sizeof name - 1 &&
	    strncasecmp(line, name, sizeof name - 1) == 0)
		http_header_retry_after(req, line + sizeof name - 1,
		    len - (sizeof name - 1));
	return len;
}

/*
 * Response bodies that can hold credentials (token endpoint answers) are a
 * few KiB and are wiped when freed; bodies past this size are API data
 * (pages of events, messages), and wiping megabytes per page would cost
 * more CPU than the rest of a sync.
 */
#define HTTP_WIPE_MAX (64 * 1024)

static void
http_attempt_reset(struct http_request *req)
{
	req->err = HTTP_OK;
	free(req->error);
	req->error = NULL;
	req->status = 0;
	req->http_version = 0;
	free(req->content_type);
	req->content_type = NULL;
	req->retry_after_ms = -1;
	if (req->buf != NULL && req->len <= HTTP_WIPE_MAX)
		OPENSSL_cleanse(req->buf, req->len);
	req->len = 0;
	req->too_large = false;
	req->errbuf[0] = '\0';
}

#define SETOPT(opt, val) do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(e, opt, val);			\
} while (0)

static CURLcode
http_setopt_method(struct http_request *req, CURL *e)
{
	CURLcode rc = CURLE_OK;
	bool is_post = strcmp(req->method, "POST") == 0;
	bool wants_length = is_post || strcmp(req->method, "PUT") == 0 ||
	    strcmp(req->method, "PATCH") == 0;

	if (strcmp(req->method, "GET") == 0 && !req->has_body) {
		SETOPT(CURLOPT_HTTPGET, 1L);
		return rc;
	}
	if (strcmp(req->method, "HEAD") == 0) {
		SETOPT(CURLOPT_NOBODY, 1L);
		return rc;
	}
	/* Google answers 411 to a POST, PUT or PATCH without a length. */
	if (req->has_body || wants_length) {
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SETOPT(CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
	}
	if (!is_post)
		SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
	return rc;
}

static CURLcode
http_setopt(struct http_request *req, CURL *e)
{
	const struct http_opts *o = &req->h->opts;
	CURLcode rc = CURLE_OK;

	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_PRIVATE, (char *)req);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SETOPT(CURLOPT_PIPEWAIT, 1L);
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, o->allow_http ? "http,https" : "https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	SETOPT(CURLOPT_PROTOCOLS, o->allow_http ?
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long)CURLPROTO_HTTPS);
	SETOPT(CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	SETOPT(CURLOPT_TIMEOUT_MS, o->timeout_ms);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SETOPT(CURLOPT_WRITEFUNCTION, http_write_cb);
	SETOPT(CURLOPT_WRITEDATA, req);
	SETOPT(CURLOPT_HEADERFUNCTION, http_header_cb);
	SETOPT(CURLOPT_HEADERDATA, req);
	SETOPT(CURLOPT_ERRORBUFFER, req->errbuf);
	SETOPT(CURLOPT_HTTPHEADER, req->headers);
	if (req->h->ca_file != NULL) {
		/* The configured CA alone: not also the system's directory. */
		SETOPT(CURLOPT_CAINFO, req->h->ca_file);
		SETOPT(CURLOPT_CAPATH, (char *)NULL);
	}
	if (rc == CURLE_OK)
		rc = http_setopt_method(req, e);
	return rc;
}

#undef SETOPT

static void
http_set_error(struct http_request *req, enum http_err err, const char *fmt,
    ...) PRINTFLIKE(3, 4);

static void
http_set_error(struct http_request *req, enum http_err err, const char *fmt,
    ...)
{
	va_list ap;

	req->err = err;
	free(req->error);
	va_start(ap, fmt);
	req->error = xvasprintf(fmt, ap);
	va_end(ap);
}

/* 0, or -1 with the request's error set. */
static int
http_attempt_start(struct http_request *req)
{
	CURLcode rc;
	CURLMcode mrc;

	http_attempt_reset(req);
	req->attempts++;
	req->started = now_usec();
	req->easy = curl_easy_init();
	if (req->easy == NULL)
		fatalx("http: curl_easy_init failed");
	rc = http_setopt(req, req->easy);
	if (rc != CURLE_OK) {
		http_set_error(req, HTTP_ERR_PROTOCOL, "cannot set up transfer: %s",
		    curl_easy_strerror(rc));
		goto fail;
	}
	mrc = curl_multi_add_handle(req->h->multi, req->easy);
	if (mrc != CURLM_OK) {
		http_set_error(req, HTTP_ERR_PROTOCOL, "cannot start transfer: %s",
		    curl_multi_strerror(mrc));
		goto fail;
	}
	req->state = REQ_RUNNING;
	return 0;
fail:
	curl_easy_cleanup(req->easy);
	req->easy = NULL;
	return -1;
}

/* curl's message, unless it quotes the query string, which may hold secrets. */
static const char *
http_curl_message(const struct http_request *req, CURLcode rc)
{
	const char *q = strchr(req->url, '?');

	if (req->errbuf[0] == '\0')
		return curl_easy_strerror(rc);
	if (q != NULL && q[1] != '\0' && strstr(req->errbuf, q + 1) != NULL)
		return curl_easy_strerror(rc);
	return req->errbuf;
}

static void
http_attempt_collect(struct http_request *req, CURLcode rc)
{
	CURL *e = req->easy;
	const char *ct = NULL;
	long version = 0;

	if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &req->status) != CURLE_OK)
		req->status = 0;
	if (curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version) != CURLE_OK)
		version = 0;
	req->http_version = version == CURL_HTTP_VERSION_1_0 ? 10 :
	    version == CURL_HTTP_VERSION_1_1 ? 11 :
	    version == CURL_HTTP_VERSION_2_0 ? 20 :
	    version == CURL_HTTP_VERSION_3 ? 30 : 0;
	if (curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		req->content_type = xstrndup(ct, HTTP_MAX_HEADER_LEN);

	if (req->too_large)
		http_set_error(req, HTTP_ERR_TOO_LARGE,
		    "response body over %zu bytes", req->h->opts.max_response);
	else if (rc != CURLE_OK)
		http_set_error(req, http_classify(rc), "%s",
		    http_curl_message(req, rc));

	curl_multi_remove_handle(req->h->multi, e);
	curl_easy_cleanup(e);
	req->easy = NULL;
	req->state = REQ_WAITING;
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

static void
http_request_destroy(struct http_request *req)
{
	struct curl_slist *l;

	if (req->easy != NULL) {
		curl_multi_remove_handle(req->h->multi, req->easy);
		curl_easy_cleanup(req->easy);
	}
	if (req->timer != NULL)
		event_free(req->timer);
	/* Headers may carry credentials: wipe them all. */
	for (l = req->headers; l != NULL; l = l->next)
		OPENSSL_cleanse(l->data, strlen(l->data));
	curl_slist_free_all(req->headers);
	if (req->bearer != NULL)
		secure_free(req->bearer, strlen(req->bearer));
	if (req->url != NULL)
		secure_free(req->url, strlen(req->url));
	secure_free(req->body, req->body_len);
	if (req->cap <= HTTP_WIPE_MAX)
		secure_free(req->buf, req->cap);
	else
		free(req->buf);
	free(req->method);
	free(req->log_name);
	free(req->error);
	free(req->content_type);
	free(req);
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
	req->done_cb(&r, req->arg);
	http_request_destroy(req);
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

struct http_request *
http_request_new(const char *method, const char *url)
{
	struct http_request *req = xcalloc(1, sizeof *req);

	req->method = xstrdup(method != NULL ? method : "");
	req->url = xstrdup(url != NULL ? url : "");
	req->retry_after_ms = -1;
	req->state = REQ_BUILDING;
	/* curl's default for a large body would cost a round trip. */
	http_request_header(req, "Expect", "");
	return req;
}

void
http_request_free(struct http_request *req)
{
	if (req == NULL)
		return;
	if (req->state != REQ_BUILDING)
		fatalx("http: http_request_free on a submitted request");
	http_request_destroy(req);
}

static bool
http_is_token(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		if (n >= max || *s <= ' ' || *s >= 0x7f ||
		    strchr("\"(),/:;<=>?@[\\]{}", *s) != NULL)
			return false;
	}
	return n > 0;
}

static bool
http_is_field_value(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		if (n >= HTTP_MAX_HEADER_LEN || *s == '\r' || *s == '\n')
			return false;
	}
	return true;
}

void
http_request_header(struct http_request *req, const char *name,
    const char *value)
{
	struct curl_slist *l;
	char *line;

	if (!http_is_token(name, 256) || !http_is_field_value(value)) {
		/* Refused at submit: an injected CR LF must not reach the wire. */
		req->bad_header = true;
		return;
	}
	/* "Name;" is curl's way to send a header with an empty value. */
	if (*value == '\0' && strcasecmp(name, "Expect") != 0)
		line = xasprintf("%s;", name);
	else
		line = xasprintf("%s: %s", name, value);
	l = curl_slist_append(req->headers, line);
	secure_free(line, strlen(line));
	if (l == NULL)
		fatalx("http: out of memory");
	req->headers = l;
}

void
http_request_body(struct http_request *req, const char *content_type,
    const void *body, size_t len)
{
	secure_free(req->body, req->body_len);
	req->body = xmalloc(len + 1);
	if (len > 0)
		memcpy(req->body, body, len);
	req->body[len] = '\0';
	req->body_len = len;
	req->has_body = true;
	http_request_header(req, "Content-Type", content_type != NULL ?
	    content_type : "application/octet-stream");
}

void
http_request_bearer(struct http_request *req, const char *token)
{
	if (req->bearer != NULL)
		secure_free(req->bearer, strlen(req->bearer));
	req->bearer = xstrdup(token);
}

void
http_request_no_retry(struct http_request *req)
{
	req->no_retry = true;
}

void
http_request_retry_if(struct http_request *req, http_retry_cb cb)
{
	req->retry_cb = cb;
}

static int
http_url_parts(struct http *h, struct http_request *req, char **cause)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int rv = -1;

	if (u == NULL)
		fatalx("http: out of memory");
	if (curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		set_cause(cause, "%s: URL does not parse", req->method);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	req->log_name = xasprintf("%s %s://%s%s%s%s", req->method, scheme, host,
	    port != NULL ? ":" : "", port != NULL ? port : "", path);
	if (strcmp(scheme, "https") != 0 &&
	    !(h->opts.allow_http && strcmp(scheme, "http") == 0)) {
		set_cause(cause, "%s: scheme %s not allowed", req->log_name,
		    scheme);
		goto out;
	}
	rv = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return rv;
}

static int
http_request_check(struct http *h, struct http_request *req, char **cause)
{
	if (!http_is_token(req->method, HTTP_MAX_METHOD_LEN))
		return set_cause(cause, "invalid method");
	if (http_url_parts(h, req, cause) != 0)
		return -1;
	if (req->bad_header)
		return set_cause(cause, "%s: invalid header", req->log_name);
	return 0;
}

int
http_submit(struct http *h, struct http_request *req, http_done_cb cb,
    void *arg)
{
	struct timeval tv = { 0, 0 };
	char *cause = NULL;

	if (req->state != REQ_BUILDING)
		fatalx("http: request submitted twice");
	if (req->bearer != NULL) {
		char *line = xasprintf("Bearer %s", req->bearer);

		http_request_header(req, "Authorization", line);
		secure_free(line, strlen(line));
	}
	if (http_request_check(h, req, &cause) != 0) {
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

/* ---- Retry-After ---- */

static const char *const http_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const http_wkdays[] = {
	"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
};
static const char *const http_weekdays[] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Sunday",
};

struct http_date {
	char wkday[16], mon[4];
	char day[3], year[5], hh[3], mm[3], ss[3];
};

static int
http_name_index(const char *s, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
http_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
http_days_in_month(int64_t y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

static bool
http_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return s[n] == '\0';
}

/* Seconds since the epoch of the parsed fields, -1 when invalid. */
static int64_t
http_date_time(const struct http_date *d, bool long_wkday, time_t now)
{
	int64_t year;
	int mon, day, hh, mm, ss;

	if (http_name_index(d->wkday, long_wkday ? http_weekdays : http_wkdays,
	    7) < 0)
		return -1;
	mon = http_name_index(d->mon, http_months, 12) + 1;
	if (mon == 0 || !http_digits(d->hh, 2) || !http_digits(d->mm, 2) ||
	    !http_digits(d->ss, 2))
		return -1;
	if (!http_digits(d->day, strlen(d->day)) || strlen(d->day) == 0)
		return -1;
	if (strlen(d->year) == 2 && http_digits(d->year, 2)) {
		/* RFC 9110: over 50 years ahead means the last century. */
		int64_t now_year = 1970 + (int64_t)now / 31556952;

		year = now_year - now_year % 100 + atoi(d->year);
		if (year > now_year + 50)
			year -= 100;
	} else if (http_digits(d->year, 4))
		year = atoi(d->year);
	else
		return -1;
	day = atoi(d->day);
	hh = atoi(d->hh);
	mm = atoi(d->mm);
	ss = atoi(d->ss);
	if (day < 1 || day > http_days_in_month(year, mon) || hh > 23 ||
	    mm > 59 || ss > 60)
		return -1;
	return http_days_from_civil(year, mon, day) * 86400 + hh * 3600 +
	    mm * 60 + ss;
}

/* IMF-fixdate, or the obsolete RFC 850 and asctime forms. */
static int64_t
http_parse_date(const char *s, time_t now)
{
	struct http_date d;
	size_t len = strlen(s);
	int end;

	memset(&d, 0, sizeof d);
	end = -1;
	if (sscanf(s, "%3[A-Za-z], %2[0-9] %3[A-Za-z] %4[0-9] "
	    "%2[0-9]:%2[0-9]:%2[0-9] GMT%n", d.wkday, d.day, d.mon, d.year,
	    d.hh, d.mm, d.ss, &end) == 7 && end == (int)len &&
	    strlen(d.day) == 2 && strlen(d.year) == 4)
		return http_date_time(&d, false, now);

	memset(&d, 0, sizeof d);
	end = -1;
	if (sscanf(s, "%9[A-Za-z], %2[0-9]-%3[A-Za-z]-%2[0-9] "
	    "%2[0-9]:%2[0-9]:%2[0-9] GMT%n", d.wkday, d.day, d.mon, d.year,
	    d.hh, d.mm, d.ss, &end) == 7 && end == (int)len &&
	    strlen(d.day) == 2 && strlen(d.year) == 2)
		return http_date_time(&d, true, now);

	memset(&d, 0, sizeof d);
	end = -1;
	if (sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2[0-9] %2[0-9]:%2[0-9]:%2[0-9] "
	    "%4[0-9]%n", d.wkday, d.mon, d.day, d.hh, d.mm, d.ss, d.year,
	    &end) == 7 && end == (int)len && strlen(d.year) == 4)
		return http_date_time(&d, false, now);
	return -1;
}

long
http_parse_retry_after(const char *value, time_t now)
{
	const long max_s = HTTP_RETRY_AFTER_MAX_MS / 1000;
	char buf[HTTP_MAX_RETRY_AFTER_LEN + 1];
	size_t len, i;
	int64_t t;
	long secs = 0;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	len = strnlen(value, HTTP_MAX_RETRY_AFTER_LEN + 1);
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len == 0 || len > HTTP_MAX_RETRY_AFTER_LEN)
		return -1;
	memcpy(buf, value, len);
	buf[len] = '\0';

	if (http_digits(buf, len)) {
		for (i = 0; i < len && secs <= max_s; i++)
			secs = secs * 10 + (buf[i] - '0');
		return secs >= max_s ? HTTP_RETRY_AFTER_MAX_MS : secs * 1000;
	}
	if ((t = http_parse_date(buf, now)) < 0)
		return -1;
	if (t <= (int64_t)now)
		return 0;
	if (t - (int64_t)now >= max_s)
		return HTTP_RETRY_AFTER_MAX_MS;
	return (long)(t - (int64_t)now) * 1000;
}

/* ---- encoding ---- */

static bool
http_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static size_t
http_escaped_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += http_unreserved((unsigned char)*s) ? 1 : 3;
	return n;
}

/* Writes the escaped form of s at out; returns the end. */
static char *
http_escape_into(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (http_unreserved(c))
			*out++ = (char)c;
		else {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 0xf];
		}
	}
	*out = '\0';
	return out;
}

char *
http_url_escape(const char *s)
{
	char *out = xreallocarray(NULL, strlen(s) + 1, 3);

	http_escape_into(out, s);
	return out;
}

char *
http_form_encode(const char *const *kv)
{
	const char *const *p;
	size_t n = 1;
	char *out, *w;

	for (p = kv; p[0] != NULL && p[1] != NULL; p += 2)
		n += http_escaped_len(p[0]) + http_escaped_len(p[1]) + 2;
	out = w = xmalloc(n);
	*w = '\0';
	for (p = kv; p[0] != NULL && p[1] != NULL; p += 2) {
		if (p != kv)
			*w++ = '&';
		w = http_escape_into(w, p[0]);
		*w++ = '=';
		w = http_escape_into(w, p[1]);
	}
	return out;
}
