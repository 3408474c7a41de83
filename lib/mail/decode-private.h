/* SPDX-License-Identifier: ISC */
/*
 * decode-private: what lib/mail/decode.c (the message and its headers)
 * and lib/mail/decode-part.c (the MIME tree: bodies, attachments) share.
 */
#ifndef RALLY_MAIL_DECODE_PRIVATE_H
#define RALLY_MAIL_DECODE_PRIVATE_H

#include <stddef.h>

#include <json-c/json.h>

#include "charset.h"
#include "decode.h"
#include "strbuf.h"

/* Ids, label ids and MIME types longer than this are cut. */
#define DECODE_MAX_TOKEN 255

/* One call of mail_decode(). */
struct dctx {
	const struct mail_decode_limits *lim;
	struct charset_counts cc;	/* repaired, converted */
	unsigned truncated, body_external;
	unsigned nparts;
	json_object *body_text, *body_html, *atts;
	const char *why;		/* the refusal, when there is one */
};

/* A header's name and value (value cut to lim->max_header_value). */
struct dheader {
	const char *name, *value;
	size_t nlen, vlen;
};

/*
 * Calls fn for each of the first max_headers headers of part that have a
 * string name and value; stops when fn returns non-zero.
 */
int decode_headers(struct dctx *, json_object *part,
    int (*fn)(struct dctx *, const struct dheader *, void *), void *arg);

/* A new json string of the len bytes of s made valid UTF-8 without NUL
 * and cut to max bytes on a character boundary (each counted). */
json_object *decode_text(struct dctx *, const char *s, size_t len, size_t max);
/* The same for s already in out; out is emptied. */
json_object *decode_take(struct dctx *, struct strbuf *out, size_t max);

/* Walks the MIME tree from the payload: bodies and attachments into the
 * context.  -1 with c->why set when the message is refused. */
int decode_walk(struct dctx *, json_object *payload, unsigned depth);

/* A body's text: in raw (base64-decoded) or conv, whichever p points into. */
struct dbody {
	unsigned char *raw;
	struct strbuf conv;
	const char *p;
	size_t len;
};

/*
 * The UTF-8 text of len base64url characters in charset cs (clen bytes),
 * at most max bytes, into b (freed with decode_body_free): -1 when nothing
 * decodes.
 */
int decode_body(struct dctx *, const char *data, size_t len, const char *cs,
    size_t clen, size_t max, struct dbody *b);
void decode_body_free(struct dbody *);

#endif
