/* SPDX-License-Identifier: ISC */
/*
 * passwd: password hashing with argon2id (libargon2), stored as PHC
 * strings ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", salt and hash
 * in unpadded standard base64).  rally.cgi verifies at login and re-hashes
 * when passwd_needs_rehash() says the stored parameters are below the
 * configured ones; rallyctl hashes when it creates users.
 *
 * New hashes use a 16-byte random salt and a 32-byte hash, with at least
 * the design minimum, m = 19 MiB, t = 2, p = 1.  Verification accepts
 * argon2id and argon2i (version 19 only), so older or imported hashes
 * still log in and are then upgraded; argon2d and anything else is
 * unsupported.  Every PHC string is parsed with the limits below before
 * libargon2 sees it, so a stored string cannot ask for unbounded memory
 * or time, and passwords longer than PASSWD_MAX_LEN are refused.
 */
#ifndef RALLY_PASSWD_H
#define RALLY_PASSWD_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define PASSWD_MAX_LEN 1024	/* bytes of password */
#define PASSWD_MAX_PHC 256	/* bytes of PHC string */

/* Floors for new hashes. */
#define PASSWD_MIN_M_KIB 19456
#define PASSWD_MIN_T 2
#define PASSWD_MIN_P 1
/* Ceilings for new and stored hashes (those of rally.conf's [passwords]). */
#define PASSWD_MAX_M_KIB 4194304
#define PASSWD_MAX_T 100
#define PASSWD_MAX_P 64

#define PASSWD_SALT_LEN 16
#define PASSWD_HASH_LEN 32

struct passwd_params {
	uint32_t m_kib;
	uint32_t t_cost;
	uint32_t parallelism;
};

/* *phc is a new argon2id PHC string (caller frees); 0 or -1 with *cause. */
int passwd_hash(const char *password, const struct passwd_params *,
    char **phc, char **cause) MUST_CHECK;
/* 1 if password matches phc, 0 if not, -1 if phc is malformed or unsupported
 * or the password is too long.  The hash comparison is constant-time. */
int passwd_verify(const char *phc, const char *password) MUST_CHECK;
/*
 * True when phc should be replaced at the next login: not argon2id, m, t or
 * p below params, or malformed (it cannot verify anyway).
 */
bool passwd_needs_rehash(const char *phc, const struct passwd_params *);

#endif
