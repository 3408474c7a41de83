/* SPDX-License-Identifier: ISC */
/*
 * urlenc: percent-encoding (RFC 3986) and application/x-www-form-urlencoded,
 * both ways.  lib/google/oauth.c and the daemon's jobs encode what they send
 * to Google; rally.cgi (cgi/request.c) and rallyctl google connect decode
 * what a browser or a user hands them, so decoding is bounded and strict.
 */
#ifndef RALLY_URLENC_H
#define RALLY_URLENC_H

#include <stddef.h>

#include "util.h"

/* Percent-encodes all but RFC 3986 unreserved characters; caller frees. */
char *urlenc_escape(const char *);
/* Appends "&name=value" to the malloc'd *url, value escaped; name is
 * taken as it is (a literal of the caller's). */
void urlenc_append_param(char **url, const char *name, const char *value);
/*
 * "k1=v1&k2=v2" (application/x-www-form-urlencoded) from a NULL-terminated
 * key, value, key, value, ... list; caller frees.
 */
char *urlenc_form_encode(const char *const *kv);

/* urlenc_decode() flags. */
#define URLENC_PLUS 0x1		/* '+' is a space (form encoding) */

/*
 * Decodes the len bytes at s (%XX, either case; with URLENC_PLUS '+' as a
 * space) into a new NUL-terminated string at *out, which the caller frees.
 * -1 with *out NULL and *why a constant ("malformed %-escape", "too long",
 * "NUL byte") when an escape is not '%' and two hex digits (it is refused,
 * never passed through), the result is longer than max bytes, or it holds a
 * NUL byte (%00), which would silently cut the string short.  Checked in
 * that order.  The result is bytes: check UTF-8 where it matters.
 */
int urlenc_decode(const char *s, size_t len, int flags, size_t max,
    char **out, const char **why) MUST_CHECK;

#endif
