/*
 * seal: authenticated encryption of the secrets Rally keeps in PostgreSQL
 * (OAuth refresh and access tokens), and the keyring that holds its keys
 * (DESIGN section 7).  Used by rallyd and rallyctl; never by rally.cgi,
 * which holds no key.
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
 * Keyring file (a systemd credential, or a file the operator manages with
 * "rallyctl keys generate|rotate"):
 *
 *	# comment lines start with '#'; blank lines are ignored
 *	<id> <base64 of 32 random bytes>
 *
 * one key per line; ids are decimal in 1..2^31 without leading zeros,
 * unique, in any order; the newest key is the one with the highest id and
 * seals every new value, the others only open old ones.  Limits: the file
 * is at most KEYRING_MAX_FILE bytes, KEYRING_MAX_KEYS keys and
 * KEYRING_MAX_LINE bytes a line.  Errors name the file and line and never
 * include key material.
 *
 * Permissions: the file must be a regular file that is neither readable
 * nor writable by others and not writable by its group.  Mode 0600 or 0400
 * is what Rally creates and expects; 0440 and 0640 are also accepted so a
 * systemd credential or a file shared with the service's group works.
 *
 * Keys live in one mlock()ed mapping excluded from core dumps (both best
 * effort) and are wiped when the keyring is freed.
 */
#ifndef RALLY_SEAL_H
#define RALLY_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SEAL_KEY_LEN 32
#define SEAL_VERSION 1
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_HEADER_LEN (1 + 4 + SEAL_NONCE_LEN)
#define SEAL_OVERHEAD (SEAL_HEADER_LEN + SEAL_TAG_LEN)
#define SEAL_MAX_PLAINTEXT (64 * 1024)
/* Longest tenant id, row id or column name bound into a value. */
#define SEAL_MAX_AD_FIELD 256

#define KEYRING_MAX_FILE (64 * 1024)
#define KEYRING_MAX_KEYS 1000
#define KEYRING_MAX_LINE 1024
#define KEYRING_MAX_ID (UINT32_C(1) << 31)

struct keyring;

/* Where a sealed value lives; every field must be non-empty. */
struct seal_ad {
	const char *tenant_id;
	const char *row_id;
	const char *column;
};

/* NULL on error, with *cause set ("path:line: why"). */
struct keyring *keyring_load(const char *path, char **cause);
/* Parses a keyring held in memory; name is used in messages.  For tests and fuzzing. */
struct keyring *keyring_parse(const char *buf, size_t len, const char *name,
    char **cause);
void keyring_free(struct keyring *);	/* wipes keys */
uint32_t keyring_newest_id(const struct keyring *);
bool keyring_has(const struct keyring *, uint32_t id);
size_t keyring_count(const struct keyring *);

/* Creates path (O_EXCL, mode 0600) holding one new key, id 1. */
int keyring_generate(const char *path, char **cause) MUST_CHECK;
/*
 * Appends a new key with id newest+1, keeping the file's other lines:
 * writes a temporary file beside it, fsyncs, renames over path and fsyncs
 * the directory, so a crash leaves the old or the new keyring, never half.
 */
int keyring_add_key(const char *path, uint32_t *new_id, char **cause) MUST_CHECK;

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
