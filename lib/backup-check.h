/* SPDX-License-Identifier: ISC */
/*
 * backup-check: the proof that backups restore (rallyd's backup-check job,
 * weekly by default).  Restores the newest complete backup into a scratch
 * database, as dumped (no ledger re-applied, so the counts are
 * comparable), compares the row count of every table with those recorded
 * when the backup was made, drops the scratch database and records the
 * result in rally.backups.  Blocking, logs nothing (a worker thread).
 */
#ifndef RALLY_BACKUP_CHECK_H
#define RALLY_BACKUP_CHECK_H

#include "conf.h"
#include "keyring.h"

struct cancel;

enum backup_check_status {
	CHECK_OK,
	CHECK_NOTHING,		/* no complete backup yet */
	CHECK_FAILED,		/* it did not restore, or restored wrong: recorded */
	CHECK_ERROR,		/* the check itself could not run: not recorded */
};

struct backup_check_result {
	char file[64];
	long tables;
	long rows;
	double seconds;
};

/*
 * The status; *cause says why for CHECK_FAILED and CHECK_ERROR.  A fire of
 * cancel (may be NULL; lib/cancel.h) stops the restore: CHECK_ERROR,
 * nothing recorded, the scratch database dropped.
 */
enum backup_check_status backup_check(const struct conf *,
    const struct keyring *, struct cancel *cancel,
    struct backup_check_result *, char **cause);

#endif
