/* SPDX-License-Identifier: ISC */
/*
 * google/connection-store: storing a Google connection once the OAuth
 * dance is done: the rally.google_connections row with its tokens sealed,
 * the sync state of each integration and its first sync (calsync,
 * mailsync), in one transaction.  rallyctl google connect calls it, and
 * rallyd's oauth-exchange job for rally.cgi's "Connect Google", which also
 * ends the web's attempt (rally.oauth_pending) in that transaction.
 *
 * A user's connection is one per Google account (google_subject): an
 * existing row is locked and updated, keeping the integrations it had on
 * as far as Google granted their scopes again.  Mail needs both Gmail
 * scopes.  An integration that was off starts over with a full sync.
 */
#ifndef RALLY_GOOGLE_CONNECTION_STORE_H
#define RALLY_GOOGLE_CONNECTION_STORE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "google/oauth.h"

struct keyring;

struct google_connection_in {
	const char *tenant_id;
	const char *user_id;
	const char *google_email;	/* from userinfo */
	const char *google_subject;	/* userinfo's sub */
	bool want_calendar, want_mail;
	const struct oauth_tokens *tokens;	/* with a refresh token */
	/*
	 * The web's attempt this completes (rally.oauth_pending id), marked
	 * connected with google_connection_summary() in the same
	 * transaction; NULL for rallyctl.
	 */
	const char *pending_id;
};

struct google_connection_out {
	char *connection_id;	/* caller frees */
	bool calendar, mail;	/* enabled on the stored connection */
};

enum google_store_result {
	GOOGLE_STORE_OK,
	GOOGLE_STORE_NOT_GRANTED,	/* no integration's scopes granted:
					   nothing stored */
	GOOGLE_STORE_FAILED,		/* *cause set; nothing stored */
};

/*
 * Stores the connection on db (no transaction open) with tokens sealed
 * with kr.  Only GOOGLE_STORE_OK fills out.
 */
enum google_store_result google_connection_store(PGconn *db,
    const struct keyring *kr, const struct google_connection_in *in,
    struct google_connection_out *out, char **cause);

/*
 * What the user is told of a stored connection, in their words: what is
 * connected now and, for an integration asked for but off, why.  Caller
 * frees.
 */
char *google_connection_summary(const struct google_connection_in *,
    const struct google_connection_out *);


#endif
