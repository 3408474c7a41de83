/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-batch.h"
#include "mail/mimeparam.h"
#include "strbuf.h"
#include "util.h"

#define CID_PREFIX "response-b"
#define HEAD_OVER "a part's headers are over 16 KiB"

char *
http_batch_request(const char *boundary, const char *const *paths, size_t n,
    size_t *len)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++)
		strbuf_addf(&sb, "--%s\r\nContent-Type: application/http\r\n"
		    "Content-ID: <b%zu>\r\n\r\nGET %s\r\n\r\n", boundary, i,
		    paths[i]);
	strbuf_addf(&sb, "--%s--\r\n", boundary);
	return strbuf_take(&sb, len);
}

const char *
http_batch_strerror(enum http_batch_err e)
{
	switch (e) {
	case HTTP_BATCH_OK:
		return "ok";
	case HTTP_BATCH_MALFORMED:
		return "malformed batch answer";
	case HTTP_BATCH_TOO_LARGE:
		return "batch answer over its limits";
	}
	return "?";
}

/* The next line of [p, end): its length in *n, without CR LF or LF;
 * NULL when no line ends before end. */
static const char *
line_next(const char *p, const char *end, size_t *n)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL)
		return NULL;
	*n = (size_t)(nl - p);
	if (*n > 0 && p[*n - 1] == '\r')
		(*n)--;
	return nl + 1;
}

/* The value of header name in line [p, p + n), trimmed; NULL if another. */
static const char *
header_value(const char *p, size_t n, const char *name, size_t *vn)
{
	size_t k = strlen(name);

	if (n <= k || p[k] != ':' || strncasecmp(p, name, k) != 0)
		return NULL;
	p += k + 1;
	n -= k + 1;
	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*vn = n;
	return p;
}

struct part_head {
	const char *cid;	/* Content-ID's value, or NULL */
	size_t cid_len;
	long content_length;	/* -1: none */
};

/*
 * Reads header lines up to the empty one from *p, noting Content-ID and
 * Content-Length; *budget is what is left of HTTP_BATCH_HEAD_MAX.
 * -1: no end of headers; -2: over the budget.
 */
static int
head_read(const char **p, const char *end, size_t *budget,
    struct part_head *h)
{
	const char *next, *v;
	size_t n, vn;
	int64_t cl;
	char num[24];

	for (;;) {
		if ((next = line_next(*p, end, &n)) == NULL)
			return -1;
		if ((size_t)(next - *p) > *budget)
			return -2;
		*budget -= (size_t)(next - *p);
		if (n == 0) {
			*p = next;
			return 0;
		}
		if ((v = header_value(*p, n, "Content-ID", &vn)) != NULL) {
			h->cid = v;
			h->cid_len = vn;
		} else if ((v = header_value(*p, n, "Content-Length", &vn)) !=
		    NULL) {
			if (vn == 0 || vn >= sizeof num)
				return -1;
			memcpy(num, v, vn);
			num[vn] = '\0';
			if (parse_int64(num, 0, INT64_MAX, &cl) == -1)
				return -1;
			h->content_length = (long)cl;
		}
		*p = next;
	}
}

/* "HTTP/1.1 404 Not Found": the status, or -1. */
static long
status_line(const char *p, size_t n)
{
	long status = 0;

	if (n < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return -1;
	for (size_t i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		status = status * 10 + (p[i] - '0');
	}
	if (n > 12 && p[12] != ' ')
		return -1;
	return status >= 100 ? status : -1;
}

/* Which call a Content-ID answers: its index, or -1 (unknown). */
static long
cid_index(const char *v, size_t n, size_t ncalls)
{
	size_t k = sizeof CID_PREFIX - 1;
	long i = 0;

	if (n >= 2 && v[0] == '<' && v[n - 1] == '>')
		v++, n -= 2;
	if (n <= k || n > k + 3 || strncmp(v, CID_PREFIX, k) != 0)
		return -1;
	if (v[k] == '0' && n > k + 1)
		return -1;
	for (size_t j = k; j < n; j++) {
		if (v[j] < '0' || v[j] > '9')
			return -1;
		i = i * 10 + (v[j] - '0');
	}
	return (size_t)i < ncalls ? i : -1;
}

/* One part, [p, end): set into parts, or an error message. */
static const char *
part_read(const char *p, const char *end, struct http_batch_part *parts,
    size_t n)
{
	struct part_head outer = { NULL, 0, -1 }, inner = { NULL, 0, -1 };
	size_t budget = HTTP_BATCH_HEAD_MAX, ln;
	const char *next;
	long status, i;
	int rc;

	if ((rc = head_read(&p, end, &budget, &outer)) < 0)
		return rc == -2 ? HEAD_OVER : "a part's headers do not end";
	while ((next = line_next(p, end, &ln)) != NULL && ln == 0)
		p = next;	/* blank lines before the status line */
	if (next == NULL || (status = status_line(p, ln)) == -1)
		return "a part has no HTTP status line";
	p = next;
	if ((rc = head_read(&p, end, &budget, &inner)) < 0)
		return rc == -2 ? HEAD_OVER : "a part's response headers do not end";
	if (inner.content_length > end - p)
		return "a part is shorter than its Content-Length";
	if (inner.content_length >= 0)
		end = p + inner.content_length;
	if (outer.cid == NULL ||
	    (i = cid_index(outer.cid, outer.cid_len, n)) == -1)
		return NULL;	/* not one of ours: ignored */
	if (parts[i].status != 0)
		return "a Content-ID is answered twice";
	parts[i].status = status;
	parts[i].body = p;
	parts[i].body_len = (size_t)(end - p);
	return NULL;
}

/* The next delimiter line "--boundary" at or after p, at a line's start. */
static const char *
delim_find(const char *start, const char *p, const char *end, const char *b,
    size_t bn)
{
	while (p < end) {
		const char *d = memmem(p, (size_t)(end - p), b, bn);

		if (d == NULL)
			return NULL;
		if (d == start || d[-1] == '\n')
			return d;
		p = d + 1;
	}
	return NULL;
}

/* Where the content before delimiter d ends: before its line break. */
static const char *
content_end(const char *from, const char *d)
{
	if (d > from && d[-1] == '\n')
		d--;
	if (d > from && d[-1] == '\r')
		d--;
	return d;
}

static void
parts_clear(struct http_batch_part *parts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		parts[i].status = 0;
		parts[i].body = "";
		parts[i].body_len = 0;
	}
}

/* The delimiter "--boundary" from the Content-Type, or an error message. */
static const char *
boundary_of(const char *content_type, char *b, size_t bsize)
{
	struct strbuf sb = STRBUF_INIT;
	const char *v;
	size_t vn;
	const char *why = NULL;

	if (content_type == NULL)
		return "no Content-Type";
	vn = mimeparam_value(content_type, strlen(content_type), &v);
	if (vn != 15 || strncasecmp(v, "multipart/mixed", 15) != 0)
		return "not multipart/mixed";
	if (!mimeparam_raw(content_type, strlen(content_type), "boundary", &sb))
		why = "no boundary";
	else if (sb.len == 0 || sb.len > HTTP_BATCH_BOUNDARY_MAX ||
	    memchr(sb.p, '\0', sb.len) != NULL || sb.len + 3 > bsize)
		why = "a bad boundary";
	else
		snprintf(b, bsize, "--%s", sb.p);
	strbuf_free(&sb);
	return why;
}

/* The parts between the delimiters; an error message or NULL. */
static const char *
parts_read(const char *body, size_t len, const char *b,
    struct http_batch_part *parts, size_t n, bool *too_many)
{
	const char *end = body + len, *d, *p, *next, *why;
	size_t bn = strlen(b), ln, count = 0;

	if ((d = delim_find(body, body, end, b, bn)) == NULL)
		return "no delimiter";
	for (;;) {
		p = d + bn;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return NULL;	/* the close delimiter */
		if ((next = line_next(p, end, &ln)) == NULL)
			return "cut short";
		if (ln != strspn(p, " \t"))
			return "text after a delimiter";
		if ((d = delim_find(body, next, end, b, bn)) == NULL)
			return "cut short";
		if (++count > HTTP_BATCH_MAX_PARTS) {
			*too_many = true;
			return "too many parts";
		}
		if ((why = part_read(next, content_end(next, d), parts, n)) !=
		    NULL)
			return why;
	}
}

enum http_batch_err
http_batch_parse(const char *content_type, const char *body, size_t len,
    size_t max_len, struct http_batch_part *parts, size_t n, char *err,
    size_t errlen)
{
	char b[HTTP_BATCH_BOUNDARY_MAX + 3];
	const char *why;
	bool too_many = false;

	parts_clear(parts, n);
	if (len > max_len) {
		snprintf(err, errlen, "batch answer of %zu bytes, over %zu",
		    len, max_len);
		return HTTP_BATCH_TOO_LARGE;
	}
	if ((why = boundary_of(content_type, b, sizeof b)) == NULL)
		why = parts_read(body, len, b, parts, n, &too_many);
	if (why == NULL)
		return HTTP_BATCH_OK;
	parts_clear(parts, n);
	snprintf(err, errlen, "batch answer: %s", why);
	return too_many ? HTTP_BATCH_TOO_LARGE : HTTP_BATCH_MALFORMED;
}
