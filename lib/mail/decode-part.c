/* SPDX-License-Identifier: ISC */
/*
 * The MIME tree of a Gmail message: the first text/plain and text/html
 * parts that are not attachments become the bodies, the other leaves
 * become attachments' metadata (docs/mail.md, "Bodies and attachments").
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "decode-private.h"
#include "json.h"
#include "mimeparam.h"
#include "rfc2047.h"
#include "utf8.h"

/* What a leaf's headers say. */
struct leafinfo {
	const char *ctype, *cdisp;
	size_t ctlen, cdlen;
};

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
sextet(char c)
{
	const char *p;

	if (c == '+')
		c = '-';
	else if (c == '/')
		c = '_';
	p = c != '\0' ? strchr(b64url_chars, c) : NULL;
	return p != NULL ? (int)(p - b64url_chars) : -1;
}

/*
 * Base64 that lib/b64 refuses (the standard alphabet, blanks, a stray
 * character, bits left over): the characters of either alphabet, the rest
 * skipped, a dangling last character dropped and unused bits cleared.
 */
static int
lenient_b64(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	char *clean = xmalloc(len + 1);
	size_t n = 0;
	int v, r;

	for (size_t i = 0; i < len; i++)
		if ((v = sextet(s[i])) >= 0)
			clean[n++] = b64url_chars[v];
	if (n == 0 && len > 0) {
		free(clean);
		return -1;	/* nothing of base64 in it */
	}
	if (n % 4 == 1)
		n--;
	if (n % 4 == 2)
		clean[n - 1] = b64url_chars[sextet(clean[n - 1]) & ~15];
	else if (n % 4 == 3)
		clean[n - 1] = b64url_chars[sextet(clean[n - 1]) & ~3];
	r = b64url_decode(clean, n, out, outlen);
	free(clean);
	return r;
}

void
decode_body_free(struct dbody *b)
{
	free(b->raw);
	strbuf_free(&b->conv);
	b->raw = NULL;
}

int
decode_body(struct dctx *c, const char *data, size_t len, const char *cs,
    size_t clen, size_t max, struct dbody *b)
{
	size_t enc_max = max / 3 * 4 + 8, n;
	bool cut = false;

	memset(b, 0, sizeof *b);
	if (len > enc_max) {
		len = enc_max;	/* a few bytes past max: cut below, on a boundary */
		cut = true;
	}
	if (b64url_decode(data, len, &b->raw, &n) == -1) {
		if (lenient_b64(data, len, &b->raw, &n) == -1)
			return -1;
		c->cc.repaired++;
	}
	if (cut)
		n = utf8_drop_partial(b->raw, n);
	if (charset_to_utf8(cs, clen, b->raw, n, &b->conv, &c->cc) == 0)
		b->p = (const char *)b->raw, b->len = n;
	else
		b->p = b->conv.p, b->len = b->conv.len;
	if (b->len > max) {
		b->len = utf8_cut(b->p, b->len, max);
		cut = true;
	}
	c->truncated += cut;
	return 0;
}

static bool
mime_is(const char *mime, const char *want)
{
	return mime != NULL && strcasecmp(mime, want) == 0;
}

static int
leaf_header(struct dctx *c, const struct dheader *h, void *arg)
{
	struct leafinfo *li = arg;

	(void)c;
	if (h->nlen == 12 && strncasecmp(h->name, "Content-Type", 12) == 0 &&
	    li->ctype == NULL)
		li->ctype = h->value, li->ctlen = h->vlen;
	else if (h->nlen == 19 &&
	    strncasecmp(h->name, "Content-Disposition", 19) == 0 && li->cdisp == NULL)
		li->cdisp = h->value, li->cdlen = h->vlen;
	return 0;
}

/* The attachment's name: Content-Disposition's filename (RFC 2231 or
 * not), else Gmail's filename, else Content-Type's name. */
static void
leaf_filename(struct dctx *c, json_object *part, const struct leafinfo *li,
    struct strbuf *out)
{
	size_t len;
	const char *fn = json_get_string_len(part, "filename", &len);

	if (li->cdisp != NULL &&
	    mimeparam_get(li->cdisp, li->cdlen, "filename", out, &c->cc) &&
	    out->len > 0)
		return;
	strbuf_reset(out);
	if (fn != NULL && len > 0) {
		rfc2047_decode(fn, len, out, &c->cc);
		return;
	}
	if (li->ctype != NULL)
		(void)mimeparam_get(li->ctype, li->ctlen, "name", out, &c->cc);
}

static void
add_attachment(struct dctx *c, struct strbuf *name, const char *mime,
    json_object *body)
{
	json_object *a = json_object_new_object(), *id = NULL;
	const char *aid;
	size_t len;
	int64_t size = 0;

	json_object_object_add(a, "filename",
	    decode_take(c, name, c->lim->max_filename));
	json_object_object_add(a, "mime_type",
	    decode_text(c, mime, strlen(mime), DECODE_MAX_TOKEN));
	if (json_get_int64(body, "size", &size) == -1 || size < 0)
		size = 0;
	json_object_object_add(a, "size", json_object_new_int64(size));
	if ((aid = json_get_string_len(body, "attachmentId", &len)) != NULL)
		id = decode_text(c, aid, len, c->lim->max_filename);
	json_object_object_add(a, "attachment_id", id);
	json_object_array_add(c->atts, a);
}

/* The body of a text part that is not an attachment, into *slot. */
static void
leaf_body(struct dctx *c, json_object *body, const struct leafinfo *li,
    json_object **slot)
{
	struct strbuf cs = STRBUF_INIT;
	struct dbody b;
	const char *data;
	size_t len;

	data = json_get_string_len(body, "data", &len);
	if (li->ctype != NULL)
		(void)mimeparam_raw(li->ctype, li->ctlen, "charset", &cs);
	if (data == NULL || len == 0)
		*slot = json_object_new_string("");
	else if (decode_body(c, data, len, cs.p, cs.len, c->lim->max_body, &b) == -1) {
		*slot = json_object_new_string("");
		c->cc.repaired++;	/* not base64 at all */
	} else {
		*slot = json_object_new_string_len(b.p, (int)b.len);
		decode_body_free(&b);
	}
	strbuf_free(&cs);
}

static void
leaf(struct dctx *c, json_object *part)
{
	struct leafinfo li = {NULL, NULL, 0, 0};
	struct strbuf name = STRBUF_INIT;
	const char *mime = json_get_string(part, "mimeType"), *disp;
	json_object *body = NULL, **slot = NULL;
	bool att;

	if (mime == NULL)
		mime = "application/octet-stream";
	(void)json_object_object_get_ex(part, "body", &body);
	(void)decode_headers(c, part, leaf_header, &li);
	leaf_filename(c, part, &li, &name);
	att = name.len > 0 || (li.cdisp != NULL &&
	    mimeparam_value(li.cdisp, li.cdlen, &disp) == 10 &&
	    strncasecmp(disp, "attachment", 10) == 0);
	if (!att && mime_is(mime, "text/plain"))
		slot = &c->body_text;
	else if (!att && mime_is(mime, "text/html"))
		slot = &c->body_html;
	if (slot != NULL && *slot == NULL &&
	    json_get_string(body, "attachmentId") != NULL &&
	    json_get_string(body, "data") == NULL) {
		c->body_external++;	/* Gmail left it out: fetched apart */
		add_attachment(c, &name, mime, body);
	} else if (slot != NULL && *slot == NULL)
		leaf_body(c, body, &li, slot);
	else if (slot == NULL || json_get_string(body, "attachmentId") != NULL)
		add_attachment(c, &name, mime, body);
	strbuf_free(&name);
}

int
decode_walk(struct dctx *c, json_object *part, unsigned depth)
{
	const char *mime = json_get_string(part, "mimeType");
	json_object *parts;
	size_t n;

	if (depth > c->lim->max_depth) {
		c->why = "payload nested too deep";
		return -1;
	}
	if (c->nparts >= c->lim->max_parts) {
		c->truncated += c->nparts++ == c->lim->max_parts;
		return 0;	/* the parts after the limit are not read */
	}
	c->nparts++;
	if (mime == NULL || strncasecmp(mime, "multipart/", 10) != 0 ||
	    !json_object_object_get_ex(part, "parts", &parts) ||
	    !json_object_is_type(parts, json_type_array)) {
		if (depth > 0 || mime == NULL || strncasecmp(mime, "multipart/", 10) != 0)
			leaf(c, part);
		return 0;
	}
	n = json_object_array_length(parts);
	for (size_t i = 0; i < n; i++) {
		json_object *child = json_object_array_get_idx(parts, i);

		if (!json_object_is_type(child, json_type_object))
			continue;
		if (decode_walk(c, child, depth + 1) == -1)
			return -1;
	}
	return 0;
}
