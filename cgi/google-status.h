/* SPDX-License-Identifier: ISC */
/*
 * google-status: the signed-in user's Google connections and how each
 * integration's sync is going, read under row-level security, and the
 * words a user is shown for them ("Last synced 5 minutes ago", "Google is
 * rate-limiting us; we will catch up").  The dashboard (page-dashboard.c)
 * and the integrations page (page-integrations.c) both show them.
 *
 * Only what a user needs reaches a page: never a token, a sync token, a
 * channel id or Google's raw error text (sync_state.last_error may quote
 * Google), only the error's kind, mapped to a sentence here.
 */
#ifndef RALLY_CGI_GOOGLE_STATUS_H
#define RALLY_CGI_GOOGLE_STATUS_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "strbuf.h"
#include "uuid.h"

/* Connections shown at most: a user has one per Google account. */
#define GOOGLE_STATUS_MAX 10

enum { GOOGLE_CALENDAR, GOOGLE_MAIL };

struct google_sync {
	bool enabled;		/* the integration is on */
	bool known;		/* a sync_state row exists */
	long long ago;		/* seconds since the last success, -1: never */
	char *when;		/* that time in the user's zone, "" for never */
	long long lag;		/* seconds behind, -1 unknown */
	long long backlog;	/* changes waiting, -1 unknown */
	char *error_kind;	/* "" when the last sync succeeded */
	bool full_sync;		/* a full sync is due or under way */
};

struct google_conn {
	char id[UUID_STR_LEN];
	char *email;
	char *status;		/* active | revoked | error */
	char *error_kind;	/* the connection's own, "" for none */
	struct google_sync sync[2];	/* GOOGLE_CALENDAR, GOOGLE_MAIL */
};

struct google_status {
	int n;
	struct google_conn conn[GOOGLE_STATUS_MAX];
};

/*
 * Loads the caller's connections (rally.current_user_id()), oldest first,
 * inside the request's transaction.  0, or -1 with *cause.
 */
int google_status_load(PGconn *, struct google_status *, char **cause);
void google_status_clear(struct google_status *);

/* One connection of the caller, as a request names it. */
struct google_conn_row {
	char id[UUID_STR_LEN];	/* canonical */
	char *email;
	char *status;
	bool calendar, mail;
};

/*
 * The caller's connection with the id a request gave: 1 found, 0 when id
 * is not a uuid or names no connection of the caller (another user's or
 * workspace's: row-level security hides it, and the page answers 404
 * alike), -1 with *cause.
 */
int google_conn_find(PGconn *, const char *id, struct google_conn_row *,
    char **cause);
void google_conn_row_clear(struct google_conn_row *);

/* "Google Calendar" or "Gmail". */
const char *google_status_name(int which);

/*
 * One integration's state as a <p> (or a few): off, waiting for its first
 * sync, last synced when, behind by how much, the last error in words.
 */
void google_status_sync_html(struct strbuf *, const struct google_conn *,
    int which);

/* The sentence for an error kind (sync_state / google_connections). */
const char *google_status_error_words(const char *kind);

/* "just now", "5 minutes ago", "2 days ago" into buf. */
void google_status_ago(long long seconds, char *buf, size_t size);

#endif
