/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "systemd.h"

/* Process-wide by nature: every module logs, and main() sets it up once. */
static struct {
	const char *ident;
	bool journal;
	int max_priority;
} logger = { "rally", false, LOG_INFO };

static const char *const prio_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* Whether stderr is the journal stream systemd connected us to. */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void
log_init(const char *ident, enum log_target target, int max_priority)
{
	logger.ident = ident;
	logger.max_priority = max_priority;
	switch (target) {
	case LOG_TARGET_JOURNAL:
		/* conf refuses it without systemd; other callers get stderr. */
		logger.journal = systemd_built_in();
		break;
	case LOG_TARGET_STDERR:
		logger.journal = false;
		break;
	case LOG_TARGET_AUTO:
		logger.journal = systemd_built_in() && stderr_is_journal();
		break;
	}
}

void
log_set_max_priority(int p)
{
	logger.max_priority = p;
}

int
log_priority_from_name(const char *name)
{
	for (size_t i = 0; i < nitems(prio_names); i++)
		if (strcasecmp(name, prio_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

/* --- output ------------------------------------------------------------- */

/* ctx's fields come from the database and from outside too. */
static void
sanitize_ctx(const struct log_ctx *in, struct log_ctx *out)
{
	out->tenant = in->tenant != NULL ? log_sanitize(in->tenant) : NULL;
	out->connection = in->connection != NULL ?
	    log_sanitize(in->connection) : NULL;
	out->job = in->job != NULL ? log_sanitize(in->job) : NULL;
}

static void
free_ctx(struct log_ctx *c)
{
	free((char *)c->tenant);
	free((char *)c->connection);
	free((char *)c->job);
}

static void
emit_stderr(int priority, const char *msg, const struct log_ctx *ctx)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s", stamp, ts.tv_nsec / 1000000,
	    logger.ident, (long)getpid(), prio_names[priority & 7], msg);
	if (ctx != NULL && ctx->tenant != NULL)
		fprintf(stderr, " tenant=%s", ctx->tenant);
	if (ctx != NULL && ctx->connection != NULL)
		fprintf(stderr, " connection=%s", ctx->connection);
	if (ctx != NULL && ctx->job != NULL)
		fprintf(stderr, " job=%s", ctx->job);
	fputc('\n', stderr);
}

static void
emit_journal(int priority, const char *msgid, const char *msg,
    const struct log_ctx *ctx)
{
	char *f[8];
	struct iovec iov[8];
	int n = 0;

	f[n++] = xasprintf("MESSAGE=%s", msg);
	f[n++] = xasprintf("PRIORITY=%d", priority & 7);
	f[n++] = xasprintf("SYSLOG_IDENTIFIER=%s", logger.ident);
	if (msgid != NULL)
		f[n++] = xasprintf("MESSAGE_ID=%s", msgid);
	if (ctx != NULL && ctx->tenant != NULL)
		f[n++] = xasprintf("RALLY_TENANT=%s", ctx->tenant);
	if (ctx != NULL && ctx->connection != NULL)
		f[n++] = xasprintf("RALLY_CONNECTION=%s", ctx->connection);
	if (ctx != NULL && ctx->job != NULL)
		f[n++] = xasprintf("RALLY_JOB=%s", ctx->job);
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = f[i];
		iov[i].iov_len = strlen(f[i]);
	}
	/* If journald is gone, the line must still go somewhere. */
	if (systemd_journal_sendv(iov, n) == -1)
		emit_stderr(priority, msg, ctx);
	for (int i = 0; i < n; i++)
		free(f[i]);
}

static void PRINTFLIKE(4, 0)
log_vemit(int priority, const char *msgid, const struct log_ctx *ctx,
    const char *fmt, va_list ap)
{
	struct log_ctx safe = { NULL, NULL, NULL };
	char *raw, *msg;
	int saved = errno;

	if ((priority & 7) > logger.max_priority)
		return;
	raw = xvasprintf(fmt, ap);
	/* Masked and escaped: no secret, and no forged line, in either output. */
	msg = log_sanitize(raw);
	free(raw);
	if (ctx != NULL)
		sanitize_ctx(ctx, &safe);
	if (logger.journal)
		emit_journal(priority, msgid, msg, ctx != NULL ? &safe : NULL);
	else
		emit_stderr(priority, msg, ctx != NULL ? &safe : NULL);
	free_ctx(&safe);
	free(msg);
	errno = saved;
}

void
log_emit(int priority, const char *msgid, const struct log_ctx *ctx,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(priority, msgid, ctx, fmt, ap);
	va_end(ap);
}

#define LOG_SIMPLE(name, prio)                        \
	void name(const char *fmt, ...)               \
	{                                             \
		va_list ap;                           \
		va_start(ap, fmt);                    \
		log_vemit(prio, NULL, NULL, fmt, ap); \
		va_end(ap);                           \
	}
LOG_SIMPLE(log_warnx, LOG_WARNING)
LOG_SIMPLE(log_notice, LOG_NOTICE)
LOG_SIMPLE(log_info, LOG_INFO)
LOG_SIMPLE(log_debug, LOG_DEBUG)

static void PRINTFLIKE(2, 0)
log_verrno(int priority, const char *fmt, va_list ap)
{
	char *m = xvasprintf(fmt, ap);

	log_emit(priority, NULL, NULL, "%s: %s", m, strerror(errno));
	free(m);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, NULL, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
