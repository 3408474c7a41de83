/* SPDX-License-Identifier: ISC */
/*
 * seal: authenticated encryption of the secrets Rally keeps in PostgreSQL
 * (OAuth refresh and access tokens; DESIGN section 7).  Used by rallyd and
 * rallyctl; never by rally.cgi, which holds no key.
 *
 * A sealed value is AES-256-GCM with a random 96-bit nonce:
 *
 *	version (1 byte, 1) | key id (uint32, big-endian) | nonce (12 bytes)
 *	| ciphertext (as long as the plaintext) | tag (16 bytes)
 *
 * The associated data binds the value to where it is stored, so a value
 * copied to another tenant, row or column does not open:
 *
 *	u32 len | "rally-seal-v1" | version | key id (u32)
 *	| u32 len | tenant id | u32 len | row id | u32 len | column
 *
 * (lengths big-endian; every field length-prefixed so no two tuples share
 * an encoding).  Plaintexts are at most SEAL_MAX_PLAINTEXT bytes.
 *
 * The keys come from a keyring (lib/keyring.h, included here so that
 * callers of both need one header).
 */
#ifndef RALLY_SEAL_H
#define RALLY_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"
#include "util.h"

#define SEAL_KEY_LEN KEYRING_KEY_LEN
#define SEAL_VERSION 1
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_HEADER_LEN (1 + 4 + SEAL_NONCE_LEN)
#define SEAL_OVERHEAD (SEAL_HEADER_LEN + SEAL_TAG_LEN)
#define SEAL_MAX_PLAINTEXT (64 * 1024)
/* Longest tenant id, row id or column name bound into a value. */
#define SEAL_MAX_AD_FIELD 256

/* Where a sealed value lives; every field must be non-empty. */
struct seal_ad {
	const char *tenant_id;
	const char *row_id;
	const char *column;
};

/* Seals with the newest key.  *out (caller frees) is SEAL_OVERHEAD + ptlen bytes. */
int seal_seal(const struct keyring *, const struct seal_ad *, const void *pt,
    size_t ptlen, unsigned char **out, size_t *outlen, char **cause) MUST_CHECK;
/*
 * Opens a sealed value.  *pt has one NUL byte after *ptlen bytes (so a
 * token can be used as a string); the caller frees it with
 * secure_free(*pt, *ptlen).
 */
int seal_open(const struct keyring *, const struct seal_ad *,
    const unsigned char *in, size_t inlen, unsigned char **pt, size_t *ptlen,
    char **cause) MUST_CHECK;
/* The id of the key that sealed in (for re-sealing on rotation); -1 if malformed. */
int seal_key_id(const unsigned char *in, size_t inlen, uint32_t *id);

#endif
