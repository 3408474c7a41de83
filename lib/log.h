/*
 * log: the one way Rally writes diagnostics.  Under systemd (JOURNAL_STREAM
 * names our stderr) or when asked, entries go to journald over its native
 * protocol with structured fields; otherwise they are plain lines on stderr.
 *
 * Every message passes through log_redact() first, so a token, password or
 * session id that slips into a format argument is masked before it leaves
 * the process.  The logger is process-wide state, set once by main().
 */
#ifndef RALLY_LOG_H
#define RALLY_LOG_H

#include <stddef.h>
#include <syslog.h>

#include "util.h"

enum log_target {
	LOG_TARGET_AUTO,	/* journal when JOURNAL_STREAM matches stderr */
	LOG_TARGET_STDERR,
	LOG_TARGET_JOURNAL,
};

/* Structured context attached to an entry; any member may be NULL. */
struct log_ctx {
	const char *tenant;	/* RALLY_TENANT */
	const char *connection; /* RALLY_CONNECTION */
	const char *job;	/* RALLY_JOB */
};

void log_init(const char *ident, enum log_target, int max_priority);
void log_set_max_priority(int);
int log_max_priority(void);
/* "debug", "info", ... as syslog priority; -1 when unknown. */
int log_priority_from_name(const char *);

void log_emit(int priority, const char *msgid, const struct log_ctx *,
    const char *fmt, ...) PRINTFLIKE(4, 5);

void log_crit(const char *, ...) PRINTFLIKE(1, 2);
void log_warn(const char *, ...) PRINTFLIKE(1, 2);  /* appends strerror(errno) */
void log_warnx(const char *, ...) PRINTFLIKE(1, 2);
void log_notice(const char *, ...) PRINTFLIKE(1, 2);
void log_info(const char *, ...) PRINTFLIKE(1, 2);
void log_debug(const char *, ...) PRINTFLIKE(1, 2);
void fatal(const char *, ...) PRINTFLIKE(1, 2) NORETURN;
void fatalx(const char *, ...) PRINTFLIKE(1, 2) NORETURN;

/*
 * Returns a copy of s (caller frees) with secrets masked: values of token, password, secret, session,
 * cookie and authorization keys (key=value, "key": "value", key: value),
 * bearer credentials and strings shaped like Google tokens.
 */
char *log_redact(const char *s);

#endif
