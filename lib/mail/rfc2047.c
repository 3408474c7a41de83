/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "charset.h"
#include "rfc2047.h"
#include "strbuf.h"
#include "utf8.h"

/* An encoded-word as parsed: its charset and encoded text. */
struct word {
	const char *cs, *text;
	size_t clen, tlen;
	char enc;	/* 'B' or 'Q' */
	size_t end;	/* offset just past "?=" */
};

/* Bytes of encoded-words waiting to be converted together. */
struct pending {
	const char *cs;
	size_t clen;
	struct strbuf bytes;
};

/* Parses the encoded-word at s[at] ("=?" there); -1 when it is not one. */
static int
word_parse(const char *s, size_t len, size_t at, struct word *w)
{
	size_t i = at + 2, j;

	for (j = i; j < len && s[j] != '?'; j++)
		if ((unsigned char)s[j] <= ' ' || j - i > 64)
			return -1;
	if (j == i || j + 3 >= len || s[j + 2] != '?')
		return -1;
	w->cs = s + i, w->clen = j - i;
	w->enc = (char)(s[j + 1] & ~0x20);
	if (w->enc != 'B' && w->enc != 'Q')
		return -1;
	i = j + 3;
	for (j = i; j + 1 < len && !(s[j] == '?' && s[j + 1] == '='); j++)
		if ((unsigned char)s[j] <= ' ' || s[j] == '?')
			return -1;
	if (j + 1 >= len)
		return -1;
	w->text = s + i, w->tlen = j - i;
	w->end = j + 2;
	return 0;
}

static void
q_decode(const struct word *w, struct strbuf *out)
{
	for (size_t i = 0; i < w->tlen; i++) {
		char c = w->text[i];
		int hi, lo;

		if (c == '_')
			c = ' ';
		else if (c == '=' && i + 2 < w->tlen &&
		    (hi = hex_value(w->text[i + 1])) >= 0 &&
		    (lo = hex_value(w->text[i + 2])) >= 0) {
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		strbuf_addc(out, c);
	}
}

/* The word's bytes, appended to out: -1 when its base64 is broken. */
static int
word_bytes(const struct word *w, struct strbuf *out)
{
	unsigned char *d;
	size_t dlen;

	if (w->enc == 'Q') {
		q_decode(w, out);
		return 0;
	}
	if (b64_decode(w->text, w->tlen, &d, &dlen) == -1)
		return -1;
	strbuf_add(out, d, dlen);
	free(d);
	return 0;
}

static void
flush(struct pending *p, struct strbuf *out, struct charset_counts *c)
{
	if (p->cs == NULL)
		return;
	charset_append_utf8(p->cs, p->clen, p->bytes.p, p->bytes.len, out, c);
	strbuf_reset(&p->bytes);
	p->cs = NULL;
}

/* Text outside encoded-words: UTF-8, without CR and LF. */
static void
literal(const char *s, size_t len, struct strbuf *out, struct charset_counts *c)
{
	size_t i = 0, n;

	while (i < len) {
		for (n = i; n < len && s[n] != '\r' && s[n] != '\n'; n++)
			;
		if (utf8_repair(out, s + i, n - i) > 0)
			c->repaired++;
		i = n + 1;
	}
}

static bool
blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

void
rfc2047_decode(const char *s, size_t len, struct strbuf *out,
    struct charset_counts *c)
{
	struct pending p = {NULL, 0, STRBUF_INIT};
	struct word w;
	size_t i = 0, at, mark;
	bool after_word = false;
	const char *q;

	while (i < len) {
		q = memmem(s + i, len - i, "=?", 2);
		at = q != NULL ? (size_t)(q - s) : len;
		if (q == NULL || word_parse(s, len, at, &w) == -1) {
			at = q != NULL ? at + 2 : len;
			flush(&p, out, c);
			literal(s + i, at - i, out, c);
			i = at;
			after_word = false;
			continue;
		}
		if (!(after_word && blank(s + i, at - i))) {
			flush(&p, out, c);
			literal(s + i, at - i, out, c);
		}
		if (p.cs != NULL && (p.clen != w.clen ||
		    strncasecmp(p.cs, w.cs, w.clen) != 0))
			flush(&p, out, c);
		mark = p.bytes.len;
		if (word_bytes(&w, &p.bytes) == -1) {
			strbuf_truncate(&p.bytes, mark);
			flush(&p, out, c);
			literal(s + at, w.end - at, out, c);
			c->repaired++;
			after_word = false;
		} else {
			p.cs = w.cs, p.clen = w.clen;
			after_word = true;
		}
		i = w.end;
	}
	flush(&p, out, c);
	strbuf_free(&p.bytes);
}
