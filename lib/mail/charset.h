/* SPDX-License-Identifier: ISC */
/*
 * charset: text of a mail part or encoded-word, in whatever charset it
 * declares, as UTF-8 without NUL (docs/mail.md, "Charsets and repair").
 *
 *  1. Bytes that are already UTF-8 are taken as they are, whatever the
 *     label says: Google transcodes most bodies and keeps the old label.
 *     (A 7-bit stateful charset, ISO-2022-* or UTF-7, is the exception:
 *     its bytes are ASCII, so they are converted when they hold its
 *     escapes.)
 *  2. Otherwise the declared charset, through glibc's iconv, if iconv
 *     knows it and converts every byte.  Labels are mapped as browsers do
 *     (ISO-8859-1 and US-ASCII are read as windows-1252, GB2312 as GBK,
 *     Shift_JIS as CP932, KS_C_5601-1987 as CP949).
 *  3. Otherwise (no label, an unknown or a wrong one): UTF-8 with the bad
 *     bytes replaced, when the text holds more well-formed multi-byte
 *     sequences than bad bytes, else windows-1252, which maps every byte.
 *
 * NUL bytes are dropped and malformed bytes become U+FFFD.
 */
#ifndef RALLY_MAIL_CHARSET_H
#define RALLY_MAIL_CHARSET_H

#include <stddef.h>

struct strbuf;

/* What charset_to_utf8() did; the caller's counters are added to. */
struct charset_counts {
	unsigned repaired;	/* bytes replaced or dropped, or a label overruled */
	unsigned converted;	/* texts converted from another charset */
};

/*
 * The UTF-8 of len bytes of s, declared in charset (clen bytes, not
 * NUL-terminated; NULL or empty when undeclared): 0 when s itself is it
 * (clean UTF-8 without NUL; out untouched), 1 when it was appended to out.
 * Each text adds at most 1 to each counter.
 */
int charset_to_utf8(const char *charset, size_t clen, const void *s,
    size_t len, struct strbuf *out, struct charset_counts *);
/* The same, always appending to out. */
void charset_append_utf8(const char *charset, size_t clen, const void *s,
    size_t len, struct strbuf *out, struct charset_counts *);

#endif
