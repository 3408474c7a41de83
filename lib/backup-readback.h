/* SPDX-License-Identifier: ISC */
/*
 * backup-readback: the proof that a backup being written reads back.  A
 * thread of its own, at the lowest priority (SCHED_IDLE, else nice 19),
 * reads the file as the writer extends it, through a backup reader (every
 * chunk opened and decompressed) and SHA-256: it takes the CPU pg_dump,
 * its backend and the compression leave, so that the proof costs the
 * backup little wall time (docs/backup-format.md, "Why these choices").
 * The writer never waits for it: it publishes how far the file goes with
 * an atomic store, and takes the thread's lock only to wake it.  Once
 * pg_dump is done, the caller reads the rest on its own thread at its own
 * priority (a thread at the lowest priority may not raise itself again),
 * before the file takes its name.
 */
#ifndef RALLY_BACKUP_READBACK_H
#define RALLY_BACKUP_READBACK_H

#include <stdint.h>

#include "backup-format.h"

struct readback;

/*
 * Starts reading the file open on fd (the writer's; the read-back takes a
 * descriptor of its own, so the file read is the one written whatever
 * happens to its name), path naming it in errors; NULL with *cause.
 */
struct readback *readback_start(int fd, const char *path,
    const struct keyring *, char **cause);
/* The file now holds its first written bytes: they may be read. */
void readback_advance(struct readback *, uint64_t written);
/*
 * -1 with *cause once the read-back has failed (the thread is stopped
 * then), so that the writer gives up at once; else 0.
 */
int readback_check(struct readback *, char **cause) MUST_CHECK;
/*
 * The file is complete at size bytes: reads what is left, ends the
 * reader, and gives its figures and the SHA-256 of the bytes read; 0, or
 * -1 with *cause.  Frees rb either way.
 */
int readback_finish(struct readback *, uint64_t size,
    struct backup_reader_stats *, unsigned char sha256[32], char **cause)
    MUST_CHECK;
/* Stops and frees (a failed backup); NULL is fine. */
void readback_abort(struct readback *);

#endif
