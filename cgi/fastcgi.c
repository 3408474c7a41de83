/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastcgi.h"
#include "log.h"
#include "request.h"

/* FCGI_STDOUT content per record: a multiple of 8 needs no padding. */
#define FCGI_STDOUT_CHUNK 32768

struct fcgi_conn *
fcgi_conn_new(void)
{
	return xcalloc(1, sizeof(struct fcgi_conn));
}

/* Forgets the request, keeping the connection and its output. */
static void
request_reset(struct fcgi_conn *c)
{
	free(c->params_raw);
	c->params_raw = NULL;
	c->params_len = 0;
	req_params_clear(&c->params);
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->req_id = 0;
	c->keep_conn = false;
	c->params_done = false;
	c->status = 0;
	free(c->cause);
	c->cause = NULL;
}

void
fcgi_conn_free(struct fcgi_conn *c)
{
	if (c == NULL)
		return;
	request_reset(c);
	free(c->out);
	free(c);
}

void
fcgi_output_done(struct fcgi_conn *c)
{
	c->out_len = 0;
}

/* --- name-value pairs --------------------------------------------------- */

/* A pair's length at *off: 1 byte below 128, else 4 with the top bit. */
static int
pair_length(const unsigned char *buf, size_t len, size_t *off, size_t *out)
{
	if (*off >= len)
		return -1;
	if ((buf[*off] & 0x80) == 0) {
		*out = buf[(*off)++];
		return 0;
	}
	if (len - *off < 4)
		return -1;
	*out = (size_t)(get_be32(buf + *off) & 0x7fffffffu);
	*off += 4;
	return 0;
}

int
fcgi_pairs_parse(struct req_params *p, const unsigned char *buf, size_t len,
    char **cause)
{
	size_t off = 0, nlen, vlen;
	const char *name, *value;

	while (off < len) {
		if (p->n == FCGI_MAX_PAIRS) {
			set_cause(cause, "more than %d parameters",
			    FCGI_MAX_PAIRS);
			goto fail;
		}
		if (pair_length(buf, len, &off, &nlen) == -1 ||
		    pair_length(buf, len, &off, &vlen) == -1 ||
		    nlen > len - off || vlen > len - off - nlen) {
			set_cause(cause, "parameter %zu cut short", p->n + 1);
			goto fail;
		}
		name = (const char *)buf + off;
		value = name + nlen;
		if (nlen == 0 || nlen > FCGI_MAX_NAME ||
		    memchr(name, '\0', nlen) != NULL ||
		    memchr(value, '\0', vlen) != NULL) {
			set_cause(cause, "parameter %zu: empty, too long or "
			    "holding a NUL", p->n + 1);
			goto fail;
		}
		p->v = xreallocarray(p->v, p->n + 1, sizeof *p->v);
		p->v[p->n].name = xstrndup(name, nlen);
		p->v[p->n].value = xstrndup(value, vlen);
		p->n++;
		off += nlen + vlen;
	}
	return 0;
fail:
	req_params_clear(p);
	return -1;
}

/* --- output ------------------------------------------------------------- */

static void
out_append(struct fcgi_conn *c, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (c->out_cap - c->out_len < len) {
		while (c->out_cap - c->out_len < len)
			c->out_cap = c->out_cap == 0 ? 4096 : c->out_cap * 2;
		c->out = realloc(c->out, c->out_cap);
		if (c->out == NULL)
			fatalx("%s: out of memory", __func__);
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

/* One record of len bytes (at most 65535), padded to a multiple of 8. */
static void
out_record(struct fcgi_conn *c, unsigned type, unsigned id, const void *data,
    size_t len)
{
	static const unsigned char zeros[8];
	unsigned char h[FCGI_HEADER_LEN];
	size_t pad = (8 - len % 8) % 8;

	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = (unsigned char)pad;
	h[7] = 0;
	out_append(c, h, sizeof h);
	out_append(c, data, len);
	out_append(c, zeros, pad);
}

static void
out_end_request(struct fcgi_conn *c, unsigned id, unsigned protocol_status)
{
	unsigned char body[8] = { 0 };	/* appStatus 0 */

	body[4] = (unsigned char)protocol_status;
	out_record(c, FCGI_END_REQUEST, id, body, sizeof body);
}

void
fcgi_respond(struct fcgi_conn *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n;

	while (len > 0) {
		n = len < FCGI_STDOUT_CHUNK ? len : FCGI_STDOUT_CHUNK;
		out_record(c, FCGI_STDOUT, c->req_id, p, n);
		p += n;
		len -= n;
	}
	out_record(c, FCGI_STDOUT, c->req_id, NULL, 0);
	out_end_request(c, c->req_id, FCGI_REQUEST_COMPLETE);
	if (!c->keep_conn)
		c->close = true;
	request_reset(c);
}

/* --- records ------------------------------------------------------------ */

/* FCGI_GET_VALUES: one connection, one request at a time, no multiplexing. */
static void
get_values(struct fcgi_conn *c)
{
	static const char *const known[][2] = {
		{ "FCGI_MAX_CONNS", "1" },
		{ "FCGI_MAX_REQS", "1" },
		{ "FCGI_MPXS_CONNS", "0" },
	};
	struct req_params asked = { 0 };
	unsigned char answer[64];	/* the three pairs, 1-byte lengths */
	size_t len = 0, nl;
	char *cause = NULL;

	if (fcgi_pairs_parse(&asked, c->content, c->content_len, &cause) == -1)
		free(cause);	/* an empty answer */
	for (size_t k = 0; k < nitems(known); k++) {
		if (req_params_get(&asked, known[k][0]) == NULL)
			continue;
		nl = strlen(known[k][0]);
		answer[len++] = (unsigned char)nl;
		answer[len++] = 1;
		memcpy(answer + len, known[k][0], nl);
		len += nl;
		answer[len++] = (unsigned char)known[k][1][0];
	}
	out_record(c, FCGI_GET_VALUES_RESULT, 0, answer, len);
	req_params_clear(&asked);
}

static void
unknown_type(struct fcgi_conn *c)
{
	unsigned char body[8] = { 0 };

	body[0] = (unsigned char)c->type;
	out_record(c, FCGI_UNKNOWN_TYPE, 0, body, sizeof body);
}

static enum fcgi_event
protocol_error(struct fcgi_conn *c, const char *why)
{
	free(c->cause);
	c->cause = xstrdup(why);
	return FCGI_EV_ERROR;
}

static enum fcgi_event
begin_request(struct fcgi_conn *c)
{
	unsigned role;
	bool keep;

	if (c->content_len != 8)
		return protocol_error(c, "FCGI_BEGIN_REQUEST of a wrong length");
	role = (unsigned)c->content[0] << 8 | c->content[1];
	keep = (c->content[2] & FCGI_KEEP_CONN) != 0;
	if (c->req_id == c->id)
		return protocol_error(c, "FCGI_BEGIN_REQUEST for an active "
		    "request");
	if (c->req_id != 0) {
		out_end_request(c, c->id, FCGI_CANT_MPX_CONN);
		return FCGI_EV_MORE;
	}
	if (role != FCGI_RESPONDER) {
		out_end_request(c, c->id, FCGI_UNKNOWN_ROLE);
		if (!keep)
			c->close = true;
		return FCGI_EV_MORE;
	}
	request_reset(c);
	c->req_id = c->id;
	c->keep_conn = keep;
	return FCGI_EV_MORE;
}

/* Sets the status the request gets, keeping the first reason. */
static void
request_refuse(struct fcgi_conn *c, int status, char *why)
{
	if (c->status == 0) {
		c->status = status;
		free(c->cause);
		c->cause = why;
	} else
		free(why);
}

static void
params_record(struct fcgi_conn *c)
{
	char *cause = NULL;

	if (c->content_len == 0) {
		c->params_done = true;
		if (c->status == 0 && fcgi_pairs_parse(&c->params,
		    c->params_raw, c->params_len, &cause) == -1)
			request_refuse(c, 400, cause);
		free(c->params_raw);
		c->params_raw = NULL;
		return;
	}
	if (c->status != 0)
		return;
	if (c->content_len > FCGI_MAX_PARAMS_BYTES - c->params_len) {
		request_refuse(c, 400, xasprintf("parameters longer than %d "
		    "bytes", FCGI_MAX_PARAMS_BYTES));
		return;
	}
	c->params_raw = xreallocarray(c->params_raw, c->params_len +
	    c->content_len, 1);
	memcpy(c->params_raw + c->params_len, c->content, c->content_len);
	c->params_len += c->content_len;
}

static enum fcgi_event
stdin_record(struct fcgi_conn *c)
{
	if (!c->params_done)
		return protocol_error(c, "FCGI_STDIN before the parameters "
		    "ended");
	if (c->content_len == 0) {
		if (c->body == NULL)
			c->body = xmalloc(1);
		c->body[c->body_len] = '\0';
		return FCGI_EV_REQUEST;
	}
	/* A request already refused keeps no body. */
	if (c->status != 0)
		return FCGI_EV_MORE;
	if (c->content_len > REQ_MAX_BODY - c->body_len) {
		request_refuse(c, 413, xasprintf("body larger than %d bytes",
		    REQ_MAX_BODY));
		return FCGI_EV_MORE;
	}
	c->body = xreallocarray(c->body, c->body_len + c->content_len + 1, 1);
	memcpy(c->body + c->body_len, c->content, c->content_len);
	c->body_len += c->content_len;
	return FCGI_EV_MORE;
}

/* A whole record is in: act on it. */
static enum fcgi_event
record(struct fcgi_conn *c)
{
	if (c->id == 0) {
		if (c->type == FCGI_GET_VALUES)
			get_values(c);
		else
			unknown_type(c);
		return FCGI_EV_MORE;
	}
	switch (c->type) {
	case FCGI_BEGIN_REQUEST:
		return begin_request(c);
	case FCGI_ABORT_REQUEST:
	case FCGI_PARAMS:
	case FCGI_STDIN:
	case FCGI_DATA:
		break;
	default:
		unknown_type(c);
		return FCGI_EV_MORE;
	}
	/* Records of a request not (or no longer) active are ignored. */
	if (c->id != c->req_id)
		return FCGI_EV_MORE;
	if (c->type == FCGI_ABORT_REQUEST) {
		out_end_request(c, c->id, FCGI_REQUEST_COMPLETE);
		if (!c->keep_conn)
			c->close = true;
		request_reset(c);
		return FCGI_EV_MORE;
	}
	if (c->type == FCGI_PARAMS) {
		if (c->params_done)
			return protocol_error(c, "FCGI_PARAMS after their end");
		params_record(c);
		return FCGI_EV_MORE;
	}
	if (c->type == FCGI_STDIN)
		return stdin_record(c);
	return FCGI_EV_MORE;	/* FCGI_DATA: the filter role's */
}

/* The header is in: check it. */
static int
header(struct fcgi_conn *c)
{
	if (c->hdr[0] != FCGI_VERSION_1)
		return -1;
	c->type = c->hdr[1];
	c->id = (unsigned)c->hdr[2] << 8 | c->hdr[3];
	c->content_len = (size_t)c->hdr[4] << 8 | c->hdr[5];
	c->padding_len = c->hdr[6];
	c->have = 0;
	return 0;
}

enum fcgi_event
fcgi_feed(struct fcgi_conn *c, const unsigned char *buf, size_t len,
    size_t *used)
{
	enum fcgi_event ev;
	size_t off = 0, n, want;

	*used = 0;
	while (off < len) {
		if (c->hdr_have < FCGI_HEADER_LEN) {
			n = FCGI_HEADER_LEN - c->hdr_have;
			n = n < len - off ? n : len - off;
			memcpy(c->hdr + c->hdr_have, buf + off, n);
			c->hdr_have += n;
			off += n;
			if (c->hdr_have < FCGI_HEADER_LEN)
				break;
			if (header(c) == -1) {
				*used = off;
				return protocol_error(c, "not FastCGI 1");
			}
		}
		want = c->content_len + c->padding_len - c->have;
		n = want < len - off ? want : len - off;
		if (c->have < c->content_len)
			memcpy(c->content + c->have, buf + off,
			    n < c->content_len - c->have ? n :
			    c->content_len - c->have);
		c->have += n;
		off += n;
		if (c->have < c->content_len + c->padding_len)
			break;
		c->hdr_have = 0;
		if ((ev = record(c)) != FCGI_EV_MORE) {
			*used = off;
			return ev;
		}
		if (c->close)
			break;
	}
	*used = off;
	return FCGI_EV_MORE;
}
