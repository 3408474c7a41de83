/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "lockfile.h"

#define LOCKFILE_POLL_MS 50

/* Tries flock() every LOCKFILE_POLL_MS until wait_sec have passed. */
static int
lock_within(int fd, int wait_sec)
{
	const struct timespec poll = { 0, LOCKFILE_POLL_MS * 1000000L };
	long tries = (long)wait_sec * (1000 / LOCKFILE_POLL_MS);

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || tries-- <= 0)
			return -1;
		nanosleep(&poll, NULL);
	}
}

int
lockfile_acquire(const char *path, int wait_sec, char **cause)
{
	char *lock = xasprintf("%s.lock", path);
	int fd;

	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    0600);
	if (fd == -1) {
		set_cause(cause, "%s: %s", lock, strerror(errno));
		free(lock);
		return -1;
	}
	if (lock_within(fd, wait_sec) == -1) {
		if (errno == EWOULDBLOCK)
			set_cause(cause, "%s is held by another process: gave "
			    "up after %d seconds", lock, wait_sec);
		else
			set_cause(cause, "%s: %s", lock, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(lock);
	return fd;
}

void
lockfile_release(int fd)
{
	/* Closing the only descriptor of the open file drops the lock. */
	if (fd != -1)
		close(fd);
}
