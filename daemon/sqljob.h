/* SPDX-License-Identifier: ISC */
/*
 * sqljob: a job kind whose whole work is one SQL statement (export,
 * usage-rollup, sync-watch): it runs the statement, retries on a database
 * error, and reports the first column of its one row as the job's result
 * under result_key.
 */
#ifndef RALLYD_SQLJOB_H
#define RALLYD_SQLJOB_H

struct job;

enum sqljob_value {
	SQLJOB_INT,
	SQLJOB_BOOL,
};

/* params are copied by libpq before this returns. */
void sqljob_run(struct job *, const char *sql, int nparams,
    const char *const *params, const char *result_key, enum sqljob_value);

#endif
