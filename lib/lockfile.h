/* SPDX-License-Identifier: ISC */
/*
 * lockfile: an exclusive flock(2) on "<path>.lock", beside a file that is
 * read, changed and replaced by rename(2) (the keyring, by rallyctl keys
 * rotate).  The lock is not on the file itself: rename gives the file a
 * new inode, and a second process that opened the old one would hold a
 * lock that no longer guards anything.
 */
#ifndef RALLY_LOCKFILE_H
#define RALLY_LOCKFILE_H

#include "util.h"

/*
 * Takes the lock, waiting up to wait_sec seconds for another holder to let
 * go; the descriptor that holds it, or -1 with *cause naming the lock file.
 * The lock file is created mode 0600 and left in place.
 */
int lockfile_acquire(const char *path, int wait_sec, char **cause) MUST_CHECK;
/* Releases a lock taken by lockfile_acquire(); -1 is ignored. */
void lockfile_release(int fd);

#endif
