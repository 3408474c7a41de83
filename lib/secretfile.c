/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secretfile.h"

/*
 * Whether path is a file directly in $CREDENTIALS_DIRECTORY.  systemd makes
 * that directory the service's alone and grants the service read through
 * an ACL, whose mask shows as the group bits (0440): group read there is
 * not the file's group reading it.
 */
static bool
is_credential(const char *path)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	size_t n;

	if (dir == NULL || *dir == '\0')
		return false;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && path[n] == '/' &&
	    path[n + 1] != '\0' && strchr(path + n + 1, '/') == NULL;
}

static int
check_mode(const char *what, const char *path, int flags,
    const struct stat *st, char **cause)
{
	if (!S_ISREG(st->st_mode))
		return set_cause(cause, "%s %s is not a regular file", what, path);
	if (st->st_mode & S_IROTH)
		return set_cause(cause, "%s %s is readable by others: chmod 600 %s",
		    what, path, path);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return set_cause(cause, "%s %s is writable by group or others: "
		    "chmod 600 %s", what, path, path);
	if ((st->st_mode & S_IRGRP) && !(flags & SECRETFILE_GROUP_READ) &&
	    !is_credential(path))
		return set_cause(cause, "%s %s is readable by group: chmod 600 %s",
		    what, path, path);
	return 0;
}

/* Reads up to n bytes, across short reads; the length or -1. */
static ssize_t
read_bounded(int fd, char *buf, size_t n)
{
	size_t len = 0;
	ssize_t r;

	while (len < n) {
		r = read(fd, buf + len, n - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? (ssize_t)len : -1;
		len += (size_t)r;
	}
	return (ssize_t)len;
}

int
secretfile_read(const char *what, const char *path, int flags, size_t max,
    char **buf, size_t *len, mode_t *mode, char **cause)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return set_cause(cause, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) == -1) {
		set_cause(cause, "%s %s: %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (check_mode(what, path, flags, &st, cause) == -1) {
		close(fd);
		return -1;
	}
	*buf = xmalloc(max + 1);
	n = read_bounded(fd, *buf, max + 1);
	if (n == -1)
		set_cause(cause, "%s %s: %s", what, path, strerror(errno));
	close(fd);
	if (n == -1) {
		secure_free(*buf, max + 1);
		*buf = NULL;
		return -1;
	}
	if ((size_t)n <= max)
		(*buf)[n] = '\0';
	*len = (size_t)n;
	if (mode != NULL)
		*mode = st.st_mode & 0777;
	return 0;
}
