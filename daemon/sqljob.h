/* SPDX-License-Identifier: ISC */
/*
 * sqljob: a job kind whose whole work is one SQL statement (export,
 * usage-rollup, sync-watch): it runs the statement, retries on a database
 * error, and reports the first column of its one row as the job's result
 * under the spec's key.  Nothing is allocated, so a job in flight when
 * rallyd stops at once (a second SIGTERM) leaves nothing behind.
 */
#ifndef RALLYD_SQLJOB_H
#define RALLYD_SQLJOB_H

struct job;

enum sqljob_value {
	SQLJOB_INT,
	SQLJOB_BOOL,
};

struct sqljob_spec {
	const char *sql;
	const char *result_key;
	enum sqljob_value value;
};

/* spec is static; params are copied by libpq before this returns. */
void sqljob_run(struct job *, const struct sqljob_spec *, int nparams,
    const char *const *params);

#endif
