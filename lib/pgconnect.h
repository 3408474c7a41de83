/* SPDX-License-Identifier: ISC */
/*
 * pgconnect: a libpq connection opened on a thread of its own, for an
 * event loop that must not wait.  libpq resolves host names with
 * getaddrinfo inside PQconnectStart and PQconnectPoll, which blocks as
 * long as the resolver does: 10 s with one name server that does not
 * answer, 20 s with two, longer than the watchdog allows.  The thread
 * runs PQconnectdbParams; the loop learns it ended from a pipe and takes
 * the connection, to use it in non-blocking mode from then on.
 */
#ifndef RALLY_PGCONNECT_H
#define RALLY_PGCONNECT_H

#include <libpq-fe.h>

struct pgconnect;

/*
 * Starts connecting with conninfo (copied), each host given timeout_sec
 * to connect unless conninfo says connect_timeout itself.  NULL with
 * *cause when no thread or pipe could be made.
 */
struct pgconnect *pgconnect_start(const char *conninfo, int timeout_sec,
    char **cause);
/* Turns readable when the attempt has ended. */
int pgconnect_fd(const struct pgconnect *);
/*
 * Once pgconnect_fd() is readable: the connection, ready or failed (see
 * PQstatus), or NULL when libpq was out of memory.  Frees the attempt.
 */
PGconn *pgconnect_take(struct pgconnect *);
/* Gives the attempt up: the thread closes what it opens and frees it. */
void pgconnect_abandon(struct pgconnect *);

#endif
