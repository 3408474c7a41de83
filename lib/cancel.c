/* SPDX-License-Identifier: ISC */
/* cancel (cancel.h): stops blocking work from another thread. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "cancel.h"

void
cancel_init(struct cancel *c)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->lock, NULL);
}

void
cancel_destroy(struct cancel *c)
{
	for (size_t i = 0; i < CANCEL_SLOTS; i++)
		if (c->pgcancel[i] != NULL)
			PQfreeCancel(c->pgcancel[i]);
	pthread_mutex_destroy(&c->lock);
	memset(c, 0, sizeof *c);
}

void
cancel_fire(struct cancel *c)
{
	char err[256];

	c->requested = 1;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CANCEL_SLOTS; i++) {
		/* Best effort: a server that cannot be reached has no
		 * statement of ours running either. */
		if (c->pgcancel[i] != NULL)
			(void)PQcancel(c->pgcancel[i], err, sizeof err);
		if (c->child[i] > 0)
			kill(c->child[i], SIGTERM);
	}
	pthread_mutex_unlock(&c->lock);
}

bool
cancel_requested(const struct cancel *c)
{
	return c != NULL && c->requested;
}

void
cancel_watch_conn(struct cancel *c, PGconn *conn)
{
	PGcancel *pc;

	if (c == NULL || conn == NULL || (pc = PQgetCancel(conn)) == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CANCEL_SLOTS; i++)
		if (c->conn[i] == NULL) {
			c->conn[i] = conn;
			c->pgcancel[i] = pc;
			pc = NULL;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (pc != NULL)
		PQfreeCancel(pc);
}

void
cancel_unwatch_conn(struct cancel *c, PGconn *conn)
{
	PGcancel *pc = NULL;

	if (c == NULL || conn == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CANCEL_SLOTS; i++)
		if (c->conn[i] == conn) {
			pc = c->pgcancel[i];
			c->conn[i] = NULL;
			c->pgcancel[i] = NULL;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (pc != NULL)
		PQfreeCancel(pc);
}

void
cancel_watch_child(struct cancel *c, pid_t pid)
{
	if (c == NULL || pid <= 0)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CANCEL_SLOTS; i++)
		if (c->child[i] == 0) {
			c->child[i] = pid;
			break;
		}
	if (c->requested)
		kill(pid, SIGTERM);
	pthread_mutex_unlock(&c->lock);
}

void
cancel_unwatch_child(struct cancel *c, pid_t pid)
{
	if (c == NULL || pid <= 0)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CANCEL_SLOTS; i++)
		if (c->child[i] == pid)
			c->child[i] = 0;
	pthread_mutex_unlock(&c->lock);
}
