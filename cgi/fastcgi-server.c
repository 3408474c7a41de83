/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcgi-server.h"
#include "log.h"

/*
 * A web server that stops reading or writing mid-request must not hold a
 * process forever: the pool is small.  Also the longest a kept connection
 * may sit idle between requests while others wait in the backlog.
 */
#define FCGI_IO_TIMEOUT_SEC 30

struct fcgi_server {
	int listen_fd;
	int fd;			/* the connection, -1 between connections */
	struct fcgi_conn *conn;
	unsigned char buf[16384];	/* read, not yet fed */
	size_t off, len;
};

/* sd_listen_fds(3) for one socket, without libsystemd. */
static bool
systemd_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int64_t v;

	if (pid == NULL || fds == NULL || strcmp(fds, "1") != 0 ||
	    parse_int64(pid, 1, INT32_MAX, &v) == -1 || v != getpid())
		return false;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return true;
}

int
fcgi_listen_fd(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (systemd_socket())
		return 3;
	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) == -1 &&
	    errno == ENOTCONN)
		return STDIN_FILENO;
	return -1;
}

struct fcgi_server *
fcgi_server_new(int listen_fd)
{
	struct fcgi_server *s = xcalloc(1, sizeof *s);

	s->listen_fd = listen_fd;
	s->fd = -1;
	s->conn = fcgi_conn_new();
	return s;
}

/* Closes the connection; the next request comes on a new one. */
static void
drop(struct fcgi_server *s)
{
	if (s->fd != -1)
		(void)close(s->fd);
	s->fd = -1;
	s->off = s->len = 0;
	fcgi_conn_free(s->conn);
	s->conn = fcgi_conn_new();
}

void
fcgi_server_free(struct fcgi_server *s)
{
	if (s == NULL)
		return;
	drop(s);
	fcgi_conn_free(s->conn);
	free(s);
}

/* Writes what the protocol has to say; -1 (logged) when it cannot. */
static int
flush(struct fcgi_server *s)
{
	if (s->conn->out_len == 0)
		return 0;
	if (write_full(s->fd, s->conn->out, s->conn->out_len) == -1) {
		log_notice("fastcgi: write: %s", strerror(errno));
		fcgi_output_done(s->conn);
		return -1;
	}
	fcgi_output_done(s->conn);
	return 0;
}

static int
accept_one(struct fcgi_server *s, const volatile sig_atomic_t *stop)
{
	struct timeval tv = { .tv_sec = FCGI_IO_TIMEOUT_SEC };
	int fd;

	for (;;) {
		if (*stop)
			return -1;
		if ((fd = accept(s->listen_fd, NULL, NULL)) != -1)
			break;
		if (errno == EINTR || errno == ECONNABORTED ||
		    errno == EAGAIN)
			continue;
		log_warnx("fastcgi: accept: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1)
		log_notice("fastcgi: timeouts: %s", strerror(errno));
	s->fd = fd;
	return 0;
}

/*
 * Feeds what was read; 1 when a request is complete, 0 when more is to be
 * read, -1 when the connection was dropped.
 */
static int
feed(struct fcgi_server *s)
{
	enum fcgi_event ev;
	size_t used;

	while (s->off < s->len) {
		ev = fcgi_feed(s->conn, s->buf + s->off, s->len - s->off,
		    &used);
		s->off += used;
		if (ev == FCGI_EV_ERROR)
			log_notice("fastcgi: %s", s->conn->cause);
		if (flush(s) == -1 || ev == FCGI_EV_ERROR || s->conn->close) {
			drop(s);
			return -1;
		}
		if (ev == FCGI_EV_REQUEST)
			return 1;
	}
	return 0;
}

int
fcgi_server_next(struct fcgi_server *s, const volatile sig_atomic_t *stop,
    struct fcgi_conn **conn)
{
	ssize_t n;
	int rc;

	for (;;) {
		/* Between requests, or while one is still being read. */
		if (*stop)
			return -1;
		if (s->fd == -1 && accept_one(s, stop) == -1)
			return -1;
		if ((rc = feed(s)) == 1) {
			*conn = s->conn;
			return 0;
		}
		if (rc == -1)
			continue;
		n = read(s->fd, s->buf, sizeof s->buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			log_notice("fastcgi: read: %s", strerror(errno));
		if (n <= 0) {
			drop(s);
			continue;
		}
		s->off = 0;
		s->len = (size_t)n;
	}
}

void
fcgi_server_answer(struct fcgi_server *s, const void *data, size_t len)
{
	fcgi_respond(s->conn, data, len);
	if (flush(s) == -1 || s->conn->close)
		drop(s);
}
