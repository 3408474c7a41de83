/* SPDX-License-Identifier: ISC */
/*
 * smtp: sends one email through the configured relay with libcurl, and
 * composes the RFC 5322 message of a notice.  smtp_send() blocks (up to
 * smtp.timeout): rallyd calls it from a worker thread (daemon/job-notice.c),
 * never from its event loop.
 *
 * The relay is [smtp] url: "smtps://host:465" (TLS from the start) or
 * "smtp://host:587" (STARTTLS, required unless smtp.starttls = off, which
 * is only for a relay on loopback); smtp.username with the password in
 * smtp.password_file authenticates; http.ca_file verifies the relay's
 * certificate when set.
 */
#ifndef RALLY_SMTP_H
#define RALLY_SMTP_H

#include <stddef.h>

#include "util.h"

struct conf;

/* Longest subject, address and body smtp_compose() accepts. */
#define SMTP_MAX_SUBJECT 998
#define SMTP_MAX_ADDRESS 320
#define SMTP_MAX_BODY (1024 * 1024)

/*
 * The relay settings of conf, checked: 0, or -1 with *cause naming the key
 * to fix.  (An empty smtp.url means no relay: also -1.)
 */
int smtp_conf_check(const struct conf *, char **cause) MUST_CHECK;

/*
 * A text/plain UTF-8 message (base64 body, RFC 2047 subject) from from to
 * to, with that Message-ID ("<...@...>").  NULL with *cause when a value
 * is too long, not UTF-8, or holds a line break or control character
 * (no header injection).  Caller frees.
 */
char *smtp_compose(const char *from, const char *to, const char *subject,
    const char *body, const char *message_id, char **cause);

/* Sends message; 0, or -1 with *cause (no password or body in it). */
int smtp_send(const struct conf *, const char *to, const char *message,
    char **cause) MUST_CHECK;

#endif
