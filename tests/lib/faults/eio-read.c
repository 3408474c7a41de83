/* SPDX-License-Identifier: ISC */
/*
 * A disk that fails on read, for tests: preloaded (LD_PRELOAD) into a
 * program under test, it makes read(2) and pread(2) of any file whose
 * name ends in $RALLY_FAULT_EIO_SUFFIX fail with EIO once
 * $RALLY_FAULT_EIO_AFTER bytes of such files were read.  Everything else
 * goes to the C library untouched.  Built by rallytest.faults at test time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_llong read_so_far;

/* Whether fd names a file the fault is for. */
static int
targeted(int fd)
{
	const char *suffix = getenv("RALLY_FAULT_EIO_SUFFIX");
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

/* -1 with EIO when the budget of this read is spent, else 0. */
static int
fault(int fd, size_t count)
{
	const char *after = getenv("RALLY_FAULT_EIO_AFTER");

	if (after == NULL || !targeted(fd))
		return 0;
	if (atomic_fetch_add(&read_so_far, (long long)count) + (long long)count
	    <= atoll(after))
		return 0;
	errno = EIO;
	return -1;
}

ssize_t
read(int fd, void *buf, size_t count)
{
	static ssize_t (*real)(int, void *, size_t);

	if (real == NULL)
		real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	return fault(fd, count) == -1 ? -1 : real(fd, buf, count);
}

ssize_t
pread(int fd, void *buf, size_t count, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (real == NULL)
		real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT,
		    "pread");
	return fault(fd, count) == -1 ? -1 : real(fd, buf, count, off);
}

ssize_t
pread64(int fd, void *buf, size_t count, off_t off)
{
	return pread(fd, buf, count, off);
}
