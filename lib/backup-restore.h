/* SPDX-License-Identifier: ISC */
/*
 * backup-restore: a backup file into a new, empty database, all or
 * nothing (rallyctl restore, and rallyd's weekly restore check).
 *
 * psql runs the dump inside one transaction that Rally opens and only
 * Rally commits: the plaintext reaches psql chunk by chunk, each chunk
 * only once it authenticated, and COMMIT is sent only after the last chunk
 * did and the compressed stream ended.  A damaged, cut or reordered file,
 * the wrong key, or an error in psql kills psql with the transaction open:
 * the server rolls it back and the database stays empty.
 *
 * Before the COMMIT, in the same transaction, the deletion ledger is
 * re-applied: the entries of the live database (source; the file's own
 * otherwise) are added to the restored ledger, and
 * rally.backup_reapply_ledger() (sql/functions/backup.sql) deletes
 * again, in the restored rows, everything they name.  Nothing deleted
 * since the backup is ever visible in the restored database.
 */
#ifndef RALLY_BACKUP_RESTORE_H
#define RALLY_BACKUP_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "backup-format.h"
#include "conf.h"

struct cancel;

struct restore_opts {
	const struct conf *conf;	/* backup.conninfo, backup.psql */
	const struct keyring *kr;	/* the backup keyring */
	const char *path;
	const char *dbname;		/* the new database */
	PGconn *source;			/* whose ledger to re-apply; may be NULL */
	bool reapply;			/* false: the restore check, as dumped */
	struct cancel *cancel;		/* stops it (lib/cancel.h); may be NULL */
	void (*progress)(void *arg, uint64_t file_bytes, uint64_t plain_bytes);
	void *progress_arg;
};

struct restore_result {
	struct backup_reader_stats st;
	json_object *dumped;		/* rows per table in the file (owned) */
	json_object *restored;		/* rows per table after the restore */
	long ledger_entries;		/* ledger entries re-applied */
	long mismatches;		/* tables whose counts differ */
	double seconds;
};

int backup_restore(const struct restore_opts *, struct restore_result *,
    char **cause) MUST_CHECK;
void restore_result_clear(struct restore_result *);

#endif
