/* SPDX-License-Identifier: ISC */
/*
 * mail_compose() (lib/mail/compose.c) on arbitrary fields.  The input is
 * split at NUL bytes: from, subject, body_text, body_html (empty: none),
 * an attachment's file name (empty: none), then the To addresses.
 *
 * Checks besides "no crash": a message or a reason, never both; a CR or
 * LF in any header field is refused; a message has CRLF line ends only,
 * no line over 998 octets, and nothing but ASCII.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mail/compose.h"

#define FIELDS 32

static void
check_wire(const char *m, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)m[i] >= 0x80 || m[i] == '\0')
			abort();
		if (m[i] == '\r' && (i + 1 == len || m[i + 1] != '\n'))
			abort();
		if (m[i] == '\n') {
			if (i == 0 || m[i - 1] != '\r' || i - 1 - start > 998)
				abort();
			start = i + 1;
		}
	}
	if (start != len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *f[FIELDS], *out = NULL, err[128] = "";
	size_t n = 0, outlen;
	struct mail_attachment att = {NULL, "application/pdf",
	    (const unsigned char *)"%PDF", 4};
	struct mail_draft d;
	bool crlf = false;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; n < FIELDS; p += strlen(p) + 1) {
		f[n++] = p;
		if (p + strlen(p) >= copy + size)
			break;
	}
	while (n < 6)
		f[n++] = (char *)"";
	memset(&d, 0, sizeof d);
	d.from = f[0][0] != '\0' ? f[0] : NULL;
	d.subject = f[1];
	d.body_text = f[2];
	d.body_html = f[3][0] != '\0' ? f[3] : NULL;
	att.filename = f[4];
	d.att = &att;
	d.natt = f[4][0] != '\0';
	d.to = (const char *const *)&f[5];
	d.nto = n - 5;
	d.message_id = "<fuzz@example.com>";
	d.date = 1764590064;
	for (size_t i = 0; i < n; i++)
		if ((i < 2 || i == 4 || i >= 5) && strpbrk(f[i], "\r\n") != NULL &&
		    !(i == 4 && !d.natt))
			crlf = true;
	if (mail_compose(&d, &out, &outlen, err, sizeof err) == 0) {
		if (out == NULL || crlf)
			abort();
		check_wire(out, outlen);
		free(out);
	} else if (out != NULL || err[0] == '\0')
		abort();
	free(copy);
	return 0;
}
