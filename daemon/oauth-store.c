/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>

#include "conf.h"
#include "db.h"
#include "keyring.h"
#include "oauth-store.h"
#include "rallyd.h"
#include "util.h"
#include "worker.h"

struct oauth_store {
	struct worker *worker;
	struct conf conf;	/* the thread's copy */
	const struct google_connection_in *in;
	struct oauth_store_result res;
	char *cause;
	oauth_store_cb cb;
	void *arg;
};

static void
store_free(struct oauth_store *s)
{
	conf_clear(&s->conf);
	free(s->res.out.connection_id);
	free(s->cause);
	free(s);
}

/* On the thread: no log, no loop. */
static void
store_work(void *arg)
{
	struct oauth_store *s = arg;
	struct keyring *kr;
	PGconn *db;

	s->res.rc = GOOGLE_STORE_FAILED;
	if ((kr = keyring_load(conf_keyring_path(&s->conf), &s->cause)) == NULL)
		return;
	if ((db = db_connect(s->conf.db_conninfo, &s->cause)) != NULL) {
		s->res.rc = google_connection_store(db, kr, s->in, &s->res.out,
		    &s->cause);
		db_close(db);
	}
	keyring_free(kr);
}

/* On the loop, the thread joined. */
static void
store_done(void *arg)
{
	struct oauth_store *s = arg;

	s->res.cause = s->cause != NULL ? s->cause : "unknown error";
	s->cb(&s->res, s->arg);
	store_free(s);
}

struct oauth_store *
oauth_store_start(struct rallyd *d, const struct google_connection_in *in,
    oauth_store_cb cb, void *arg)
{
	struct oauth_store *s = xcalloc(1, sizeof *s);

	conf_copy(&s->conf, &d->conf);
	s->in = in;
	s->cb = cb;
	s->arg = arg;
	if ((s->worker = worker_start(d->base, store_work, s, store_done,
	    s)) == NULL) {
		store_free(s);
		return NULL;
	}
	return s;
}

void
oauth_store_cancel(struct oauth_store *s)
{
	if (s == NULL)
		return;
	worker_join(s->worker, NULL, NULL, 0);
	store_free(s);
}
