/* SPDX-License-Identifier: ISC */
/*
 * log: the one way Rally writes diagnostics.  Under systemd (JOURNAL_STREAM
 * names our stderr) or when asked, entries go to journald over its native
 * protocol with structured fields (through lib/systemd); otherwise, and
 * always in a build configured --without-systemd, they are plain lines on
 * stderr.
 *
 * Every message and context field passes through log_sanitize() first, so
 * a token, password or session id that slips into a format argument is
 * masked before it leaves the process, and a newline or an escape sequence
 * in text from outside cannot forge a line.  The logger is process-wide
 * state, set once by main(); lib/log-redact.c holds the pure functions.
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
/* "debug", "info", ... as syslog priority; -1 when unknown. */
int log_priority_from_name(const char *);

void log_emit(int priority, const char *msgid, const struct log_ctx *,
    const char *fmt, ...) PRINTFLIKE(4, 5);

void log_warnx(const char *, ...) PRINTFLIKE(1, 2);
void log_notice(const char *, ...) PRINTFLIKE(1, 2);
void log_info(const char *, ...) PRINTFLIKE(1, 2);
void log_debug(const char *, ...) PRINTFLIKE(1, 2);
void fatal(const char *, ...) PRINTFLIKE(1, 2) NORETURN;
void fatalx(const char *, ...) PRINTFLIKE(1, 2) NORETURN;

/* The longest text log_redact() and log_sanitize() return, NUL aside. */
#define LOG_REDACT_MAX 8192

/*
 * Returns a copy of s (caller frees) with secrets masked as [REDACTED]:
 * values of token, password, secret, session, cookie, authorization, api
 * key and OAuth code keys, matched without case and with refresh_token,
 * refresh-token and refreshToken alike, in JSON ("key": "value", also
 * with \" quotes), query strings and form bodies (key=value, key%3Dvalue)
 * and key: value or key = value text (to the end of the line, or to one
 * of & , ; }); bearer credentials; and strings shaped like Google tokens.
 * Longer results are cut, ending in "[truncated]".  Control bytes are
 * left as they are.
 */
char *log_redact(const char *s);
/*
 * log_redact(), and control bytes (C0, DEL, C1) and bytes that are not
 * UTF-8 escaped as \n, \t, \r or \xNN: what log lines carry.  A
 * backslash is not escaped.
 */
char *log_sanitize(const char *s);

#endif
