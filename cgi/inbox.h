/* SPDX-License-Identifier: ISC */
/*
 * inbox: what the inbox's page files share (page-inbox.c: the list and
 * the outbox; page-inbox-thread.c: a thread, its actions and the framed
 * HTML body; page-inbox-send.c: compose and reply).  docs/web.md, "Inbox".
 */
#ifndef RALLY_CGI_INBOX_H
#define RALLY_CGI_INBOX_H

#include <stdbool.h>

#include "cgi.h"
#include "page.h"
#include "uuid.h"

/* The signed-in user's connected Gmail account. */
struct inbox_account {
	char connection_id[UUID_STR_LEN];
	char *google_email;
};

/*
 * The id in the '*' segment of route's path, canonical: false when it is
 * not a uuid (the caller answers 404, as for an id it cannot see).
 */
bool inbox_path_id(const struct route *, const struct request *,
    char out[UUID_STR_LEN]);

/*
 * The user's Gmail account with mail on and the grant active: 1 (a
 * filled in, google_email to free with inbox_account_clear()), 0 when
 * there is none, -1 on a database error (*cause set).
 */
int inbox_account_get(struct cgi *, struct inbox_account *, char **cause)
    MUST_CHECK;
void inbox_account_clear(struct inbox_account *);

/* The page saying that mail needs Google connected first. */
void inbox_connect_first(struct page *);

/* An outbox row's state in words ("Queued", "Not sent: ..."), escaped. */
void inbox_outbox_state(struct page *, const char *state,
    const char *error, const char *sent_at);

/*
 * The reply form at the end of the thread page, with the recipients and
 * subject the reply will have (page-inbox-send.c); nothing when the
 * thread cannot be answered.  0, or -1 on a database error.
 */
int inbox_reply_form(struct page *, const char *thread_id, char **cause)
    MUST_CHECK;

#endif
