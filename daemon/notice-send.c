/* SPDX-License-Identifier: ISC */
/* notice-send: an email sent from a worker thread (notice-send.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "log.h"
#include "notice-send.h"
#include "rallyd.h"
#include "smtp.h"
#include "util.h"

struct notice_send {
	struct conf relay;	/* only the relay's settings, copied */
	char *to, *message;
	int rc;
	char *cause;
	int fd[2];
	struct event *ev;
	atomic_bool detached;
	notice_send_cb cb;
	void *arg;
};

static void
relay_copy(struct conf *dst, const struct conf *src)
{
	memset(dst, 0, sizeof *dst);
	dst->smtp_url = xstrdup(src->smtp_url);
	dst->smtp_from = xstrdup(src->smtp_from);
	dst->smtp_username = xstrdup(src->smtp_username);
	dst->smtp_password_file = xstrdup(src->smtp_password_file);
	dst->smtp_starttls = xstrdup(src->smtp_starttls);
	dst->smtp_timeout_sec = src->smtp_timeout_sec;
	dst->http_ca_file = xstrdup(src->http_ca_file);
}

static void
send_free(struct notice_send *s)
{
	if (s->ev != NULL)
		event_free(s->ev);
	close(s->fd[0]);
	close(s->fd[1]);
	conf_clear(&s->relay);
	free(s->to);
	free(s->message);
	free(s->cause);
	free(s);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notice_send *s = arg;
	char c;

	(void)what;
	if (read(fd, &c, 1) != 1 && errno == EAGAIN)
		return;		/* spurious: the thread has not written yet */
	if (!atomic_load(&s->detached))
		s->cb(s->rc, s->cause, s->arg);
	send_free(s);
}

static void *
send_thread(void *arg)
{
	struct notice_send *s = arg;
	ssize_t n;

	s->rc = smtp_send(&s->relay, s->to, s->message, &s->cause);
	do
		n = write(s->fd[1], "x", 1);
	while (n == -1 && errno == EINTR);
	if (n != 1)
		fatal("notice: cannot wake the event loop");
	return NULL;
}

struct notice_send *
notice_send_start(struct rallyd *d, const struct conf *conf, const char *to,
    const char *message, notice_send_cb cb, void *arg)
{
	struct notice_send *s = xcalloc(1, sizeof *s);
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (pipe2(s->fd, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warnx("notice: pipe: %s", strerror(errno));
		free(s);
		return NULL;
	}
	relay_copy(&s->relay, conf);
	s->to = xstrdup(to);
	s->message = xstrdup(message);
	s->cb = cb;
	s->arg = arg;
	s->ev = event_new(d->base, s->fd[0], EV_READ | EV_PERSIST, done_cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1)
		fatalx("notice: cannot watch the worker's pipe");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, send_thread, s);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_warnx("notice: cannot start a worker thread: %s", strerror(rc));
		send_free(s);
		return NULL;
	}
	return s;
}

void
notice_send_detach(struct notice_send *s)
{
	if (s != NULL)
		atomic_store(&s->detached, true);
}
