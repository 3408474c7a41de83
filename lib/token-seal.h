/* SPDX-License-Identifier: ISC */
/*
 * token-seal: OAuth tokens as rally.google_connections and
 * rally.token_revocations hold them: sealed (lib/seal) and bound to the
 * tenant, the row and the column they are stored in, in the text form
 * PostgreSQL uses for a bytea ("\x" and hex digits).  The one place that
 * binding is spelled, for rallyd (refresh, token-revoke) and rallyctl
 * (google connect).
 */
#ifndef RALLY_TOKEN_SEAL_H
#define RALLY_TOKEN_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct keyring;

/*
 * Seals token with the newest key: *bytea (caller frees) is the bytea text
 * to send as a query parameter.  -1 with *cause, "no keyring" when kr is
 * NULL.
 */
int token_seal(const struct keyring *kr, const char *tenant_id,
    const char *row_id, const char *column, const char *token, char **bytea,
    char **cause) MUST_CHECK;
/*
 * Opens the bytea text of a sealed token: *token is NUL-terminated, holds
 * no NUL and is not empty; the caller frees it with secure_free(*token,
 * *len).  -1 with *cause, "no keyring" when kr is NULL.
 */
int token_open(const struct keyring *kr, const char *tenant_id,
    const char *row_id, const char *column, const char *bytea, char **token,
    size_t *len, char **cause) MUST_CHECK;
/*
 * Whether a sealed token (bytea text; NULL is not) names a key id the
 * keyring lacks: a keyring to fix or reload, not a token to throw away.
 */
bool token_key_missing(const struct keyring *, const char *bytea);

#endif
