/* SPDX-License-Identifier: ISC */
/*
 * response: what rally.cgi writes on standard output, as RFC 3875 section 6
 * wants it: a "Status:" line, header lines, a blank line and the body.
 *
 * Every response carries X-Content-Type-Options: nosniff, and
 * Cache-Control: no-store unless it sets its own (nothing rally.cgi says
 * but its stylesheet is for a cache).  Header
 * values are Rally's own; one holding a line break is a programming error.
 */
#ifndef RALLY_CGI_RESPONSE_H
#define RALLY_CGI_RESPONSE_H

#include <stddef.h>

#include "util.h"

#define RESP_MAX_HEADERS 24

struct response {
	int status;
	struct {
		char *name;
		char *value;
	} headers[RESP_MAX_HEADERS];
	size_t nheaders;
	char *content_type;
	char *body;
	size_t body_len;
};

/* A 500 with no body until a page says otherwise. */
struct response *response_new(void);
void response_free(struct response *);

/* The reason phrase of a status rally.cgi uses ("Not Found"). */
const char *response_reason(int status);

void response_set_status(struct response *, int status);
/* Adds a header (replacing one of the same name). */
void response_set_header(struct response *, const char *name,
    const char *value);
/* Adds a header even when one of the same name is there (Set-Cookie). */
void response_add_header(struct response *, const char *name,
    const char *value);
/* Sets status and body; a 204 or 304 keeps no body. */
void response_set_body(struct response *, int status,
    const char *content_type, const void *body, size_t len);
/* A plain-text page: "404 Not Found" and, when not NULL, a line more. */
void response_plain(struct response *, int status, const char *detail);

/* The bytes to write (caller frees), headers in CRLF lines. */
char *response_format(const struct response *, size_t *len);
/* Writes the response to fd; 0 or -1 with *cause set. */
int response_write(const struct response *, int fd, char **cause) MUST_CHECK;

#endif
