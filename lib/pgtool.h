/* SPDX-License-Identifier: ISC */
/*
 * pgtool: runs one of PostgreSQL's client programs (pg_dump, psql) for the
 * backups, with a pipe to its standard input or from its standard output.
 * The connection settings go to the child in its environment (PGHOST,
 * PGPASSWORD, ...), taken from a libpq conninfo, never on its command line
 * where any user could read a password.  Its standard error goes to an
 * unlinked temporary file, so a chatty child never blocks on a full pipe,
 * and the end of it makes the error message.  posix_spawn: safe in a
 * threaded process (rallyd runs backups on a worker thread).
 */
#ifndef RALLY_PGTOOL_H
#define RALLY_PGTOOL_H

#include <stdio.h>
#include <sys/types.h>

#include "util.h"

enum pgtool_pipe {
	PGTOOL_READ_STDOUT,	/* we read what it writes; its stdin is /dev/null */
	PGTOOL_WRITE_STDIN,	/* we write what it reads; its stdout is /dev/null */
};

struct cancel;

struct pgtool {
	pid_t pid;		/* 0 once waited for */
	int fd;			/* our end of the pipe, -1 once closed */
	FILE *err;
	char *name;
	struct cancel *cancel;	/* sends it SIGTERM until it is waited for */
};

/*
 * Starts prog (looked up in PATH unless it has a '/') with argv (argv[0]
 * included), the settings of conninfo in its environment, dbname (if not
 * NULL) overriding the conninfo's.  0, or -1 with *cause.
 */
int pgtool_start(struct pgtool *, const char *prog, char *const argv[],
    const char *conninfo, const char *dbname, enum pgtool_pipe,
    char **cause) MUST_CHECK;
/* After pgtool_start(): a fire of c (lib/cancel.h) stops the child, which
 * c watches until pgtool_wait() or pgtool_abort() reaps it.  c may be
 * NULL. */
void pgtool_watch(struct pgtool *, struct cancel *c);
/*
 * conninfo with its dbname replaced, as "key='value' ..." text (for
 * db_connect); NULL with *cause when conninfo does not parse.  Caller
 * frees with secure_free(s, strlen(s)): it may hold a password.
 */
char *pgtool_conninfo(const char *conninfo, const char *dbname, char **cause);
/* Writes all of buf to the child's stdin; 0 or -1 (EPIPE: it stopped). */
int pgtool_write(struct pgtool *, const void *buf, size_t len, char **cause);
/* Closes our end of the pipe (a child reading its stdin sees the end). */
void pgtool_close_pipe(struct pgtool *);
/*
 * Waits for the child: 0 when it exited 0, else -1 with *cause naming the
 * program, how it ended and the last line it wrote to stderr.
 */
int pgtool_wait(struct pgtool *, char **cause) MUST_CHECK;
/* Kills the child if it runs, waits for it and frees everything. */
void pgtool_abort(struct pgtool *);

#endif
