/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "backup-file.h"
#include "backup-follow.h"

struct backup_follow {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd;
	char *path;
	struct backup_reader *r;
	EVP_MD_CTX *sha;
	uint64_t written;	/* under lock: what the writer wrote */
	int complete;		/* under lock: written is the whole file */
	int stop;		/* under lock: abort */
	uint64_t pos;		/* the thread's: what it read */
	int rc;			/* the thread's result */
	char *cause;
};

enum { MORE, END, STOPPED };

/* Waits for bytes past pos: MORE with *avail set, END or STOPPED. */
static int
wait_for_bytes(struct backup_follow *f, uint64_t *avail)
{
	int what;

	pthread_mutex_lock(&f->lock);
	while (!f->stop && !f->complete && f->written == f->pos)
		pthread_cond_wait(&f->cond, &f->lock);
	*avail = f->written - f->pos;
	what = f->stop ? STOPPED : *avail > 0 ? MORE : END;
	pthread_mutex_unlock(&f->lock);
	return what;
}

static int
follow_read(struct backup_follow *f, unsigned char *buf, uint64_t avail)
{
	size_t want = avail < BACKUP_IO_SIZE ? (size_t)avail : BACKUP_IO_SIZE;
	ssize_t n;

	if ((n = pread(f->fd, buf, want, (off_t)f->pos)) == -1) {
		if (errno == EINTR)
			return 0;
		return set_cause(&f->cause, "read: %s", strerror(errno));
	}
	if (n == 0)
		return set_cause(&f->cause, "shorter on disk than written");
	f->pos += (uint64_t)n;
	if (EVP_DigestUpdate(f->sha, buf, (size_t)n) != 1)
		return set_cause(&f->cause, "SHA-256 failed");
	return backup_reader_feed(f->r, buf, (size_t)n, &f->cause);
}

static void *
follow_main(void *arg)
{
	struct backup_follow *f = arg;
	unsigned char *buf = xmalloc(BACKUP_IO_SIZE);
	uint64_t avail;
	sigset_t all;
	int what = MORE;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (f->rc == 0 && (what = wait_for_bytes(f, &avail)) == MORE)
		f->rc = follow_read(f, buf, avail);
	free(buf);
	if (f->rc == 0 && what == END)
		f->rc = backup_reader_end(f->r, &f->cause);
	return NULL;
}

static void
follow_free(struct backup_follow *f)
{
	backup_reader_free(f->r);
	EVP_MD_CTX_free(f->sha);
	if (f->fd != -1)
		close(f->fd);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f->path);
	free(f->cause);
	free(f);
}

struct backup_follow *
backup_follow_start(const char *path, const struct keyring *kr, char **cause)
{
	struct backup_follow *f = xcalloc(1, sizeof *f);
	int rc;

	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->path = xstrdup(path);
	f->r = backup_reader_new(kr, NULL, NULL);
	if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (f->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(f->sha, EVP_sha256(), NULL) != 1) {
		set_cause(cause, "%s: %s", path, f->fd == -1 ? strerror(errno) :
		    "SHA-256 is not available");
		follow_free(f);
		return NULL;
	}
	if ((rc = pthread_create(&f->thread, NULL, follow_main, f)) != 0) {
		set_cause(cause, "backup: pthread_create: %s", strerror(rc));
		follow_free(f);
		return NULL;
	}
	return f;
}

void
backup_follow_written(struct backup_follow *f, uint64_t total)
{
	pthread_mutex_lock(&f->lock);
	f->written = total;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

int
backup_follow_finish(struct backup_follow *f, uint64_t total,
    struct backup_reader_stats *st, unsigned char sha256[32], char **cause)
{
	unsigned int n = 32;
	int rc;

	pthread_mutex_lock(&f->lock);
	f->written = total;
	f->complete = 1;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	if ((rc = f->rc) == 0 && EVP_DigestFinal_ex(f->sha, sha256, &n) != 1)
		rc = set_cause(&f->cause, "SHA-256 failed");
	if (rc == -1)
		set_cause(cause, "%s: verify: %s", f->path, f->cause);
	else
		*st = *backup_reader_stats(f->r);
	follow_free(f);
	return rc;
}

void
backup_follow_abort(struct backup_follow *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = 1;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	follow_free(f);
}
