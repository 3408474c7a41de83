/* SPDX-License-Identifier: ISC */
/*
 * rfc2047: header text with its encoded-words (RFC 2047, "=?charset?B?...?="
 * and "=?charset?Q?...?=") decoded to UTF-8, for the mail decoder.  Gmail
 * decodes most header values itself; this catches those it leaves alone
 * and display names inside address lists.
 *
 * Adjacent encoded-words are joined without the blanks between them, and
 * the bytes of consecutive words in one charset are converted together,
 * so a character split across two words survives.  A word that does not
 * parse stays as it is.  Text outside encoded-words is read as UTF-8 and
 * repaired; CR and LF (folding) are removed.  Charsets as lib/mail/charset.h.
 */
#ifndef RALLY_MAIL_RFC2047_H
#define RALLY_MAIL_RFC2047_H

#include <stddef.h>

struct strbuf;
struct charset_counts;

/* Appends the decoded UTF-8 of len bytes of s to out. */
void rfc2047_decode(const char *s, size_t len, struct strbuf *out,
    struct charset_counts *);

#endif
