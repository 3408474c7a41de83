#include "config.h"

#include <ctype.h>
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

#include <systemd/sd-journal.h>

#include "log.h"

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
		logger.journal = true;
		break;
	case LOG_TARGET_STDERR:
		logger.journal = false;
		break;
	case LOG_TARGET_AUTO:
		logger.journal = stderr_is_journal();
		break;
	}
}

void
log_set_max_priority(int p)
{
	logger.max_priority = p;
}

int
log_max_priority(void)
{
	return logger.max_priority;
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

/* --- redaction ---------------------------------------------------------- */

static const char *const secret_words[] = {
	"token", "access_token", "refresh_token", "id_token", "password",
	"passwd", "secret", "client_secret", "session", "session_id", "sid",
	"authorization", "cookie", "set-cookie", "code_verifier", "apikey",
	"api_key", "x-goog-channel-token",
};
static const char *const secret_suffixes[] = {
	"_token", "-token", "_secret", "_password",
};
/* Shapes of Google credentials that are secret wherever they appear. */
static const char *const secret_prefixes[] = {
	"ya29.", "1//", "GOCSPX-", "Bearer ", "bearer ",
};

static bool
is_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static bool
is_value_end(char c)
{
	return c == '\0' || isspace((unsigned char)c) || strchr("&\"',;})]<>", c);
}

static bool
is_secret_key(const char *w, size_t n)
{
	for (size_t i = 0; i < nitems(secret_words); i++)
		if (strlen(secret_words[i]) == n &&
		    strncasecmp(w, secret_words[i], n) == 0)
			return true;
	for (size_t i = 0; i < nitems(secret_suffixes); i++) {
		size_t sl = strlen(secret_suffixes[i]);

		if (n > sl && strncasecmp(w + n - sl, secret_suffixes[i], sl) == 0)
			return true;
	}
	return false;
}

/*
 * If s[k...] is a secret key followed by a separator, returns the offset of
 * its value and sets *keylen; else 0.  "code" counts only as a URL parameter
 * so that "exit code: 78" stays readable.
 */
static size_t
secret_value_at(const char *s, size_t k, size_t *keylen)
{
	size_t n = 0, j;

	while (is_word_char(s[k + n]))
		n++;
	*keylen = n;
	if (n == 0)
		return 0;
	j = k + n;
	if (n == 4 && strncasecmp(s + k, "code", 4) == 0)
		return s[j] == '=' ? j + 1 : 0;
	if (!is_secret_key(s + k, n))
		return 0;
	if (s[j] == '"' || s[j] == '\'')
		j++;
	while (s[j] == ' ')
		j++;
	if (s[j] != '=' && s[j] != ':')
		return 0;
	j++;
	while (s[j] == ' ')
		j++;
	if (s[j] == '"' || s[j] == '\'')
		j++;
	return j;
}

static size_t
skip_value(const char *s, size_t j)
{
	/* A scheme word ("Bearer xyz", "Basic xyz") belongs to the value. */
	if (strncasecmp(s + j, "bearer ", 7) == 0 ||
	    strncasecmp(s + j, "basic ", 6) == 0)
		j = strchr(s + j, ' ') - s + 1;
	while (!is_value_end(s[j]))
		j++;
	return j;
}

static size_t
secret_prefix_at(const char *s, size_t k)
{
	for (size_t i = 0; i < nitems(secret_prefixes); i++) {
		size_t pl = strlen(secret_prefixes[i]);

		if (strncmp(s + k, secret_prefixes[i], pl) == 0 &&
		    !is_value_end(s[k + pl]))
			return pl;
	}
	return 0;
}

char *
log_redact(const char *s)
{
	static const char mask[] = "[REDACTED]";
	size_t len = strlen(s), o = 0, k = 0;
	/* Each masked value is at least one byte; the mask at most adds this. */
	char *out = xmalloc(len * (sizeof mask) + 1);

	while (s[k] != '\0') {
		bool boundary = k == 0 || !is_word_char(s[k - 1]);
		size_t keylen = 0, v = 0, pl;

		if (boundary && (pl = secret_prefix_at(s, k)) > 0) {
			memcpy(out + o, s + k, pl);
			o += pl;
			memcpy(out + o, mask, sizeof mask - 1);
			o += sizeof mask - 1;
			k = skip_value(s, k + pl);
			continue;
		}
		if (boundary)
			v = secret_value_at(s, k, &keylen);
		if (v > 0 && !is_value_end(s[v])) {
			memcpy(out + o, s + k, v - k);
			o += v - k;
			memcpy(out + o, mask, sizeof mask - 1);
			o += sizeof mask - 1;
			k = skip_value(s, v);
			continue;
		}
		if (boundary && keylen > 0) {
			memcpy(out + o, s + k, keylen);
			o += keylen;
			k += keylen;
			continue;
		}
		out[o++] = s[k++];
	}
	out[o] = '\0';
	return out;
}

/* --- output ------------------------------------------------------------- */

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
	if (sd_journal_sendv(iov, n) < 0)
		emit_stderr(priority, msg, ctx);
	for (int i = 0; i < n; i++)
		free(f[i]);
}

static void PRINTFLIKE(4, 0)
log_vemit(int priority, const char *msgid, const struct log_ctx *ctx,
    const char *fmt, va_list ap)
{
	char *raw, *msg;
	int saved = errno;

	if ((priority & 7) > logger.max_priority)
		return;
	raw = xvasprintf(fmt, ap);
	msg = log_redact(raw);
	free(raw);
	if (logger.journal)
		emit_journal(priority, msgid, msg, ctx);
	else
		emit_stderr(priority, msg, ctx);
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
LOG_SIMPLE(log_crit, LOG_CRIT)
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
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_WARNING, fmt, ap);
	va_end(ap);
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
