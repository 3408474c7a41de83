/* SPDX-License-Identifier: ISC */
/*
 * backup-file: the files of backup.dir.  A backup is written to
 * "<name>.tmp" (mode 0600, created exclusively), synced, renamed to
 * "<name>" and the directory synced, so a crash or a full disk leaves
 * either no file of that name or the whole of it.  Names are the UTC time
 * the backup started, "20261201T030000.123Z.rbk", so they sort in time and
 * tell their age without the database.  Used by lib/backup-run.c and by
 * rallyctl's backup verify and restore.
 */
#ifndef RALLY_BACKUP_FILE_H
#define RALLY_BACKUP_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "backup-format.h"

#define BACKUP_SUFFIX ".rbk"
#define BACKUP_TMP_SUFFIX ".rbk.tmp"
#define BACKUP_NAME_LEN 24	/* "YYYYmmddTHHMMSS.mmmZ.rbk" */
#define BACKUP_IO_SIZE (256 * 1024)
#define BACKUP_FLUSH_SIZE (8 * 1024 * 1024)

struct backup_file {
	int fd;
	char *dir;
	char *name;
	char *path;
	char *tmp_path;
	bool committed;		/* renamed to path: discarding removes path */
	uint64_t size;
	uint64_t flushed;	/* bytes handed to writeback (backup_file_sink) */
};

/* A new name for a backup starting now. */
void backup_file_name(char out[BACKUP_NAME_LEN + 1]);
/* The time a backup's name gives; -1 for a name that is not a backup's. */
int backup_name_time(const char *name, time_t *);

/*
 * Creates dir (0700) if missing and "<dir>/<name>.tmp", open for reading
 * too (the read-back reads it through this descriptor); 0 or -1.
 */
int backup_file_create(struct backup_file *, const char *dir,
    const char *name, char **cause) MUST_CHECK;
/*
 * A backup_sink_fn: writes to the file and counts (arg: the file).  No
 * hash: the SHA-256 recorded is taken once, as the file is read back.
 * Every BACKUP_FLUSH_SIZE written are handed to the kernel's writeback at
 * once, so the fsync of backup_file_commit has only the tail left to wait
 * for.
 */
int backup_file_sink(void *arg, const void *, size_t, char **cause);
/* fsync, close, rename to its name, fsync dir. */
int backup_file_commit(struct backup_file *, char **cause) MUST_CHECK;
/*
 * Any failure path: removes the temporary file, or the file itself once
 * committed (a backup that failed its verification is no backup), and frees.
 */
void backup_file_discard(struct backup_file *);
void backup_file_clear(struct backup_file *);

/*
 * Reads path through a backup reader into sink (NULL: verify only), its
 * SHA-256 into sha256 (may be NULL) and its figures into *st.  Any fault:
 * -1 with *cause, path named.
 */
int backup_file_read(const char *path, const struct keyring *,
    backup_sink_fn, void *arg, struct backup_reader_stats *,
    unsigned char sha256[32], char **cause) MUST_CHECK;

/*
 * Deletes the backups of dir whose names are older than cutoff, and the
 * temporary files of interrupted backups; the names deleted go in *names
 * (NULL-terminated, caller frees each and the array).  0 or -1.
 */
int backup_dir_prune(const char *dir, time_t cutoff, char ***names,
    char **cause) MUST_CHECK;

#endif
