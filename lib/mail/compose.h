/* SPDX-License-Identifier: ISC */
/*
 * compose: the RFC 5322 message for Gmail's messages.send, built from a row
 * of the outbox (docs/mail.md, "Composing").  Called by the send job.
 *
 * The message has CRLF line ends and no line over 998 octets; headers are
 * folded near 78; header text that is not plain ASCII is written as UTF-8
 * encoded-words (RFC 2047), display names quoted as RFC 5322 requires;
 * bodies are UTF-8 in quoted-printable, or base64 when mostly not ASCII;
 * multipart/alternative when there is HTML, multipart/mixed with base64
 * attachments (RFC 2231 names when not ASCII) when there are attachments.
 *
 * Every input is checked, none trusted: a CR or LF in anything that goes
 * into a header is header injection and refused, as are addresses that are
 * not one plain mailbox, text that is not UTF-8, and a message past the
 * limits below.
 */
#ifndef RALLY_MAIL_COMPOSE_H
#define RALLY_MAIL_COMPOSE_H

#include <stddef.h>
#include <time.h>

#include "util.h"

/* Recipients (to, cc and bcc together) one message may have. */
#define MAIL_COMPOSE_MAX_RECIPIENTS 500
/* The largest raw message: what Gmail's upload endpoint takes (35 MB). */
#define MAIL_COMPOSE_MAX_SIZE ((size_t)35 * 1000 * 1000)
/* The longest display name, subject, file name (bytes of UTF-8). */
#define MAIL_COMPOSE_MAX_TEXT 4096

struct mail_attachment {
	const char *filename;	/* UTF-8; NULL or "": "attachment" */
	const char *mime_type;	/* "type/subtype"; NULL: application/octet-stream */
	const unsigned char *data;
	size_t len;
};

/*
 * Addresses are "Display Name <local@domain>" or "local@domain", one
 * mailbox each, as mail_decode() writes them (the name may hold commas
 * and quotes; it is quoted again here).  NULL from leaves From to Gmail,
 * which sets the account's address.  date 0 is now.
 */
struct mail_draft {
	const char *from;
	const char *const *to;
	size_t nto;
	const char *const *cc;
	size_t ncc;
	const char *const *bcc;	/* written: messages.send reads and strips it */
	size_t nbcc;
	const char *subject;	/* NULL: no Subject */
	const char *message_id;	/* "<id@host>", required: the caller made it */
	const char *in_reply_to;	/* NULL unless a reply */
	const char *references;		/* NULL unless a reply */
	const char *body_text;	/* NULL: "" unless there is HTML */
	const char *body_html;	/* NULL: text only */
	const struct mail_attachment *att;
	size_t natt;
	time_t date;
};

/*
 * 0 with *out a new NUL-terminated raw message of *outlen bytes (the
 * caller frees it), or -1 with err set to a short reason that names the
 * field, never its content: "header injection in subject", "bad address in
 * to[2]", "no recipients", "no message_id", "bad UTF-8 in body_text",
 * "too many recipients", "message too large".
 */
int mail_compose(const struct mail_draft *, char **out, size_t *outlen,
    char *err, size_t errlen) MUST_CHECK;

#endif
