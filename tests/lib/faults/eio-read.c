/* SPDX-License-Identifier: ISC */
/*
 * A disk that fails on read, for tests: preloaded (LD_PRELOAD) into a
 * program under test, it makes read(2) and pread(2) of any file whose
 * name ends in $RALLY_FAULT_READ_SUFFIX fail once reads of such files
 * asked for more than $RALLY_FAULT_READ_AFTER bytes in all: with EIO, or,
 * when $RALLY_FAULT_READ_EXIT is set, by ending the process there and
 * then (_exit 137, as a SIGKILL would leave it).  Everything else goes to
 * the C library untouched.  Built by rallytest.faults at test time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pread64)(int, void *, size_t, off64_t);
static atomic_llong asked;

__attribute__((constructor)) static void
resolve(void)
{
	real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real_pread = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT,
	    "pread");
	real_pread64 = (ssize_t (*)(int, void *, size_t, off64_t))dlsym(
	    RTLD_NEXT, "pread64");
}

/* Whether fd names a file the fault is for. */
static int
targeted(int fd)
{
	const char *suffix = getenv("RALLY_FAULT_READ_SUFFIX");
	char link[64], path[4096];
	size_t n, s;
	ssize_t len;

	if (suffix == NULL)
		return 0;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((len = readlink(link, path, sizeof path - 1)) <= 0)
		return 0;
	path[len] = '\0';
	n = (size_t)len;
	s = strlen(suffix);
	return n >= s && strcmp(path + n - s, suffix) == 0;
}

/* -1 with EIO (or no return) once the budget is spent, else 0. */
static int
fault(int fd, size_t count)
{
	const char *after = getenv("RALLY_FAULT_READ_AFTER");

	if (after == NULL || !targeted(fd))
		return 0;
	if (atomic_fetch_add(&asked, (long long)count) + (long long)count <=
	    atoll(after))
		return 0;
	if (getenv("RALLY_FAULT_READ_EXIT") != NULL)
		_exit(137);
	errno = EIO;
	return -1;
}

ssize_t
read(int fd, void *buf, size_t count)
{
	return fault(fd, count) == -1 ? -1 : real_read(fd, buf, count);
}

ssize_t
pread(int fd, void *buf, size_t count, off_t off)
{
	return fault(fd, count) == -1 ? -1 : real_pread(fd, buf, count, off);
}

ssize_t
pread64(int fd, void *buf, size_t count, off64_t off)
{
	return fault(fd, count) == -1 ? -1 : real_pread64(fd, buf, count, off);
}
