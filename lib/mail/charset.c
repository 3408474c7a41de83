/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <string.h>

#include "charset.h"
#include "strbuf.h"
#include "utf8.h"

/* Longer labels are not charsets anyone registered. */
#define LABEL_MAX 40

enum kind { K_UTF8, K_1252, K_ICONV, K_STATEFUL };

struct label {
	char name[LABEL_MAX + 1];
	enum kind kind;
};

/* windows-1252 0x80..0x9f; 0 for the five bytes it leaves undefined. */
static const unsigned short cp1252_c1[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

static const char *const utf8_names[] = {"utf-8", "utf8", "unicode-1-1-utf-8"};
static const char *const cp1252_names[] = {"us-ascii", "ascii", "iso-8859-1",
    "iso8859-1", "iso_8859-1", "latin1", "l1", "cp1252", "windows-1252",
    "x-cp1252", "ansi_x3.4-1968", "cp819", "ibm819", "us"};
/* A label browsers read as a wider charset, and that charset. */
static const char *const wider[][2] = {
	{"gb2312", "GBK"}, {"gb_2312-80", "GBK"}, {"x-gbk", "GBK"},
	{"euc-cn", "GBK"}, {"cp936", "GBK"}, {"shift_jis", "CP932"},
	{"shift-jis", "CP932"}, {"sjis", "CP932"}, {"x-sjis", "CP932"},
	{"ms_kanji", "CP932"}, {"windows-31j", "CP932"},
	{"ks_c_5601-1987", "CP949"}, {"ks_c_5601", "CP949"},
	{"euc-kr", "CP949"}, {"windows-949", "CP949"},
};

static bool
in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/* Lower-cased, without an RFC 2231 language ("utf-8*en"), classified. */
static void
label_read(struct label *l, const char *cs, size_t clen)
{
	size_t n = 0;

	while (clen > 0 && isspace((unsigned char)*cs))
		cs++, clen--;
	for (; n < clen && cs[n] != '*' && !isspace((unsigned char)cs[n]); n++) {
		if (n == LABEL_MAX || cs[n] == '\0') {
			n = 0;	/* not a charset: as if undeclared */
			break;
		}
		l->name[n] = (char)tolower((unsigned char)cs[n]);
	}
	l->name[n] = '\0';
	if (n == 0 || in_list(l->name, utf8_names, nitems(utf8_names)))
		l->kind = K_UTF8;
	else if (in_list(l->name, cp1252_names, nitems(cp1252_names)))
		l->kind = K_1252;
	else if (strncmp(l->name, "iso-2022-", 9) == 0 ||
	    strcmp(l->name, "utf-7") == 0 || strcmp(l->name, "hz-gb-2312") == 0)
		l->kind = K_STATEFUL;
	else
		l->kind = K_ICONV;
	for (size_t i = 0; i < nitems(wider); i++)
		if (strcmp(l->name, wider[i][0]) == 0)
			strcpy(l->name, wider[i][1]);
}

static bool
has_escapes(const unsigned char *s, size_t len)
{
	return memchr(s, 0x1b, len) != NULL || memchr(s, '+', len) != NULL ||
	    memchr(s, '~', len) != NULL;
}

static void
from_cp1252(const unsigned char *s, size_t len, struct strbuf *out,
    unsigned *undefined)
{
	strbuf_reserve(out, len + len / 2);
	for (size_t i = 0; i < len; i++) {
		unsigned c = s[i];

		if (c == 0)
			(*undefined)++;
		else if (c < 0x80)
			strbuf_addc(out, (char)c);
		else if (c >= 0xa0)
			utf8_put(out, c);
		else if (cp1252_c1[c - 0x80] != 0)
			utf8_put(out, cp1252_c1[c - 0x80]);
		else {
			utf8_put(out, 0xfffd);
			(*undefined)++;
		}
	}
}

/* Drops the NUL bytes iconv copied from the input, from out->p + from. */
static unsigned
drop_nul(struct strbuf *out, size_t from)
{
	size_t w = from;
	unsigned n = 0;

	for (size_t r = from; r < out->len; r++) {
		if (out->p[r] == '\0')
			n++;
		else
			out->p[w++] = out->p[r];
	}
	strbuf_truncate(out, w);
	return n;
}

/*
 * iconv from cs, one U+FFFD per byte it cannot read.  -1 (out as it was)
 * when iconv does not know cs, or more than one byte in 256 is bad: then
 * the label is taken to be wrong.
 */
static int
convert(const char *cs, const unsigned char *s, size_t len, struct strbuf *out,
    unsigned *bad)
{
	iconv_t cd = iconv_open("UTF-8", cs);
	char *in = (char *)s, *o;
	size_t inleft = len, oleft, start = out->len, r;
	unsigned nbad = 0;

	if (cd == (iconv_t)-1)
		return -1;
	strbuf_reserve(out, len * 2 + 16);
	for (;;) {
		o = out->p + out->len;
		oleft = out->cap - out->len - 1;
		r = iconv(cd, inleft > 0 ? &in : NULL, &inleft, &o, &oleft);
		out->len = (size_t)(o - out->p);
		if (r != (size_t)-1 && inleft == 0)
			break;
		if (r == (size_t)-1 && errno == E2BIG) {
			strbuf_reserve(out, inleft * 4 + 64);
			continue;
		}
		if (r != (size_t)-1 || ++nbad > len / 256 + 1)
			break;
		strbuf_reserve(out, 3);
		memcpy(out->p + out->len, "\xef\xbf\xbd", 3);
		out->len += 3;
		in++, inleft--;	/* EILSEQ, or EINVAL: cut short at the end */
	}
	iconv_close(cd);
	if (nbad > len / 256 + 1) {
		strbuf_truncate(out, start);
		return -1;
	}
	out->p[out->len] = '\0';
	*bad = nbad + drop_nul(out, start);
	return 0;
}

/* Whether bytes that are not UTF-8 still look more like UTF-8 than not. */
static bool
mostly_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n, good = 0, bad = 0;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_seq(s + i, len - i)) == 0)
			bad++, n = 1;
		else
			good++;
		i += n;
	}
	return good > bad;
}

static void
fallback(const struct label *l, const unsigned char *s, size_t len,
    struct strbuf *out, struct charset_counts *c)
{
	unsigned bad = 0;

	if (mostly_utf8(s, len)) {
		utf8_repair(out, s, len);
		c->repaired++;
		return;
	}
	from_cp1252(s, len, out, &bad);
	c->converted++;
	if (bad > 0 || l->kind != K_1252)
		c->repaired++;	/* a label overruled counts as a repair */
}

int
charset_to_utf8(const char *cs, size_t clen, const void *p, size_t len,
    struct strbuf *out, struct charset_counts *c)
{
	const unsigned char *s = p;
	struct label l;
	unsigned bad = 0;

	if (len == 0)
		return 0;	/* s may be NULL */
	label_read(&l, cs != NULL ? cs : "", cs != NULL ? clen : 0);
	if (utf8_valid(s, len) &&
	    !(l.kind == K_STATEFUL && has_escapes(s, len))) {
		if (memchr(s, '\0', len) == NULL)
			return 0;
		utf8_repair(out, s, len);
		c->repaired++;
		return 1;
	}
	if (l.kind == K_1252) {
		fallback(&l, s, len, out, c);
		return 1;
	}
	if (l.kind != K_UTF8 && convert(l.name, s, len, out, &bad) == 0) {
		c->converted++;
		if (bad > 0)
			c->repaired++;
		return 1;
	}
	fallback(&l, s, len, out, c);
	return 1;
}

void
charset_append_utf8(const char *cs, size_t clen, const void *s, size_t len,
    struct strbuf *out, struct charset_counts *c)
{
	if (charset_to_utf8(cs, clen, s, len, out, c) == 0)
		strbuf_add(out, s, len);
}
