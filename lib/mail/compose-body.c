/* SPDX-License-Identifier: ISC */
/*
 * Bodies of a composed message: UTF-8 text in quoted-printable (RFC 2045
 * 6.7) or base64, attachments in base64; every line ends in CRLF, the
 * last one too.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "compose-private.h"
#include "strbuf.h"

/* Encoded characters on a quoted-printable line, before its soft break. */
#define QP_LINE 75
/* base64 characters on a line, and the bytes they hold. */
#define B64_LINE 76
#define B64_LINE_BYTES 57

/* The length of the line break at s[i], or 0 (CRLF, LF or a lone CR). */
static size_t
line_break(const char *s, size_t len, size_t i)
{
	if (s[i] == '\n')
		return 1;
	if (s[i] == '\r')
		return i + 1 < len && s[i + 1] == '\n' ? 2 : 1;
	return 0;
}

void
body_qp(struct strbuf *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0, n, br;
	char tok[3];

	strbuf_reserve(o, len + len / 8 + 16);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((br = line_break(s, len, i)) > 0) {
			strbuf_add(o, "\r\n", 2);
			col = 0;
			i += br - 1;
			continue;
		}
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') &&
		    i + 1 < len && line_break(s, len, i + 1) == 0)) {
			tok[0] = (char)c;
			n = 1;
		} else {
			tok[0] = '=', tok[1] = hex[c >> 4], tok[2] = hex[c & 15];
			n = 3;
		}
		if (col + n > QP_LINE) {
			strbuf_add(o, "=\r\n", 3);
			col = 0;
		}
		strbuf_add(o, tok, n);
		col += n;
	}
	if (len == 0 || line_break(s, len, len - 1) == 0)
		strbuf_add(o, "=\r\n", 3);	/* no line end: a soft one */
}

void
body_b64(struct strbuf *o, const void *data, size_t len)
{
	const unsigned char *d = data;
	size_t chunk = B64_LINE_BYTES * 256;

	strbuf_reserve(o, len / 3 * 4 + len / 27 + 8);
	for (size_t i = 0; i < len; i += chunk) {
		size_t n = len - i < chunk ? len - i : chunk, el;
		char *e = b64_encode(d + i, n);

		el = strlen(e);
		for (size_t k = 0; k < el; k += B64_LINE) {
			strbuf_add(o, e + k, el - k < B64_LINE ? el - k : B64_LINE);
			strbuf_add(o, "\r\n", 2);
		}
		free(e);
	}
}

void
body_b64_text(struct strbuf *o, const char *s, size_t len)
{
	struct strbuf crlf = STRBUF_INIT;
	size_t br;

	strbuf_reserve(&crlf, len + len / 16);
	for (size_t i = 0; i < len; i++) {
		if ((br = line_break(s, len, i)) > 0) {
			strbuf_add(&crlf, "\r\n", 2);
			i += br - 1;
		} else
			strbuf_addc(&crlf, s[i]);
	}
	body_b64(o, crlf.p != NULL ? crlf.p : "", crlf.len);
	strbuf_free(&crlf);
}

bool
body_mostly_8bit(const char *s, size_t len)
{
	size_t high = 0;

	for (size_t i = 0; i < len; i++)
		high += (unsigned char)s[i] >= 0x80;
	return high * 3 > len;
}
