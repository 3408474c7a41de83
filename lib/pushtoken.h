/* SPDX-License-Identifier: ISC */
/*
 * pushtoken: the Gmail push secret in google.push_token_file.  rally.cgi
 * compares the secret a Pub/Sub push brings in its path with it; rallyd
 * stores its SHA-256 in rally.push_secrets so that rally.hook_gmail() can
 * check the secret too.  One reader, so both agree on what the file holds:
 * one line of 16 to 1024 printable ASCII bytes without blanks, a final
 * newline not part of it.
 */
#ifndef RALLY_PUSHTOKEN_H
#define RALLY_PUSHTOKEN_H

#include <stddef.h>

#include "util.h"

#define PUSH_TOKEN_MIN 16
#define PUSH_TOKEN_MAX 1024
#define PUSH_TOKEN_SHA256_LEN 32

/*
 * Reads and checks the secret file path (a private file, as secretfile
 * requires).  *secret is NUL-terminated after *len bytes; the caller
 * releases it with pushtoken_free().  -1 with *cause set (naming the file,
 * never quoting it) otherwise.
 */
int pushtoken_read(const char *path, char **secret, size_t *len,
    char **cause) MUST_CHECK;
void pushtoken_free(char *secret);

/* SHA-256 of len bytes of secret into out (PUSH_TOKEN_SHA256_LEN bytes). */
void pushtoken_sha256(const char *secret, size_t len, unsigned char *out);

#endif
