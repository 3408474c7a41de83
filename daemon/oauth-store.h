/* SPDX-License-Identifier: ISC */
/*
 * oauth-store: google_connection_store() (lib/google/connection-store) on
 * a worker thread, for the oauth-exchange job: it is synchronous libpq,
 * one transaction of several statements, and rallyd's loop must not wait
 * on it (pgloop runs one statement at a time for everyone).  The thread
 * connects with a copy of the configuration and loads the keyring from
 * its file itself (a reload may replace rallyd's under it).  What happened
 * comes back to the callback on the loop, which logs it; the thread itself
 * logs only what lib/db does of its own (a server notice at debug level,
 * a failed rollback), as the backup threads do.
 */
#ifndef RALLYD_OAUTH_STORE_H
#define RALLYD_OAUTH_STORE_H

#include "google/connection-store.h"

struct rallyd;
struct oauth_store;

struct oauth_store_result {
	enum google_store_result rc;
	struct google_connection_out out;	/* GOOGLE_STORE_OK only */
	const char *cause;			/* GOOGLE_STORE_FAILED only */
};

typedef void (*oauth_store_cb)(const struct oauth_store_result *, void *arg);

/*
 * Stores in (borrowed: it and what it points to must live until cb has
 * run or oauth_store_cancel() returned).  cb runs once, on the loop, and
 * may take out.connection_id (it is freed otherwise).  NULL when no thread
 * could start: cb is never called.
 */
struct oauth_store *oauth_store_start(struct rallyd *,
    const struct google_connection_in *in, oauth_store_cb cb, void *arg);
/* At shutdown: waits for the thread (a transaction takes moments); cb is
 * not called. */
void oauth_store_cancel(struct oauth_store *);

#endif
