/* SPDX-License-Identifier: ISC */
/*
 * decode: one Gmail message, as users.messages.get?format=full answers it,
 * turned into one flat row for the database: the headers Rally stores,
 * decoded to UTF-8; the addresses split; the text and HTML bodies; the
 * attachments' metadata.  Called by the Gmail sync for each message it
 * fetches; docs/mail.md says what is decoded how and why.
 *
 * Whatever the message holds, every string in the row is valid UTF-8
 * without NUL (PostgreSQL text refuses both), and no longer than its
 * column allows: text in another charset is converted with iconv, what
 * is still not UTF-8 is repaired (U+FFFD), what is too long is cut at a
 * character boundary, and each repair and cut is counted, in the row and
 * in the caller's statistics.  Only a message that cannot be stored at
 * all is refused.
 */
#ifndef RALLY_MAIL_DECODE_H
#define RALLY_MAIL_DECODE_H

#include <stddef.h>

#include <json-c/json.h>

#include "util.h"

/* The limits of one call; mail_decode_limits_default holds the defaults. */
struct mail_decode_limits {
	unsigned max_depth;		/* 32: multiparts nested deeper: refused */
	unsigned max_parts;		/* 500: parts after these are not read */
	unsigned max_headers;		/* 1000 per part: the rest not read */
	size_t max_header_value;	/* 262144 bytes of a header value read */
	size_t max_subject;		/* 4096 */
	size_t max_address;		/* 2048: from, reply_to, each of to/cc/bcc */
	size_t max_message_id;		/* 998: message_id, in_reply_to */
	size_t max_references;		/* 65536 */
	size_t max_snippet;		/* 1024 */
	size_t max_filename;		/* 1024; mime_type and ids: 255 */
	size_t max_body;		/* 25 MiB each of body_text, body_html */
	unsigned max_addresses;		/* 500 per field of to, cc, bcc */
};

extern const struct mail_decode_limits mail_decode_limits_default;

/* Added to by each call (zero it once): texts repaired (malformed bytes
 * replaced, NUL dropped, a wrong charset label overruled, broken base64
 * skipped), texts converted from another charset, values cut to a limit
 * (and parts or headers beyond a limit not read), and text bodies
 * Gmail left out of the message (listed as attachments, to be fetched:
 * docs/mail.md). */
struct mail_decode_stats {
	unsigned repaired;
	unsigned charset_converted;
	unsigned truncated;
	unsigned body_external;
};

/*
 * Decodes msg (borrowed: a users.messages.get format=full answer) into a
 * new object *row that the caller puts, with exactly the members
 *   gmail_id, thread_id			string
 *   history_id					string of digits, or null
 *   internal_date_ms, size_estimate		int, or null
 *   label_ids					[string]
 *   snippet					string ("" when absent; entities decoded)
 *   message_id, in_reply_to, references,
 *   subject, from, reply_to			string or null
 *   date					"YYYY-MM-DDTHH:MM:SSZ", or null
 *   to, cc, bcc				["Name <a@b>" or "a@b"]
 *   body_text, body_html			string or null
 *   attachments		[{filename, mime_type, size, attachment_id}]
 *   repaired					int: repairs + cuts in this row
 * and returns 0; or returns -1 with a short reason in err (never any of
 * the message's content) when the message cannot be stored: "no id",
 * "bad id", "no threadId", "no payload", "payload nested too deep".
 * lim may be NULL for the defaults, st NULL when not wanted.
 */
int mail_decode(json_object *msg, const struct mail_decode_limits *lim,
    json_object **row, struct mail_decode_stats *st, char *err, size_t errlen)
    MUST_CHECK;

/*
 * The text of a body fetched apart (messages.attachments.get's data, as
 * base64url, for a part mail_decode() listed as an attachment because
 * Gmail left it out), in charset (NULL: undeclared), decoded as
 * mail_decode() decodes bodies: a new string *out, or -1 when the data
 * is not base64 at all.
 */
int mail_decode_body(const char *b64url, size_t len, const char *charset,
    const struct mail_decode_limits *lim, char **out, size_t *outlen,
    struct mail_decode_stats *st) MUST_CHECK;

#endif
