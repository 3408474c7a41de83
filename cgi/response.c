/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "response.h"

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{ 200, "OK" },
	{ 204, "No Content" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 409, "Conflict" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" },
	{ 500, "Internal Server Error" },
	{ 503, "Service Unavailable" },
};

const char *
response_reason(int status)
{
	for (size_t i = 0; i < nitems(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	fatalx("%s: no reason phrase for %d", __func__, status);
}

struct response *
response_new(void)
{
	struct response *r = xcalloc(1, sizeof *r);

	r->status = 500;
	return r;
}

void
response_free(struct response *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->content_type);
	free(r->body);
	free(r);
}

void
response_set_status(struct response *r, int status)
{
	(void)response_reason(status);	/* a status we can name */
	r->status = status;
}

/* A header line must stay one line: no CR, LF or other control byte. */
static void
check_field(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fatalx("response: control byte in a header");
}

void
response_set_header(struct response *r, const char *name, const char *value)
{
	size_t i;

	check_field(name);
	check_field(value);
	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			break;
	if (i == r->nheaders) {
		if (r->nheaders == RESP_MAX_HEADERS)
			fatalx("response: more than %d headers",
			    RESP_MAX_HEADERS);
		r->headers[r->nheaders++].name = xstrdup(name);
	} else
		free(r->headers[i].value);
	r->headers[i].value = xstrdup(value);
}

void
response_add_header(struct response *r, const char *name, const char *value)
{
	check_field(name);
	check_field(value);
	if (r->nheaders == RESP_MAX_HEADERS)
		fatalx("response: more than %d headers", RESP_MAX_HEADERS);
	r->headers[r->nheaders].name = xstrdup(name);
	r->headers[r->nheaders++].value = xstrdup(value);
}

/* Whether a header of this name was set. */
static bool
has_header(const struct response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return true;
	return false;
}

void
response_set_body(struct response *r, int status, const char *content_type,
    const void *body, size_t len)
{
	response_set_status(r, status);
	free(r->content_type);
	free(r->body);
	r->content_type = NULL;
	r->body = NULL;
	r->body_len = 0;
	if (status == 204 || status == 304)
		return;
	check_field(content_type);
	r->content_type = xstrdup(content_type);
	r->body = xmalloc(len + 1);
	memcpy(r->body, body, len);
	r->body[len] = '\0';
	r->body_len = len;
}

void
response_plain(struct response *r, int status, const char *detail)
{
	char *text;

	text = xasprintf("%d %s\n%s%s", status, response_reason(status),
	    detail != NULL ? detail : "", detail != NULL ? "\n" : "");
	response_set_body(r, status, "text/plain; charset=utf-8", text,
	    strlen(text));
	free(text);
}

char *
response_format(const struct response *r, size_t *len)
{
	char *head, *out, *line, *tmp;
	size_t hlen;

	head = xasprintf("Status: %d %s\r\n"
	    "%s"
	    "X-Content-Type-Options: nosniff\r\n", r->status,
	    response_reason(r->status), has_header(r, "Cache-Control") ? "" :
	    "Cache-Control: no-store\r\n");
	for (size_t i = 0; i < r->nheaders; i++) {
		line = xasprintf("%s: %s\r\n", r->headers[i].name,
		    r->headers[i].value);
		tmp = xasprintf("%s%s", head, line);
		free(head);
		free(line);
		head = tmp;
	}
	if (r->content_type != NULL) {
		tmp = xasprintf("%sContent-Type: %s\r\nContent-Length: %zu\r\n",
		    head, r->content_type, r->body_len);
		free(head);
		head = tmp;
	}
	hlen = strlen(head);
	out = xmalloc(hlen + 2 + r->body_len + 1);
	memcpy(out, head, hlen);
	memcpy(out + hlen, "\r\n", 2);
	if (r->body_len > 0)
		memcpy(out + hlen + 2, r->body, r->body_len);
	*len = hlen + 2 + r->body_len;
	out[*len] = '\0';
	free(head);
	return out;
}

int
response_write(const struct response *r, int fd, char **cause)
{
	size_t len, off = 0;
	char *buf = response_format(r, &len);
	ssize_t n;

	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			set_cause(cause, "write response: %s", strerror(errno));
			free(buf);
			return -1;
		}
		off += (size_t)n;
	}
	free(buf);
	return 0;
}
