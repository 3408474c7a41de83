/* SPDX-License-Identifier: ISC */
/*
 * fastcgi: the FastCGI 1.0 protocol, responder role, as rally.cgi speaks
 * it in its persistent mode (main.c; docs/cgi.md section 11).
 *
 * A struct fcgi_conn is one connection from the web server.  fcgi_feed()
 * takes the bytes read from it, in pieces of any size, and stops when a
 * request is complete: its parameters (the CGI environment) and all of its
 * standard input.  Management records (FCGI_GET_VALUES, unknown types),
 * a second request on the connection (FCGI_CANT_MPX_CONN), a role other
 * than the responder's and FCGI_ABORT_REQUEST are answered by fcgi_feed()
 * itself, into the connection's output; the caller writes that output
 * after each call.  fcgi_respond() frames the answer as FCGI_STDOUT records
 * and ends the request.
 *
 * No I/O happens here, so the unit test and the fuzz target drive it with
 * bytes alone.  Every length from the web server is checked: parameters
 * above FCGI_MAX_PARAMS_BYTES or FCGI_MAX_PAIRS, or that are not
 * well-formed name-value pairs, make the request a 400; standard input
 * above REQ_MAX_BODY is discarded and the request answered 413, as under
 * CGI.  Only a broken framing (a version other than 1, a malformed
 * FCGI_BEGIN_REQUEST) is a protocol error, after which the connection is
 * closed.
 */
#ifndef RALLY_CGI_FASTCGI_H
#define RALLY_CGI_FASTCGI_H

#include <stdbool.h>
#include <stddef.h>

#include "request.h"
#include "util.h"

#define FCGI_VERSION_1 1
#define FCGI_HEADER_LEN 8

enum fcgi_type {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST = 2,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_STDERR = 7,
	FCGI_DATA = 8,
	FCGI_GET_VALUES = 9,
	FCGI_GET_VALUES_RESULT = 10,
	FCGI_UNKNOWN_TYPE = 11,
};

#define FCGI_RESPONDER 1
#define FCGI_KEEP_CONN 1

/* FCGI_END_REQUEST's protocolStatus. */
#define FCGI_REQUEST_COMPLETE 0
#define FCGI_CANT_MPX_CONN 1
#define FCGI_OVERLOADED 2
#define FCGI_UNKNOWN_ROLE 3

/*
 * The parameters of one request, all pairs' bytes together: the CGI
 * environment, which web servers keep well below this (lighttpd's request
 * headers are at most 64 KiB).  Names are at most FCGI_MAX_NAME bytes.
 */
#define FCGI_MAX_PARAMS_BYTES (128 * 1024)
#define FCGI_MAX_PAIRS 512
#define FCGI_MAX_NAME 256

enum fcgi_event {
	FCGI_EV_MORE,		/* all input consumed: read more */
	FCGI_EV_REQUEST,	/* a request is complete: serve it */
	FCGI_EV_ERROR,		/* a protocol error: close the connection */
};

struct fcgi_conn {
	/* The record being read: its header, then content and padding. */
	unsigned char hdr[FCGI_HEADER_LEN];
	size_t hdr_have;
	unsigned type, id;
	size_t content_len, padding_len, have;
	unsigned char content[65535];

	/* The request, once FCGI_BEGIN_REQUEST came (id 0: none). */
	unsigned req_id;
	bool keep_conn;
	bool params_done;
	unsigned char *params_raw;
	size_t params_len;
	struct req_params params;	/* the CGI environment */
	unsigned char *body;	/* standard input, NUL-terminated */
	size_t body_len;
	/* 0, or the HTTP status the request gets without being served. */
	int status;

	/* What to write to the web server, and whether to close after it. */
	unsigned char *out;
	size_t out_len, out_cap;
	bool close;
	char *cause;		/* the protocol error, for the log */
};

struct fcgi_conn *fcgi_conn_new(void);
void fcgi_conn_free(struct fcgi_conn *);

/*
 * Consumes up to len bytes of input; *used says how many.  FCGI_EV_REQUEST
 * stops at the end of the request's standard input, with the rest of the
 * input left for the next call (after fcgi_respond()).  FCGI_EV_ERROR sets
 * conn->cause.
 */
enum fcgi_event fcgi_feed(struct fcgi_conn *, const unsigned char *buf,
    size_t len, size_t *used) MUST_CHECK;

/*
 * Appends the answer (a CGI response: "Status:" line, headers, body) as
 * FCGI_STDOUT records and ends the request; the connection is then ready
 * for the next one, or marked to close without FCGI_KEEP_CONN.
 */
void fcgi_respond(struct fcgi_conn *, const void *data, size_t len);

/* The output was written: forget it. */
void fcgi_output_done(struct fcgi_conn *);

/*
 * Parses len bytes of name-value pairs (lengths of 1 byte below 128, else
 * 4 bytes with the top bit set) into p, which must be empty; a name that
 * occurs twice is then unset for req_params_get(), as a query parameter.  -1 with
 * *cause set when a pair is cut short, a name is empty or longer than
 * FCGI_MAX_NAME, a name or value holds a NUL, or there are more than
 * FCGI_MAX_PAIRS.
 */
int fcgi_pairs_parse(struct req_params *p, const unsigned char *buf,
    size_t len, char **cause) MUST_CHECK;

#endif
