/* SPDX-License-Identifier: ISC */
/*
 * keyring: the keys lib/seal seals and opens with (DESIGN section 7), read
 * from a file and kept out of swap and core dumps.  Used by rallyd and
 * rallyctl (which also generates and rotates the file); never by
 * rally.cgi, which holds no key.
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
#ifndef RALLY_KEYRING_H
#define RALLY_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define KEYRING_KEY_LEN 32	/* AES-256 */
#define KEYRING_MAX_FILE (64 * 1024)
#define KEYRING_MAX_KEYS 1000
#define KEYRING_MAX_LINE 1024
#define KEYRING_MAX_ID (UINT32_C(1) << 31)

struct keyring;

/* NULL on error, with *cause set ("path:line: why"). */
struct keyring *keyring_load(const char *path, char **cause);
/* Parses a keyring held in memory; name is used in messages.  For tests and fuzzing. */
struct keyring *keyring_parse(const char *buf, size_t len, const char *name,
    char **cause);
void keyring_free(struct keyring *);	/* wipes keys */
uint32_t keyring_newest_id(const struct keyring *);
bool keyring_has(const struct keyring *, uint32_t id);
size_t keyring_count(const struct keyring *);
/* The KEYRING_KEY_LEN bytes of key id, or NULL; valid until keyring_free. */
const unsigned char *keyring_find(const struct keyring *, uint32_t id);

/* Creates path (O_EXCL, mode 0600) holding one new key, id 1. */
int keyring_generate(const char *path, char **cause) MUST_CHECK;
/*
 * Appends a new key with id newest+1, keeping the file's other lines:
 * writes a temporary file beside it, fsyncs, renames over path and fsyncs
 * the directory, so a crash leaves the old or the new keyring, never half.
 */
int keyring_add_key(const char *path, uint32_t *new_id, char **cause) MUST_CHECK;

#endif
