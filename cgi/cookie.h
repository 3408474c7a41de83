/* SPDX-License-Identifier: ISC */
/*
 * cookie: the Cookie request header (RFC 6265 section 5.4) read, and
 * Set-Cookie values written, for the session and sign-in cookies.
 *
 * Only Rally's own cookies matter, and their values are base64url, so the
 * reader is strict where that costs nothing: a header longer than
 * COOKIE_MAX_HEADER is ignored as a whole (a 4xx for a stray cookie of
 * another site would lock the user out), and a value is accepted only
 * when it is made of cookie-octets and at most COOKIE_MAX_VALUE bytes.
 */
#ifndef RALLY_CGI_COOKIE_H
#define RALLY_CGI_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

#define COOKIE_MAX_HEADER 8192
#define COOKIE_MAX_VALUE 256

/*
 * The value of the first cookie called name in header (the Cookie header,
 * NULL when there was none), copied into a new string, or NULL.
 */
char *cookie_get(const char *header, const char *name);

/*
 * A Set-Cookie value: name=value; Path=/; HttpOnly; SameSite=Lax, with
 * Max-Age=max_age when max_age >= 0 (0 deletes it) and Secure when secure.
 * Caller frees.
 */
char *cookie_format(const char *name, const char *value, long max_age,
    bool secure);

#endif
