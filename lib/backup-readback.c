/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "backup-file.h"
#include "backup-readback.h"

/* The background thread's priority: it runs when nothing else would. */
#define READBACK_NICE 19

struct readback {
	int fd;
	struct backup_reader *r;
	EVP_MD_CTX *sha;
	unsigned char *buf;	/* BACKUP_IO_SIZE */
	uint64_t pos;		/* read so far */
	char *why;		/* the first fault, path not yet named */

	pthread_t thread;
	bool running;		/* thread started, not yet joined */
	pthread_mutex_t lock;
	pthread_cond_t more;
	uint64_t written;	/* under lock: what may be read */
	bool stop;		/* under lock: the thread is to return */
};

/* Reads and opens up to want bytes from pos; 0, or -1 with rb->why. */
static int
readback_step(struct readback *rb, uint64_t want)
{
	size_t n = want < BACKUP_IO_SIZE ? (size_t)want : BACKUP_IO_SIZE;
	ssize_t got;

	do
		got = pread(rb->fd, rb->buf, n, (off_t)rb->pos);
	while (got == -1 && errno == EINTR);
	if (got == -1)
		return set_cause(&rb->why, "read: %s", strerror(errno));
	if (got == 0)
		return set_cause(&rb->why, "the file ends at %llu bytes, before "
		    "the bytes written", (unsigned long long)rb->pos);
	rb->pos += (uint64_t)got;
	if (EVP_DigestUpdate(rb->sha, rb->buf, (size_t)got) != 1)
		return set_cause(&rb->why, "SHA-256 failed");
	return backup_reader_feed(rb->r, rb->buf, (size_t)got, &rb->why);
}

/* Follows the writer until told to stop, or the first fault. */
static void *
readback_main(void *arg)
{
	struct readback *rb = arg;
	struct sched_param none = { .sched_priority = 0 };
	uint64_t avail;

	/* Best effort: a system that refuses leaves it at the caller's. */
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) != 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), READBACK_NICE);
	for (;;) {
		pthread_mutex_lock(&rb->lock);
		while (!rb->stop && rb->written == rb->pos)
			pthread_cond_wait(&rb->more, &rb->lock);
		avail = rb->written - rb->pos;
		pthread_mutex_unlock(&rb->lock);
		if (rb->stop || readback_step(rb, avail) == -1)
			return NULL;
	}
}

struct readback *
readback_start(const char *path, const struct keyring *kr, char **cause)
{
	struct readback *rb = xcalloc(1, sizeof *rb);
	int rc;

	rb->r = backup_reader_new(kr, NULL, NULL);
	rb->buf = xmalloc(BACKUP_IO_SIZE);
	pthread_mutex_init(&rb->lock, NULL);
	pthread_cond_init(&rb->more, NULL);
	if ((rb->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		set_cause(cause, "%s: %s", path, strerror(errno));
	else if ((rb->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(rb->sha, EVP_sha256(), NULL) != 1)
		set_cause(cause, "%s: SHA-256 is not available", path);
	else if ((rc = pthread_create(&rb->thread, NULL, readback_main,
	    rb)) != 0)
		set_cause(cause, "%s: read-back thread: %s", path,
		    strerror(rc));
	else {
		rb->running = true;
		return rb;
	}
	readback_abort(rb);
	return NULL;
}

void
readback_advance(struct readback *rb, uint64_t written)
{
	pthread_mutex_lock(&rb->lock);
	rb->written = written;
	pthread_cond_signal(&rb->more);
	pthread_mutex_unlock(&rb->lock);
}

/* The thread stopped and joined: its state is the caller's from here. */
static void
readback_join(struct readback *rb)
{
	if (!rb->running)
		return;
	pthread_mutex_lock(&rb->lock);
	rb->stop = true;
	pthread_cond_signal(&rb->more);
	pthread_mutex_unlock(&rb->lock);
	pthread_join(rb->thread, NULL);
	rb->running = false;
}

int
readback_finish(struct readback *rb, const char *path, uint64_t size,
    struct backup_reader_stats *st, unsigned char sha256[32], char **cause)
{
	unsigned int n = 32;
	int rc = 0;

	readback_join(rb);
	if (rb->why != NULL)
		rc = -1;
	while (rc == 0 && rb->pos < size)
		rc = readback_step(rb, size - rb->pos);
	if (rc == 0)
		rc = backup_reader_end(rb->r, &rb->why);
	if (rc == 0 && EVP_DigestFinal_ex(rb->sha, sha256, &n) != 1)
		rc = set_cause(&rb->why, "SHA-256 failed");
	*st = *backup_reader_stats(rb->r);
	if (rc == -1)
		set_cause(cause, "%s: %s", path, rb->why);
	readback_abort(rb);
	return rc;
}

void
readback_abort(struct readback *rb)
{
	if (rb == NULL)
		return;
	readback_join(rb);
	if (rb->fd != -1)
		close(rb->fd);
	EVP_MD_CTX_free(rb->sha);
	backup_reader_free(rb->r);
	pthread_cond_destroy(&rb->more);
	pthread_mutex_destroy(&rb->lock);
	free(rb->buf);
	free(rb->why);
	free(rb);
}
