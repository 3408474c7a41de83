/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi's FastCGI records (cgi/fastcgi.c) on arbitrary bytes, as a
 * web server (or whatever connected to the socket) might send them.
 *
 * The first byte sets the size of the pieces the rest is fed in, as reads
 * of a socket return them; each complete request is answered, and the
 * feeding goes on as on a kept connection, until a protocol error or the
 * end.  Checks besides "no crash": a request's status is 0, 400 or 413;
 * its parameters and body stay within the limits and hold no NUL; the
 * output is whole FastCGI 1 records, each padded to a multiple of 8.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fastcgi.h"
#include "fuzz.h"
#include "request.h"

static void
check_request(const struct fcgi_conn *c)
{
	if (c->status != 0 && c->status != 400 && c->status != 413)
		abort();
	if (c->params.n > FCGI_MAX_PAIRS || c->body_len > REQ_MAX_BODY ||
	    c->body == NULL || c->body[c->body_len] != '\0')
		abort();
	for (size_t i = 0; i < c->params.n; i++)
		if (*c->params.v[i].name == '\0' ||
		    strlen(c->params.v[i].name) > FCGI_MAX_NAME)
			abort();
}

static void
check_output(const struct fcgi_conn *c)
{
	size_t off = 0, clen, plen;

	while (off < c->out_len) {
		if (c->out_len - off < FCGI_HEADER_LEN || c->out[off] != 1)
			abort();
		clen = (size_t)c->out[off + 4] << 8 | c->out[off + 5];
		plen = c->out[off + 6];
		if ((clen + plen) % 8 != 0 ||
		    c->out_len - off - FCGI_HEADER_LEN < clen + plen)
			abort();
		off += FCGI_HEADER_LEN + clen + plen;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char answer[] = "Status: 200 OK\r\n\r\n";
	struct fcgi_conn *c;
	enum fcgi_event ev;
	size_t piece, n, used;

	if (size == 0)
		return 0;
	piece = 1 + data[0] * 64;
	data++;
	size--;
	c = fcgi_conn_new();
	while (size > 0 && !c->close) {
		n = size < piece ? size : piece;
		ev = fcgi_feed(c, data, n, &used);
		if (used > n)
			abort();
		data += used;
		size -= used;
		if (ev == FCGI_EV_ERROR)
			break;
		if (ev == FCGI_EV_REQUEST) {
			check_request(c);
			fcgi_respond(c, answer, sizeof answer - 1);
		}
		check_output(c);
		fcgi_output_done(c);
	}
	fcgi_conn_free(c);
	return 0;
}
