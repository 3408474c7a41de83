/* SPDX-License-Identifier: ISC */
/*
 * backup-copy: the table data of a backup, read by the backup itself with
 * COPY, in the snapshot pg_dump dumps everything else in.  A backup's
 * plain SQL is pg_dump's, in its order: the schema before the data
 * (pg_dump --section=pre-data), the data, the rest of the schema
 * (--section=post-data); between the first two and the last, this writes
 * each table's rows as pg_dump's plain format has them ("COPY name (cols)
 * FROM stdin;", the rows, "\."), so that the dump restores, and its rows
 * are counted, as one from pg_dump would be.  What it saves is pg_dump's
 * own handling of every row and the pipe after it: a gigabyte of rows goes
 * from the database's socket to the compressor once, not three times
 * (docs/backup-format.md, "The table data").
 *
 * Blocking: rallyctl runs it in its own process, rallyd on the backup's
 * worker thread.
 */
#ifndef RALLY_BACKUP_COPY_H
#define RALLY_BACKUP_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct cancel;

struct backup_copy;

/* Where the rows go, up to BACKUP_IO_SIZE at a time: 0, or -1 with *cause. */
typedef int (*backup_copy_sink)(void *arg, const char *buf, size_t len,
    char **cause);

/*
 * Connects with conninfo, opens a read-only repeatable-read transaction,
 * exports its snapshot (for pg_dump --snapshot), and lists the tables
 * whose data pg_dump would dump, each locked as pg_dump locks it, waiting
 * at most lock_wait_sec for the locks.  NULL with *cause.
 *
 * Why a bound: once it holds its locks, a DDL statement that wants a
 * table to itself queues behind them, the pg_dumps' own locks queue
 * behind the DDL, and the backup waits for the pg_dumps' output: a cycle
 * through this process that PostgreSQL cannot see.  The pg_dumps take the
 * same bound (--lock-wait-timeout), so the backup fails instead, and the
 * DDL goes on.
 *
 * A fire of the cancel (may be NULL; lib/cancel.h) cancels the statement
 * the connection runs, until backup_copy_end().
 */
struct backup_copy *backup_copy_begin(const char *conninfo,
    int64_t lock_wait_sec, struct cancel *, char **cause);
/* The snapshot's name, for pg_dump --snapshot. */
const char *backup_copy_snapshot(const struct backup_copy *);
/* The database's encoding, the dump's (pg_dump --encoding). */
const char *backup_copy_encoding(const struct backup_copy *);
/*
 * Every table's rows, then every sequence's value (pg_dump leaves those
 * out with the tables' data), through sink, which may stop it by failing;
 * 0, or -1 with *cause.
 */
int backup_copy_tables(struct backup_copy *, backup_copy_sink, void *arg,
    char **cause) MUST_CHECK;
/* Ends the transaction and the connection; NULL is fine. */
void backup_copy_end(struct backup_copy *);

#endif
