/* SPDX-License-Identifier: ISC */
/*
 * mail-history: one page of users.history.list, reduced to what the sync
 * must do per message.  Records are read in order and the last word on a
 * message wins: deleted beats everything; a message added is fetched
 * whole (its state is then the newest there is, so label records about it
 * are moot); a label change states the message's labels as of its record,
 * unless the record leaves them out or Rally never stored the message, in
 * which case the message is fetched instead.
 *
 * Used by job-mailsync.c only, which queues the ops on its mail-pump;
 * separate so that it can be tested and fuzzed alone.
 */
#ifndef RALLYD_MAIL_HISTORY_H
#define RALLYD_MAIL_HISTORY_H

#include <stdbool.h>

#include <json-c/json.h>

struct mail_history {
	char *history_id;	/* the page's historyId: where the next sync starts */
	char *next_page;	/* nextPageToken, or NULL on the last page */
	json_object *ops;	/* gmail id → {"op": "fetch"|"labels"|"delete", ...} */
	unsigned records;
};

/* A Gmail history id: 1 to 20 digits, no larger than 2^64 - 1. */
bool mail_history_id_valid(const char *);

/* NULL with *cause (caller frees) when the page is not a history page. */
struct mail_history *mail_history_parse(json_object *page, char **cause);
void mail_history_free(struct mail_history *);

/* The ids whose label changes need a stored message, as a JSON array
 * (caller frees); NULL when there are none. */
char *mail_history_label_ids(const struct mail_history *);
/* json is the JSON array of those ids the database does not have: they
 * are fetched instead.  Anything unreadable fetches them all. */
void mail_history_mark_unknown(struct mail_history *, const char *json);

#endif
