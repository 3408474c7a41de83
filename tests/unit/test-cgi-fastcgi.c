/* SPDX-License-Identifier: ISC */
/*
 * cgi/fastcgi.c: every record type, a request split at every byte, the
 * limits on parameters and body, and the answers the protocol gives by
 * itself (FCGI_GET_VALUES, FCGI_UNKNOWN_TYPE, FCGI_CANT_MPX_CONN).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fastcgi.h"
#include "request.h"
#include "tap.h"

struct bytes {
	unsigned char *p;
	size_t len;
};

static void
put(struct bytes *b, const void *data, size_t len)
{
	b->p = xreallocarray(b->p, b->len + len + 1, 1);
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* A record, with pad bytes of padding (not zero, as a sender may). */
static void
rec(struct bytes *b, unsigned type, unsigned id, const void *c, size_t len,
    size_t pad)
{
	unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(id >> 8),
		(unsigned char)id, (unsigned char)(len >> 8),
		(unsigned char)len, (unsigned char)pad, 0 };
	unsigned char junk[255];

	memset(junk, 0xa5, sizeof junk);
	put(b, h, 8);
	put(b, c, len);
	put(b, junk, pad);
}

static void
pair(struct bytes *b, const char *name, const char *value)
{
	size_t n[2] = { strlen(name), strlen(value) };
	unsigned char l[4];

	for (int i = 0; i < 2; i++) {
		if (n[i] < 128) {
			l[0] = (unsigned char)n[i];
			put(b, l, 1);
		} else {
			put_be32(l, (uint32_t)n[i] | 0x80000000u);
			put(b, l, 4);
		}
	}
	put(b, name, n[0]);
	put(b, value, n[1]);
}

static void
begin(struct bytes *b, unsigned id, unsigned role, unsigned flags)
{
	unsigned char c[8] = { (unsigned char)(role >> 8), (unsigned char)role,
		(unsigned char)flags };

	rec(b, FCGI_BEGIN_REQUEST, id, c, 8, 0);
}

/* A GET with a long cookie (4-byte length), and a form body. */
static struct bytes
sample(unsigned flags)
{
	struct bytes b = { 0 }, pairs = { 0 };
	char cookie[300];

	memset(cookie, 'c', sizeof cookie - 1);
	cookie[sizeof cookie - 1] = '\0';
	pair(&pairs, "REQUEST_METHOD", "POST");
	pair(&pairs, "PATH_INFO", "/activities");
	pair(&pairs, "HTTP_COOKIE", cookie);
	pair(&pairs, "CONTENT_LENGTH", "7");
	begin(&b, 1, FCGI_RESPONDER, flags);
	/* The pairs in two records, the first cut inside a pair. */
	rec(&b, FCGI_PARAMS, 1, pairs.p, 20, 4);
	rec(&b, FCGI_PARAMS, 1, pairs.p + 20, pairs.len - 20, 3);
	rec(&b, FCGI_PARAMS, 1, NULL, 0, 0);
	rec(&b, FCGI_STDIN, 1, "a=1", 3, 5);
	rec(&b, FCGI_STDIN, 1, "&b=2", 4, 0);
	rec(&b, FCGI_STDIN, 1, NULL, 0, 0);
	free(pairs.p);
	return b;
}

/* Feeds everything; the last event, and how much was left unused. */
static enum fcgi_event
feed_all(struct fcgi_conn *c, const unsigned char *p, size_t len,
    size_t *left)
{
	enum fcgi_event ev = FCGI_EV_MORE;
	size_t used;

	while (len > 0) {
		ev = fcgi_feed(c, p, len, &used);
		p += used;
		len -= used;
		if (ev != FCGI_EV_MORE || c->close)
			break;
	}
	*left = len;
	return ev;
}

static int
sample_ok(const struct fcgi_conn *c)
{
	const char *cookie = req_params_get(&c->params, "HTTP_COOKIE");

	return c->status == 0 && c->params.n == 4 &&
	    strcmp(req_params_get(&c->params, "REQUEST_METHOD"), "POST") == 0 &&
	    strcmp(req_params_get(&c->params, "PATH_INFO"), "/activities") == 0 &&
	    cookie != NULL && strlen(cookie) == 299 &&
	    req_params_get(&c->params, "QUERY_STRING") == NULL && c->body_len == 7 &&
	    memcmp(c->body, "a=1&b=2", 8) == 0;
}

/* The output's records: how many, and the i-th's type, id, content. */
static size_t
out_record(const struct fcgi_conn *c, size_t want, unsigned *type,
    unsigned *id, const unsigned char **content, size_t *len)
{
	size_t off = 0, n = 0, clen, plen;

	while (off + 8 <= c->out_len) {
		clen = (size_t)c->out[off + 4] << 8 | c->out[off + 5];
		plen = c->out[off + 6];
		if (n == want) {
			*type = c->out[off + 1];
			*id = (unsigned)c->out[off + 2] << 8 | c->out[off + 3];
			*content = c->out + off + 8;
			*len = clen;
		}
		if ((clen + plen) % 8 != 0 || c->out[off] != 1)
			return 0;
		off += 8 + clen + plen;
		n++;
	}
	return off == c->out_len ? n : 0;
}

static void
test_whole_request(void)
{
	struct bytes b = sample(FCGI_KEEP_CONN);
	struct fcgi_conn *c = fcgi_conn_new();
	size_t left;

	ok(feed_all(c, b.p, b.len, &left) == FCGI_EV_REQUEST && left == 0,
	    "a whole request: one event at its end");
	ok(sample_ok(c), "its parameters (1- and 4-byte lengths, split over "
	    "records, padded) and its body");
	ok(c->out_len == 0, "nothing said before the answer");
	fcgi_conn_free(c);
	free(b.p);
}

static void
test_split_at_every_byte(void)
{
	struct bytes b = sample(FCGI_KEEP_CONN);
	struct fcgi_conn *c;
	size_t left, used, bad = 0;
	enum fcgi_event ev;

	for (size_t i = 1; i < b.len; i++) {
		c = fcgi_conn_new();
		ev = fcgi_feed(c, b.p, i, &used);
		if (ev != FCGI_EV_MORE || used != i ||
		    feed_all(c, b.p + i, b.len - i, &left) != FCGI_EV_REQUEST ||
		    left != 0 || !sample_ok(c))
			bad++;
		fcgi_conn_free(c);
	}
	ok(bad == 0, "split in two at each of %zu bytes: the same request",
	    b.len - 1);
	c = fcgi_conn_new();
	for (size_t i = 0; i < b.len; i++) {
		ev = fcgi_feed(c, b.p + i, 1, &used);
		if (used != 1 || (ev == FCGI_EV_REQUEST) != (i == b.len - 1))
			bad++;
	}
	ok(bad == 0 && sample_ok(c), "a byte at a time: the same request");
	fcgi_conn_free(c);
	free(b.p);
}

static void
test_respond(void)
{
	struct bytes b = sample(FCGI_KEEP_CONN), two = { 0 };
	struct fcgi_conn *c = fcgi_conn_new();
	const unsigned char *content;
	char *answer = xmalloc(70000);
	size_t left, len, n, got = 0, stdout_n = 0;
	unsigned type, id;

	put(&two, b.p, b.len);
	put(&two, b.p, b.len);
	memset(answer, 'x', 70000);
	memcpy(answer, "Status: 200 OK\r\n\r\n", 18);
	ok(feed_all(c, two.p, two.len, &left) == FCGI_EV_REQUEST &&
	    left == b.len, "two requests on a kept connection: the first "
	    "stops where it ends");
	fcgi_respond(c, answer, 70000);
	n = out_record(c, 0, &type, &id, &content, &len);
	for (size_t i = 0; i < n; i++) {
		(void)out_record(c, i, &type, &id, &content, &len);
		if (type == FCGI_STDOUT && id == 1 && len > 0) {
			if (memcmp(content, answer + got, len) == 0)
				got += len;
			stdout_n++;
		}
	}
	ok(n == stdout_n + 2 && got == 70000 && stdout_n == 3,
	    "70000 bytes answered in 3 FCGI_STDOUT records, each padded to 8");
	(void)out_record(c, n - 2, &type, &id, &content, &len);
	ok(type == FCGI_STDOUT && len == 0, "then an empty FCGI_STDOUT");
	(void)out_record(c, n - 1, &type, &id, &content, &len);
	ok(type == FCGI_END_REQUEST && id == 1 && len == 8 &&
	    content[4] == FCGI_REQUEST_COMPLETE, "then FCGI_END_REQUEST, "
	    "FCGI_REQUEST_COMPLETE");
	ok(!c->close && c->params.n == 0 && c->body == NULL,
	    "FCGI_KEEP_CONN: kept open, nothing of the request left");
	fcgi_output_done(c);
	ok(feed_all(c, two.p + b.len, b.len, &left) == FCGI_EV_REQUEST &&
	    sample_ok(c), "the second request follows");
	fcgi_respond(c, "Status: 204 No Content\r\n\r\n", 26);
	fcgi_conn_free(c);
	free(two.p);
	free(b.p);

	b = sample(0);
	c = fcgi_conn_new();
	ok(feed_all(c, b.p, b.len, &left) == FCGI_EV_REQUEST, "without "
	    "FCGI_KEEP_CONN");
	fcgi_respond(c, "", 0);
	n = out_record(c, 0, &type, &id, &content, &len);
	ok(c->close && n == 2, "the answer closes the connection");
	fcgi_conn_free(c);
	free(b.p);
	free(answer);
}

/* Feeds b to a new connection; the output's only record must be type. */
static struct fcgi_conn *
answered(struct bytes *b, enum fcgi_event want_ev, unsigned want_type)
{
	struct fcgi_conn *c = fcgi_conn_new();
	const unsigned char *content;
	size_t left, len;
	unsigned type = 0, id;

	if (feed_all(c, b->p, b->len, &left) != want_ev ||
	    (want_type != 0 && (out_record(c, 0, &type, &id, &content,
	    &len) != 1 || type != want_type)))
		c->status = -1;
	free(b->p);
	b->p = NULL;
	b->len = 0;
	return c;
}

static void
test_management(void)
{
	struct bytes b = { 0 }, q = { 0 };
	struct fcgi_conn *c;
	const unsigned char *content;
	unsigned type, id;
	size_t len;

	pair(&q, "FCGI_MPXS_CONNS", "");
	pair(&q, "FCGI_MAX_REQS", "");
	pair(&q, "NO_SUCH_VALUE", "");
	rec(&b, FCGI_GET_VALUES, 0, q.p, q.len, 2);
	c = answered(&b, FCGI_EV_MORE, FCGI_GET_VALUES_RESULT);
	(void)out_record(c, 0, &type, &id, &content, &len);
	ok(c->status == 0 && id == 0 && len == 2 + 15 + 1 + 2 + 13 + 1 &&
	    memcmp(content, "\x0d\x01" "FCGI_MAX_REQS1\x0f\x01"
	    "FCGI_MPXS_CONNS0", len) == 0, "FCGI_GET_VALUES: no multiplexing, "
	    "one request; unknown names left out");
	fcgi_conn_free(c);
	free(q.p);

	rec(&b, 99, 0, "x", 1, 7);
	c = answered(&b, FCGI_EV_MORE, FCGI_UNKNOWN_TYPE);
	(void)out_record(c, 0, &type, &id, &content, &len);
	ok(c->status == 0 && len == 8 && content[0] == 99,
	    "an unknown management type: FCGI_UNKNOWN_TYPE naming it");
	fcgi_conn_free(c);

	begin(&b, 1, FCGI_RESPONDER, 0);
	rec(&b, 200, 1, NULL, 0, 0);
	rec(&b, FCGI_STDOUT, 1, "x", 1, 0);
	c = answered(&b, FCGI_EV_MORE, 0);
	ok(out_record(c, 0, &type, &id, &content, &len) == 2 &&
	    type == FCGI_UNKNOWN_TYPE && content[0] == 200,
	    "an unknown type in a request: FCGI_UNKNOWN_TYPE");
	(void)out_record(c, 1, &type, &id, &content, &len);
	ok(type == FCGI_UNKNOWN_TYPE && content[0] == FCGI_STDOUT,
	    "a type only the application sends: FCGI_UNKNOWN_TYPE");
	fcgi_conn_free(c);
}

static void
test_one_request_at_a_time(void)
{
	struct bytes b = { 0 };
	struct fcgi_conn *c;
	const unsigned char *content;
	unsigned type, id;
	size_t len;

	begin(&b, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
	begin(&b, 2, FCGI_RESPONDER, FCGI_KEEP_CONN);
	c = answered(&b, FCGI_EV_MORE, FCGI_END_REQUEST);
	(void)out_record(c, 0, &type, &id, &content, &len);
	ok(c->status == 0 && id == 2 && content[4] == FCGI_CANT_MPX_CONN &&
	    c->req_id == 1, "a second request meanwhile: FCGI_CANT_MPX_CONN, "
	    "the first goes on");
	fcgi_conn_free(c);

	begin(&b, 3, 2 /* FCGI_AUTHORIZER */, 0);
	c = answered(&b, FCGI_EV_MORE, FCGI_END_REQUEST);
	(void)out_record(c, 0, &type, &id, &content, &len);
	ok(c->status == 0 && id == 3 && content[4] == FCGI_UNKNOWN_ROLE &&
	    c->close, "another role: FCGI_UNKNOWN_ROLE, then closed");
	fcgi_conn_free(c);

	begin(&b, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
	rec(&b, FCGI_PARAMS, 1, "\x01\x01" "AB", 4, 0);
	rec(&b, FCGI_ABORT_REQUEST, 1, NULL, 0, 0);
	rec(&b, FCGI_PARAMS, 1, NULL, 0, 0);
	c = answered(&b, FCGI_EV_MORE, FCGI_END_REQUEST);
	ok(c->status == 0 && c->req_id == 0 && !c->close,
	    "FCGI_ABORT_REQUEST ends it; its later records are ignored");
	fcgi_conn_free(c);

	rec(&b, FCGI_PARAMS, 7, NULL, 0, 0);
	rec(&b, FCGI_STDIN, 7, NULL, 0, 0);
	c = answered(&b, FCGI_EV_MORE, 0);
	ok(c->status == 0 && c->out_len == 0, "records of no request: "
	    "ignored");
	fcgi_conn_free(c);
}

static void
test_protocol_errors(void)
{
	struct bytes b = { 0 };
	struct fcgi_conn *c;

	begin(&b, 1, FCGI_RESPONDER, 0);
	b.p[0] = 2;
	c = answered(&b, FCGI_EV_ERROR, 0);
	ok(c->status == 0 && c->cause != NULL, "version 2: a protocol error");
	fcgi_conn_free(c);

	rec(&b, FCGI_BEGIN_REQUEST, 1, "\0\1\0", 3, 5);
	c = answered(&b, FCGI_EV_ERROR, 0);
	ok(c->status == 0, "a short FCGI_BEGIN_REQUEST: a protocol error");
	fcgi_conn_free(c);

	begin(&b, 1, FCGI_RESPONDER, 0);
	rec(&b, FCGI_STDIN, 1, "x", 1, 0);
	c = answered(&b, FCGI_EV_ERROR, 0);
	ok(c->status == 0, "FCGI_STDIN before the parameters' end: a protocol "
	    "error");
	fcgi_conn_free(c);
}

/* A request with these parameter bytes; its status. */
static int
params_status(const void *pairs, size_t len)
{
	struct bytes b = { 0 };
	struct fcgi_conn *c;
	size_t n;
	int status;

	begin(&b, 1, FCGI_RESPONDER, 0);
	for (size_t off = 0; off < len; off += n) {
		n = len - off < 65535 ? len - off : 65535;
		rec(&b, FCGI_PARAMS, 1, (const char *)pairs + off, n, 0);
	}
	rec(&b, FCGI_PARAMS, 1, NULL, 0, 0);
	rec(&b, FCGI_STDIN, 1, NULL, 0, 0);
	c = answered(&b, FCGI_EV_REQUEST, 0);
	status = c->status;
	fcgi_conn_free(c);
	return status;
}

static void
test_limits(void)
{
	struct bytes p = { 0 }, b = { 0 };
	struct fcgi_conn *c;
	char *big = xmalloc(FCGI_MAX_PARAMS_BYTES + 1), name[300];
	unsigned char chunk[65535] = { 0 };

	memset(big, 'v', FCGI_MAX_PARAMS_BYTES);
	big[FCGI_MAX_PARAMS_BYTES] = '\0';
	pair(&p, "HTTP_COOKIE", big);
	ok(params_status(p.p, p.len) == 400, "parameters above %d bytes: 400",
	    FCGI_MAX_PARAMS_BYTES);
	free(p.p);
	p.p = NULL;
	p.len = 0;
	for (int i = 0; i <= FCGI_MAX_PAIRS; i++)
		pair(&p, "A", "1");
	ok(params_status(p.p, p.len) == 400, "more than %d pairs: 400",
	    FCGI_MAX_PAIRS);
	free(p.p);
	memset(name, 'N', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	p.p = NULL;
	p.len = 0;
	pair(&p, name, "1");
	ok(params_status(p.p, p.len) == 400, "a name above %d bytes: 400",
	    FCGI_MAX_NAME);
	free(p.p);
	ok(params_status("\x05\x01" "AB", 4) == 400, "a pair cut short: 400");
	ok(params_status("\x80\x00\x00\x09\x01" "AB1", 8) == 400,
	    "a 4-byte length past the end: 400");
	ok(params_status("\xff\xff\xff\xff\x01", 5) == 400,
	    "a 2 GiB length: 400");
	ok(params_status("\x01\x03" "AB\0C", 6) == 400, "a NUL in a value: 400");
	ok(params_status("\x00\x01" "1", 3) == 400, "an empty name: 400");
	ok(params_status("\x01\x00" "A", 3) == 0, "an empty value is fine");

	begin(&b, 1, FCGI_RESPONDER, 0);
	rec(&b, FCGI_PARAMS, 1, NULL, 0, 0);
	for (size_t sent = 0; sent <= REQ_MAX_BODY; sent += sizeof chunk)
		rec(&b, FCGI_STDIN, 1, chunk, sizeof chunk, 1);
	rec(&b, FCGI_STDIN, 1, NULL, 0, 0);
	c = answered(&b, FCGI_EV_REQUEST, 0);
	ok(c->status == 413 && c->body_len <= REQ_MAX_BODY,
	    "a body above %d bytes: 413, not kept", REQ_MAX_BODY);
	fcgi_conn_free(c);
	free(big);
}

static void
test_duplicates(void)
{
	struct req_params twice = { 0 };
	char *cause = NULL;

	ok(fcgi_pairs_parse(&twice, (const unsigned char *)"\x01\x01" "A1"
	    "\x01\x01" "A2\x01\x01" "B3", 12, &cause) == 0 &&
	    req_params_get(&twice, "A") == NULL &&
	    strcmp(req_params_get(&twice, "B"), "3") == 0,
	    "a name sent twice is unset, as in a query string");
	req_params_clear(&twice);
}

int
main(void)
{
	test_whole_request();
	test_split_at_every_byte();
	test_respond();
	test_management();
	test_one_request_at_a_time();
	test_protocol_errors();
	test_limits();
	test_duplicates();
	return tap_done();
}
