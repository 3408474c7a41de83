/* SPDX-License-Identifier: ISC */
/*
 * http-attempt: one attempt of a request on a fresh easy handle, for
 * lib/http.c: its options, the body and Retry-After as they arrive, and the
 * outcome (status, version, an error that never quotes the query string).
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "http-private.h"
#include "log.h"

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

void
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
#if LIBCURL_VERSION_NUM >= 0x075700
	/*
	 * A transfer that times out or is removed while its name lookup runs
	 * would otherwise wait for the resolver's thread (10 s and more with
	 * a name server that does not answer), on the event loop.
	 */
	SETOPT(CURLOPT_QUICK_EXIT, 1L);
#endif
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

void
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
int
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

void
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

