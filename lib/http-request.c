/* SPDX-License-Identifier: ISC */
/*
 * http-request: building a request (method, URL, headers, body, bearer) and
 * checking it at submit, so that nothing malformed or injected reaches
 * curl; and freeing it, wiping what may hold credentials.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "http-private.h"
#include "log.h"

/* Also for a submitted request: takes it out of curl and libevent. */
void
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
http_request_prepare(struct http *h, struct http_request *req, char **cause)
{
	if (req->bearer != NULL) {
		char *line = xasprintf("Bearer %s", req->bearer);

		http_request_header(req, "Authorization", line);
		secure_free(line, strlen(line));
	}
	return http_request_check(h, req, cause);
}
