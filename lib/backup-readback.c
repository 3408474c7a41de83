/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "backup-file.h"
#include "backup-readback.h"

/* Where SCHED_IDLE is refused: it runs when little else would. */
#define READBACK_NICE 19
/*
 * SCHED_IDLE alone would make the thread's disk reads the idle I/O class,
 * which may wait seconds behind other reads; best effort, lowest level
 * (linux/ioprio.h: class 2, data 7), is what a background reader needs.
 */
#define READBACK_IOPRIO ((2 << 13) | 7)
#define IOPRIO_WHO_PROCESS 1

struct readback {
	char *path;
	int fd;
	struct backup_reader *r;
	EVP_MD_CTX *sha;
	unsigned char *buf;	/* BACKUP_IO_SIZE */
	uint64_t pos;		/* read so far */
	char *why;		/* the first fault, path not yet named */

	pthread_t thread;
	bool running;		/* thread started, not yet joined */
	_Atomic uint64_t written;	/* what may be read */
	atomic_bool stop;	/* the thread is to return */
	atomic_bool failed;	/* the thread returned with why set */
	atomic_bool waiting;	/* the thread sleeps (or is about to) on more */
	pthread_mutex_t lock;	/* only for sleeping and waking */
	pthread_cond_t more;
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

/*
 * Sleeps until the writer publishes more or says stop.  waiting is set
 * before written is looked at again, and the writer stores written before
 * it looks at waiting: one of the two sees the other (sequentially
 * consistent atomics), so no wake-up is lost.
 */
static void
readback_sleep(struct readback *rb)
{
	pthread_mutex_lock(&rb->lock);
	atomic_store(&rb->waiting, true);
	while (!atomic_load(&rb->stop) && atomic_load(&rb->written) == rb->pos)
		pthread_cond_wait(&rb->more, &rb->lock);
	atomic_store(&rb->waiting, false);
	pthread_mutex_unlock(&rb->lock);
}

static void
readback_lower(void)
{
	struct sched_param none = { .sched_priority = 0 };

	/* Best effort: a system that refuses leaves it at the caller's. */
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) != 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), READBACK_NICE);
	(void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, (int)gettid(),
	    READBACK_IOPRIO);
}

/* Follows the writer until told to stop, or the first fault. */
static void *
readback_main(void *arg)
{
	struct readback *rb = arg;
	uint64_t written;

	readback_lower();
	while (!atomic_load(&rb->stop)) {
		if ((written = atomic_load(&rb->written)) == rb->pos)
			readback_sleep(rb);
		else if (readback_step(rb, written - rb->pos) == -1) {
			atomic_store(&rb->failed, true);
			break;
		}
	}
	return NULL;
}

/* The thread, with every signal blocked: they are the caller's to take. */
static int
readback_spawn(struct readback *rb)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&rb->thread, NULL, readback_main, rb);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

struct readback *
readback_start(int fd, const char *path, const struct keyring *kr,
    char **cause)
{
	struct readback *rb = xcalloc(1, sizeof *rb);
	int rc;

	rb->path = xstrdup(path);
	rb->r = backup_reader_new(kr, NULL, NULL);
	rb->buf = xmalloc(BACKUP_IO_SIZE);
	pthread_mutex_init(&rb->lock, NULL);
	pthread_cond_init(&rb->more, NULL);
	if ((rb->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		set_cause(cause, "%s: %s", path, strerror(errno));
	else if ((rb->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(rb->sha, EVP_sha256(), NULL) != 1)
		set_cause(cause, "%s: SHA-256 is not available", path);
	else if ((rc = readback_spawn(rb)) != 0)
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
	atomic_store(&rb->written, written);
	if (atomic_load(&rb->waiting)) {
		pthread_mutex_lock(&rb->lock);
		pthread_cond_signal(&rb->more);
		pthread_mutex_unlock(&rb->lock);
	}
}

/* The thread stopped and joined: its state is the caller's from here. */
static void
readback_join(struct readback *rb)
{
	if (!rb->running)
		return;
	atomic_store(&rb->stop, true);
	pthread_mutex_lock(&rb->lock);
	pthread_cond_signal(&rb->more);
	pthread_mutex_unlock(&rb->lock);
	pthread_join(rb->thread, NULL);
	rb->running = false;
}

int
readback_check(struct readback *rb, char **cause)
{
	if (!atomic_load(&rb->failed))
		return 0;
	readback_join(rb);
	return set_cause(cause, "%s: %s", rb->path, rb->why);
}

int
readback_finish(struct readback *rb, uint64_t size,
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
		set_cause(cause, "%s: %s", rb->path, rb->why);
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
	free(rb->path);
	free(rb);
}
