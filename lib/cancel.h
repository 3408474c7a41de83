/* SPDX-License-Identifier: ISC */
/*
 * cancel: stops work that blocks, from another thread.  A backup or a
 * restore check runs on one of rallyd's worker threads, and spends most
 * of its time blocked: in a statement (a lock wait, a COPY, a count), or
 * on a child process (pg_dump, psql).  A flag it reads between steps is
 * not enough to stop it at shutdown, so the work registers what it blocks
 * on, and cancel_fire() sets the flag, cancels the statement each
 * registered connection runs (PQcancel(): the connection stays usable,
 * for the cleanup) and sends SIGTERM to each registered child.
 *
 * A statement that starts just after a fire is not cancelled by it (the
 * server has nothing to cancel yet): the caller fires again until the
 * work has ended (daemon/job-thread.c, every CANCEL_REFIRE_MS).  What the
 * work does once it has seen the flag, it does on connections it did not
 * register.
 *
 * A signal handler may set only requested (rallyctl backup now).
 *
 * PQcancel() opens a connection of its own and waits for the server's
 * answer, with the lock held: against a server that cannot be reached
 * the fire waits as long as the system's connect does (the work, whose
 * statement waits on the same server, is no further along).
 */
#ifndef RALLY_CANCEL_H
#define RALLY_CANCEL_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include <libpq-fe.h>

#define CANCEL_SLOTS 4		/* connections, and children, at once */
#define CANCEL_REFIRE_MS 250

struct cancel {
	volatile sig_atomic_t requested;
	pthread_mutex_t lock;
	PGconn *conn[CANCEL_SLOTS];
	PGcancel *pgcancel[CANCEL_SLOTS];
	pid_t child[CANCEL_SLOTS];
};

#define CANCEL_INITIALIZER { 0, PTHREAD_MUTEX_INITIALIZER, { NULL }, \
	{ NULL }, { 0 } }

void cancel_init(struct cancel *);
/* Frees what is still registered. */
void cancel_destroy(struct cancel *);
/* From any thread but the work's own. */
void cancel_fire(struct cancel *);
/* False for a NULL c, as for all the functions below it is a no-op. */
bool cancel_requested(const struct cancel *c);

/*
 * Registers conn, whose statements a fire cancels until it is
 * unregistered (before PQfinish).  Past CANCEL_SLOTS it is not watched.
 */
void cancel_watch_conn(struct cancel *, PGconn *);
void cancel_unwatch_conn(struct cancel *, PGconn *);
/*
 * Registers a child, sent SIGTERM by a fire (at once if one came
 * already) until it is unregistered, which must happen before it is
 * reaped, while its pid cannot name another process (lib/pgtool.c).
 */
void cancel_watch_child(struct cancel *, pid_t);
void cancel_unwatch_child(struct cancel *, pid_t);

#endif
