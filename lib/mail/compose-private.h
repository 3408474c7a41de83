/* SPDX-License-Identifier: ISC */
/*
 * compose-private: what lib/mail/compose.c (checks, the MIME structure)
 * shares with compose-header.c (folded headers, encoded-words, addresses)
 * and compose-body.c (quoted-printable and base64 bodies).
 */
#ifndef RALLY_MAIL_COMPOSE_PRIVATE_H
#define RALLY_MAIL_COMPOSE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;

/* Where headers are folded, and the line limit nothing may pass. */
#define COMPOSE_FOLD 78
#define COMPOSE_LINE_MAX 998
/* The longest display name, in bytes of UTF-8. */
#define MAIL_COMPOSE_NAME_MAX 1024

/* A header being written: its line so far, for folding. */
struct hdr {
	struct strbuf *out;
	size_t col;		/* octets on the current line */
	size_t start;		/* octets of "Name:" */
};

void hdr_start(struct hdr *, struct strbuf *out, const char *name);
/* Appends one unbreakable token after a blank, folding before it when the
 * line would pass COMPOSE_FOLD. */
void hdr_token(struct hdr *, const char *tok, size_t len);
void hdr_end(struct hdr *);

/* Unstructured text (Subject): as words, or encoded-words when it holds
 * anything but printable ASCII, "=?" or a word too long to fold. */
void hdr_text(struct hdr *, const char *text);
/* A display name: an atom, a quoted-string, or encoded-words. */
void hdr_phrase(struct hdr *, const char *name, size_t len);

/*
 * Checks one mailbox ("Name <a@b>" or "a@b") and writes it: -1 when it is
 * not one plain ASCII addr-spec (with an optional name), or its name is
 * not UTF-8 or too long.  comma: a ',' after it.
 */
int hdr_mailbox(struct hdr *, const char *mailbox, bool comma);

/* Whether len bytes are printable ASCII (0x21..0x7e) or blanks. */
bool compose_ascii(const char *, size_t len);

/* Appends text, line ends made CRLF, as quoted-printable (RFC 2045 6.7). */
void body_qp(struct strbuf *, const char *text, size_t len);
/* Appends bytes as base64 in lines of 76. */
void body_b64(struct strbuf *, const void *data, size_t len);
/* Appends text with its line ends made CRLF, as base64. */
void body_b64_text(struct strbuf *, const char *text, size_t len);
/* Whether text is better in base64 than quoted-printable. */
bool body_mostly_8bit(const char *text, size_t len);

#endif
