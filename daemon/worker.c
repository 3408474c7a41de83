/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "worker.h"

struct worker {
	pthread_t thread;
	int fds[2];		/* the thread writes one byte to fds[1] at the end */
	struct event *ev;
	void (*fn)(void *);
	void *arg;
	void (*done)(void *);
	void *done_arg;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	sigset_t all;
	char c = 1;

	/* Signals are the loop's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	w->fn(w->arg);
	if (write_full(w->fds[1], &c, 1) == -1)
		abort();	/* a pipe of our own: cannot fail */
	return NULL;
}

static void
worker_free(struct worker *w)
{
	event_free(w->ev);
	close(w->fds[0]);
	close(w->fds[1]);
	free(w);
}

static void
worker_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	void (*done)(void *) = w->done;
	void *done_arg = w->done_arg;

	(void)fd;
	(void)what;
	pthread_join(w->thread, NULL);
	worker_free(w);
	done(done_arg);
}

struct worker *
worker_start(struct event_base *base, void (*fn)(void *), void *arg,
    void (*done)(void *), void *done_arg)
{
	struct worker *w = xcalloc(1, sizeof *w);
	int rc;

	w->fn = fn;
	w->arg = arg;
	w->done = done;
	w->done_arg = done_arg;
	if (pipe2(w->fds, O_CLOEXEC) == -1) {
		log_warnx("worker: pipe: %s", strerror(errno));
		free(w);
		return NULL;
	}
	w->ev = event_new(base, w->fds[0], EV_READ, worker_done_cb, w);
	if ((rc = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
		log_warnx("worker: pthread_create: %s", strerror(rc));
		worker_free(w);
		return NULL;
	}
	event_add(w->ev, NULL);
	return w;
}

void
worker_join(struct worker *w, void (*nudge)(void *), void *nudge_arg,
    int nudge_ms)
{
	struct pollfd end = { .events = POLLIN };

	if (w == NULL)
		return;
	/* The thread writes to the pipe as it returns. */
	end.fd = w->fds[0];
	while (nudge != NULL && poll(&end, 1, nudge_ms) != 1)
		nudge(nudge_arg);
	pthread_join(w->thread, NULL);
	worker_free(w);
}
