/* SPDX-License-Identifier: ISC */
/*
 * db-mask: takes secrets out of libpq's and the server's messages before
 * db and pgloop hand them on: query parameters the server quotes back
 * ("invalid input syntax ...: \"x\"") and the password of a conninfo,
 * which libpq quotes pieces of when it cannot use it ("could not
 * translate host name \"Secret@db\"", "missing \"=\" after \"Secret\"").
 * Each function takes msg and returns it or a masked copy, freeing msg.
 */
#ifndef RALLY_DB_MASK_H
#define RALLY_DB_MASK_H

/* Every occurrence of pat in msg replaced by with. */
char *db_replace_all(char *msg, const char *pat, const char *with);

/*
 * The text parameters among params masked as "[value]": quoted always,
 * bare when at least 4 bytes long (shorter ones would hit ordinary words).
 * formats may be NULL for all-text; binary parameters are not searched.
 */
char *db_mask_params(char *msg, int nparams, const char *const *params,
    const int *formats);

/*
 * msg cut where a parameter beginning with prefix is quoted (or written)
 * first, "[value]" in place of the rest: for a parameter too large to keep
 * whole until its error comes (lib/pgloop.c); the error is one line.
 */
char *db_mask_from(char *msg, const char *prefix);

/*
 * conninfo's password masked as "[REDACTED]", whole and in the pieces
 * libpq may cut it into, raw and percent-decoded.  When conninfo does not
 * parse, all that follows a "password=" counts as the password too, and
 * in a URI all from the user's ':' to the last '@'.
 */
char *db_mask_conninfo(char *msg, const char *conninfo);

#endif
