/* SPDX-License-Identifier: ISC */
/*
 * backup-readback: the proof that a backup being written reads back.  A
 * thread of its own, at the lowest priority (nice 19), reads the file as
 * the writer extends it, through a backup reader (every chunk opened and
 * decompressed) and SHA-256: it takes the CPU pg_dump, its backend and
 * the compression leave, so that the proof costs the backup little wall
 * time (docs/backup-format.md, "What it costs").  Once the file is
 * committed, the caller takes the rest over on its own thread at its own
 * priority: a thread at nice 19 may not raise itself again.
 */
#ifndef RALLY_BACKUP_READBACK_H
#define RALLY_BACKUP_READBACK_H

#include <stdint.h>

#include "backup-format.h"

struct readback;

/* Starts reading path (the file being written); NULL with *cause. */
struct readback *readback_start(const char *path, const struct keyring *,
    char **cause);
/* The file now holds its first written bytes: they may be read. */
void readback_advance(struct readback *, uint64_t written);
/*
 * The file is complete at size bytes (and now named path): reads what is
 * left, ends the reader, and gives its figures and the SHA-256 of the
 * bytes read; 0, or -1 with *cause, path named.  Frees rb either way.
 */
int readback_finish(struct readback *, const char *path, uint64_t size,
    struct backup_reader_stats *, unsigned char sha256[32], char **cause)
    MUST_CHECK;
/* Stops and frees (a failed backup); NULL is fine. */
void readback_abort(struct readback *);

#endif
