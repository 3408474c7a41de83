/* SPDX-License-Identifier: ISC */
/*
 * backup-run: one backup, start to end, blocking (rallyctl backup now runs
 * it in its own process, rallyd on a worker thread: daemon/job-backup.c).
 * It logs nothing, so that a thread never shares the log; everything it
 * has to say is in the result or *cause.
 *
 *  1. Connects with backup.conninfo and takes a session advisory lock
 *     ("rallybak"): two backups never run at once, whoever started them.
 *     Under the lock, a record left "running" by a killed backup is marked
 *     failed and the temporary files in backup.dir are removed.
 *  2. Records the backup ("running"), then writes pg_dump's plain SQL,
 *     all of it in one snapshot: the schema from pg_dump, the table data
 *     read with COPY by the backup itself (lib/backup-copy.h), counting
 *     the rows of each table as the dump streams by, through zstd and
 *     the format (lib/backup-format.h) into "<dir>/<name>.tmp".
 *  3. Meanwhile a thread reads the file back as rallyctl backup verify
 *     does, every chunk opened and decompressed, its SHA-256 taken
 *     (lib/backup-readback.h); the rest is read once the dump is done.
 *     Only then: fsync, rename, fsync of the directory.
 *  4. Records it complete (size, SHA-256, key id, row counts, verified),
 *     then deletes the backups older than backup.retention.
 * Any failure: pg_dump killed, the COPY ended, the file removed
 * (temporary or committed), the record marked failed with the error;
 * older backups are not touched.
 */
#ifndef RALLY_BACKUP_RUN_H
#define RALLY_BACKUP_RUN_H

#include <stdint.h>

#include <json-c/json.h>

#include "backup-file.h"
#include "conf.h"

struct cancel;

/* pg_try_advisory_lock key: "rallybak". */
#define BACKUP_LOCK_KEY "8241988006213476715"

enum backup_status {
	BACKUP_OK,
	BACKUP_BUSY,		/* another backup holds the lock */
	BACKUP_FAILED,
};

struct backup_opts {
	const struct conf *conf;
	const struct keyring *kr;	/* the backup keyring */
	const char *instance;		/* recorded as who made it */
	/* Stops it (lib/cancel.h): its statements and pg_dumps too; may be
	 * NULL. */
	struct cancel *cancel;
	/* Called about every BACKUP_IO_SIZE of dump; may be NULL. */
	void (*progress)(void *arg, uint64_t dump_bytes, uint64_t file_bytes);
	void *progress_arg;
};

struct backup_result {
	enum backup_status status;
	char name[BACKUP_NAME_LEN + 1];
	char id[40];			/* the rally.backups row */
	char sha256[65];
	uint64_t size;
	uint64_t plain_bytes;
	uint32_t key_id;
	uint64_t chunks;
	json_object *row_counts;	/* owned */
	int pruned;
	double seconds;			/* the whole of it */
	double dump_seconds;		/* the dump's start to its last byte written */
	double verify_seconds;		/* reading it back (step 3) */
};

/* BACKUP_OK, or another status with *cause set. */
enum backup_status backup_run(const struct backup_opts *,
    struct backup_result *, char **cause);
void backup_result_clear(struct backup_result *);

#endif
