/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgconnect.h"
#include "util.h"

/*
 * Shared by the loop and the thread, freed by whichever lets go last.
 * The thread writes its byte with the lock held, so the pipe it writes
 * to is never one the loop has closed.
 */
struct pgconnect {
	pthread_mutex_t lock;
	unsigned refs;		/* the loop's and the thread's */
	bool abandoned;		/* the loop let go before the end */
	char *conninfo;
	char timeout[16];
	PGconn *conn;		/* the thread's result, until taken */
	int fds[2];		/* the thread writes a byte on [1] at its end */
};

static void
pc_free(struct pgconnect *pc)
{
	close(pc->fds[0]);
	close(pc->fds[1]);
	pthread_mutex_destroy(&pc->lock);
	secure_free(pc->conninfo, strlen(pc->conninfo));
	free(pc);
}

/* Drops one reference, the lock held; frees pc (and unlocks) at the last. */
static void
pc_release(struct pgconnect *pc)
{
	bool last = --pc->refs == 0;

	pthread_mutex_unlock(&pc->lock);
	if (last)
		pc_free(pc);
}

static void *
connect_main(void *arg)
{
	struct pgconnect *pc = arg;
	/* conninfo's own connect_timeout, later, overrides this one. */
	const char *const keys[] = { "connect_timeout", "dbname", NULL };
	const char *const values[] = { pc->timeout, pc->conninfo, NULL };
	PGconn *conn = PQconnectdbParams(keys, values, 1);
	ssize_t n;

	pthread_mutex_lock(&pc->lock);
	if (pc->abandoned) {
		pthread_mutex_unlock(&pc->lock);
		PQfinish(conn);
		pthread_mutex_lock(&pc->lock);
	} else {
		pc->conn = conn;
		do
			n = write(pc->fds[1], "", 1);
		while (n == -1 && errno == EINTR);
	}
	pc_release(pc);
	return NULL;
}

struct pgconnect *
pgconnect_start(const char *conninfo, int timeout_sec, char **cause)
{
	struct pgconnect *pc = xcalloc(1, sizeof *pc);
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int rc;

	if (pipe2(pc->fds, O_CLOEXEC | O_NONBLOCK) == -1) {
		set_cause(cause, "database connection: pipe: %s",
		    strerror(errno));
		free(pc);
		return NULL;
	}
	pthread_mutex_init(&pc->lock, NULL);
	pc->refs = 2;
	pc->conninfo = xstrdup(conninfo);
	snprintf(pc->timeout, sizeof pc->timeout, "%d", timeout_sec);
	/* Signals are the loop's to take. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&thread, &attr, connect_main, pc);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		set_cause(cause, "database connection: thread: %s",
		    strerror(rc));
		pc_free(pc);
		return NULL;
	}
	return pc;
}

int
pgconnect_fd(const struct pgconnect *pc)
{
	return pc->fds[0];
}

PGconn *
pgconnect_take(struct pgconnect *pc)
{
	PGconn *conn;

	pthread_mutex_lock(&pc->lock);
	conn = pc->conn;
	pc->conn = NULL;
	pc_release(pc);
	return conn;
}

void
pgconnect_abandon(struct pgconnect *pc)
{
	PGconn *conn;

	if (pc == NULL)
		return;
	pthread_mutex_lock(&pc->lock);
	pc->abandoned = true;
	conn = pc->conn;	/* ended, not yet taken */
	pc->conn = NULL;
	pc_release(pc);
	PQfinish(conn);
}
