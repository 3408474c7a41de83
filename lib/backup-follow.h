/* SPDX-License-Identifier: ISC */
/*
 * backup-follow: verifies a backup file while it is being written, on a
 * thread of its own that reads the file from disk behind the writer
 * (lib/backup-run.c).  Every chunk is read back and opened, and the
 * SHA-256 of the bytes read is taken, as a verify after the end would;
 * done alongside the dump, it costs the backup almost no time when pg_dump
 * is the slower side.  The reader finishes once the writer says the file
 * is complete.
 */
#ifndef RALLY_BACKUP_FOLLOW_H
#define RALLY_BACKUP_FOLLOW_H

#include <stdint.h>

#include "backup-format.h"

struct backup_follow;

/* Opens path and starts reading it; NULL with *cause on error. */
struct backup_follow *backup_follow_start(const char *path,
    const struct keyring *, char **cause);
/* The writer has written total bytes so far. */
void backup_follow_written(struct backup_follow *, uint64_t total);
/*
 * The file is complete at total bytes: waits for the reader to reach its
 * end.  0 with the reader's figures and the SHA-256 of what it read, or -1
 * with *cause.  Frees f.
 */
int backup_follow_finish(struct backup_follow *, uint64_t total,
    struct backup_reader_stats *, unsigned char sha256[32], char **cause)
    MUST_CHECK;
/* Stops the reader, waits for it and frees f; NULL-safe. */
void backup_follow_abort(struct backup_follow *);

#endif
