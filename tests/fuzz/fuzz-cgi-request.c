/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi's request parser (cgi/request.c) on arbitrary bytes.
 *
 * The input is the request: eight lines for REQUEST_METHOD, PATH_INFO,
 * REQUEST_URI, SCRIPT_NAME, QUERY_STRING, CONTENT_TYPE, CONTENT_LENGTH and
 * an HTTP_X_GOOG_CHANNEL_ID header (an empty line leaves the variable
 * unset; a value ends at a NUL, as in a real environment), then the body,
 * read through a memfd as from standard input.  The body bytes are also
 * parsed as urlencoded parameters on their own.
 *
 * Checks besides "no crash": the only statuses are the documented ones;
 * what is accepted stays within the limits, is UTF-8 without NUL, and
 * parameters re-encoded parse back to themselves.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "request.h"
#include "utf8.h"

static const char *const vars[] = {
	"REQUEST_METHOD", "PATH_INFO", "REQUEST_URI", "SCRIPT_NAME",
	"QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
	"HTTP_X_GOOG_CHANNEL_ID",
};

struct fuzz_env {
	char *value[nitems(vars)];
};

static const char *
env_cb(const char *name, void *arg)
{
	struct fuzz_env *e = arg;

	for (size_t i = 0; i < nitems(vars); i++)
		if (strcmp(vars[i], name) == 0)
			return e->value[i];
	return NULL;
}

/* Splits the lines off data; returns where the body starts. */
static size_t
split(const uint8_t *data, size_t size, struct fuzz_env *e)
{
	size_t off = 0, n;
	const uint8_t *nl;

	for (size_t i = 0; i < nitems(vars); i++) {
		if (off >= size)
			break;
		nl = memchr(data + off, '\n', size - off);
		n = nl != NULL ? (size_t)(nl - (data + off)) : size - off;
		if (n > 0)
			e->value[i] = strndup((const char *)data + off, n);
		off += n + (nl != NULL);
	}
	return off;
}

static void
check_string(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max || !utf8_valid(s, n))
		abort();
}

static void
check_params(const struct req_params *p)
{
	if (p->n > REQ_MAX_PARAMS)
		abort();
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].name[0] == '\0')
			abort();
		check_string(p->v[i].name, REQ_MAX_NAME);
		check_string(p->v[i].value, REQ_MAX_VALUE);
	}
}

/* Appends s percent-encoded (all but RFC 3986 unreserved) to out. */
static size_t
encode(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL)
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}

/* Parameters re-encoded must parse back to themselves. */
static void
round_trip(const struct req_params *p)
{
	struct req_params again = { 0 };
	size_t len = 0, o = 0;
	char *s;

	for (size_t i = 0; i < p->n; i++)
		len += 3 * (strlen(p->v[i].name) + strlen(p->v[i].value)) + 2;
	s = xmalloc(len + 1);
	for (size_t i = 0; i < p->n; i++) {
		if (i > 0)
			s[o++] = '&';
		o += encode(s + o, p->v[i].name);
		s[o++] = '=';
		o += encode(s + o, p->v[i].value);
	}
	if (req_params_parse(&again, s, o, NULL) == -1 || again.n != p->n)
		abort();
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(again.v[i].name, p->v[i].name) != 0 ||
		    strcmp(again.v[i].value, p->v[i].value) != 0)
			abort();
	req_params_clear(&again);
	free(s);
}

static void
check_request(struct request *req)
{
	if (req->method[0] == '\0' || strlen(req->method) > REQ_MAX_METHOD)
		abort();
	if (req->path[0] != '/')
		abort();
	check_string(req->path, REQ_MAX_PATH);
	if (req->content_length > REQ_MAX_BODY ||
	    strlen(req->content_type) > REQ_MAX_CONTENT_TYPE)
		abort();
	check_params(&req->params);
}

/* Reads the body as rally.cgi does, from a file descriptor. */
static void
body(struct request *req, const uint8_t *data, size_t size)
{
	char *cause = NULL;
	int fd, status;

	if ((fd = memfd_create("body", MFD_CLOEXEC)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	status = request_read_body(req, fd, &cause);
	close(fd);
	if ((status == 0) != (cause == NULL) || (status != 0 && status != 400))
		abort();
	if (status == 0 && (req->body_len != req->content_length ||
	    req->body[req->body_len] != '\0'))
		abort();
	if (status == 0)
		check_params(&req->form);
	free(cause);
}

static void
header(const struct request *req)
{
	const char *v = NULL;
	char *cause = NULL;

	if (request_header(req, "X-Goog-Channel-ID", 64, &v, &cause) == 0) {
		if (cause != NULL || strlen(v) > 64)
			abort();
		for (; *v != '\0'; v++)
			if (*v < 0x20 || *v > 0x7e)
				abort();
	} else if (cause == NULL)
		abort();
	free(cause);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env e = { { NULL } };
	struct req_params p = { 0 };
	struct request *req;
	char *cause = NULL;
	size_t off = split(data, size, &e);
	int status;

	req = request_new(env_cb, &e);
	status = request_parse(req, &cause);
	if ((status == 0) != (cause == NULL) || (status != 0 &&
	    status != 400 && status != 413 && status != 414))
		abort();
	free(cause);
	if (status == 0) {
		check_request(req);
		round_trip(&req->params);
		header(req);
		body(req, data + off, size - off);
	}
	request_free(req);

	cause = NULL;
	if (req_params_parse(&p, (const char *)data + off, size - off,
	    &cause) == 0) {
		check_params(&p);
		round_trip(&p);
	} else if (cause == NULL || p.n != 0)
		abort();
	free(cause);
	req_params_clear(&p);
	for (size_t i = 0; i < nitems(e.value); i++)
		free(e.value[i]);
	return 0;
}
