/* SPDX-License-Identifier: ISC */
/*
 * smtp_compose() (lib/smtp.c) on arbitrary bytes: the input is split at
 * NUL bytes into from, to, subject and body (missing parts are empty).
 *
 * Checks besides "no crash": a message or a cause, never both; a message
 * has exactly its nine header lines (nothing the input holds adds a
 * header: no injection), every line ends in CRLF and none is longer than
 * RFC 5322's 998 characters.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtp.h"

#define PARTS 4

static void
check_message(const char *m)
{
	const char *end = strstr(m, "\r\n\r\n"), *p;
	int headers = 0;

	if (end == NULL)
		abort();
	for (p = m; p <= end; ) {
		const char *eol = strstr(p, "\r\n");

		if (eol == NULL || eol - p > 998 || memchr(p, '\n', eol - p) != NULL ||
		    memchr(p, '\r', eol - p) != NULL)
			abort();
		headers++;
		p = eol + 2;
	}
	if (headers != 9)
		abort();
	for (p = end + 4; *p != '\0'; ) {
		const char *eol = strstr(p, "\r\n");

		if (eol == NULL || eol - p > 76)
			abort();
		p = eol + 2;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *part[PARTS], *msg, *cause = NULL;
	size_t at = 0;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (int i = 0; i < PARTS; i++) {
		part[i] = at <= size ? buf + at : buf + size;
		at += strlen(part[i]) + 1;
	}
	msg = smtp_compose(part[0], part[1], part[2], part[3],
	    "<n.1@rally.test>", &cause);
	if ((msg == NULL) == (cause == NULL))
		abort();
	if (msg != NULL)
		check_message(msg);
	free(msg);
	free(cause);
	free(buf);
	return 0;
}
