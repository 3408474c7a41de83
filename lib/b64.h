/* SPDX-License-Identifier: ISC */
/*
 * b64: base64 (RFC 4648 section 4) and base64url (section 5).
 *
 * Used by the keyring (keys), passwd (PHC salts and hashes, unpadded
 * standard alphabet), Gmail's raw messages and OAuth/PKCE values (base64url).
 *
 * Decoding is strict, because every input comes from outside: characters
 * outside the alphabet (whitespace included) are rejected; padding is
 * optional but, when present, must be complete and only at the end; the
 * unused low bits of the last character must be zero, so each byte string
 * has exactly one accepted encoding (RFC 4648 section 3.5).  Inputs and
 * outputs are limited to B64_MAX_DECODED bytes of data.
 */
#ifndef RALLY_B64_H
#define RALLY_B64_H

#include <stddef.h>

#include "util.h"

/* Largest amount of data encoded or decoded in one call (256 MiB). */
#define B64_MAX_DECODED ((size_t)256 * 1024 * 1024)

/* Padded base64; NULL when len exceeds B64_MAX_DECODED.  Caller frees. */
char *b64_encode(const void *, size_t len);
/* base64url without padding; NULL when len exceeds B64_MAX_DECODED. */
char *b64url_encode(const void *, size_t len);

/*
 * Decode len characters of s (s need not be NUL-terminated).  On success
 * *out is a new buffer (caller frees) of *outlen bytes followed by one NUL
 * byte not counted in *outlen; on error returns -1 and leaves *out alone.
 */
int b64_decode(const char *s, size_t len, unsigned char **out,
    size_t *outlen) MUST_CHECK;
int b64url_decode(const char *s, size_t len, unsigned char **out,
    size_t *outlen) MUST_CHECK;

#endif
