/* SPDX-License-Identifier: ISC */
/*
 * uuid: the one check of a uuid in text form.  Ids arrive as strings from
 * job payloads, command lines and CGI input, and some of them end up in
 * sealing's associated data, which must be byte-for-byte the database's
 * own spelling: so a uuid is always carried in canonical form (lower-case
 * hex, 8-4-4-4-12), the form PostgreSQL's uuid::text gives.
 */
#ifndef RALLY_UUID_H
#define RALLY_UUID_H

#include <stdbool.h>

#define UUID_STR_LEN 37		/* 36 characters and the NUL */

/*
 * Writes the canonical form of s into out when s is a uuid in 8-4-4-4-12
 * form (either case); false, with out emptied, for anything else.
 */
bool uuid_canonical(const char *s, char out[UUID_STR_LEN]);
/* Whether s is already canonical. */
bool uuid_is_canonical(const char *s);

#endif
