/* SPDX-License-Identifier: ISC */
/*
 * utf8: checking, repairing and cutting UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF), for text bound for PostgreSQL,
 * which refuses both malformed UTF-8 and NUL bytes in text.  Used by the
 * mail decoder and composer (lib/mail/).
 */
#ifndef RALLY_UTF8_H
#define RALLY_UTF8_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;

/* Length of the well-formed sequence at s (n > 0 bytes left), or 0. */
size_t utf8_seq(const unsigned char *s, size_t n);
/* Whether len bytes are well-formed UTF-8 (NUL allowed). */
bool utf8_valid(const void *, size_t len);
/* Whether len bytes are well-formed UTF-8 without a NUL byte: what a
 * PostgreSQL text value may hold. */
bool utf8_text(const void *, size_t len);
/*
 * Appends len bytes to b with each malformed byte replaced by U+FFFD and
 * each NUL dropped; returns how many were replaced or dropped.
 */
size_t utf8_repair(struct strbuf *b, const void *, size_t len);
/* The longest length <= max that does not cut a sequence of the valid
 * UTF-8 in len bytes of s. */
size_t utf8_cut(const void *s, size_t len, size_t max);
/* len less the bytes of an incomplete but so far well-formed sequence at
 * the end of s (what cutting a text at a byte count leaves). */
size_t utf8_drop_partial(const void *s, size_t len);
/* Appends code point cp (<= 0x10FFFF, not a surrogate) to b. */
void utf8_put(struct strbuf *b, unsigned long cp);

#endif
