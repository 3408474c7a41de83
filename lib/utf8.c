/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "strbuf.h"
#include "utf8.h"

#define HIGH_BITS 0x8080808080808080ULL
#define LOW_BITS 0x0101010101010101ULL

size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/*
 * The length of the prefix of s that is well-formed UTF-8, and without NUL
 * when nul_ends.  Eight ASCII bytes at a time: mail is mostly ASCII.
 */
static size_t
clean_prefix(const unsigned char *s, size_t len, bool nul_ends)
{
	size_t i = 0, n;
	uint64_t v;

	while (i < len) {
		if (len - i >= 8) {
			memcpy(&v, s + i, 8);
			if ((v & HIGH_BITS) == 0 &&
			    (!nul_ends || ((v - LOW_BITS) & ~v & HIGH_BITS) == 0)) {
				i += 8;
				continue;
			}
		}
		if (s[i] == 0 && nul_ends)
			return i;
		if ((n = utf8_seq(s + i, len - i)) == 0)
			return i;
		i += n;
	}
	return len;
}

bool
utf8_valid(const void *s, size_t len)
{
	return clean_prefix(s, len, false) == len;
}

bool
utf8_text(const void *s, size_t len)
{
	return clean_prefix(s, len, true) == len;
}

size_t
utf8_repair(struct strbuf *b, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i = 0, n, bad = 0;

	while (i < len) {
		n = clean_prefix(s + i, len - i, true);
		strbuf_add(b, s + i, n);
		i += n;
		if (i == len)
			break;
		if (s[i] != 0)
			strbuf_add(b, "\xef\xbf\xbd", 3);
		bad++;
		i++;
	}
	return bad;
}

size_t
utf8_cut(const void *p, size_t len, size_t max)
{
	const unsigned char *s = p;

	if (len <= max)
		return len;
	while (max > 0 && (s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

size_t
utf8_drop_partial(const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i, need;

	for (i = 1; i <= 3 && i <= len; i++) {
		unsigned char c = s[len - i];

		if ((c & 0xc0) == 0x80)
			continue;
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > i ? len - i : len;
	}
	return len;
}

void
utf8_put(struct strbuf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80)
		u[0] = (char)cp, n = 1;
	else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	strbuf_add(b, u, n);
}
