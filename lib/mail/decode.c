/* SPDX-License-Identifier: ISC */
/*
 * mail_decode(): the message's own fields and its top-level headers; the
 * MIME tree is decode-part.c's.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "date.h"
#include "decode-private.h"
#include "json.h"
#include "rfc2047.h"
#include "utf8.h"

const struct mail_decode_limits mail_decode_limits_default = {
	.max_depth = 32,
	.max_parts = 500,
	.max_headers = 1000,
	.max_header_value = 262144,
	.max_subject = 4096,
	.max_address = 2048,
	.max_message_id = 998,
	.max_references = 65536,
	.max_snippet = 1024,
	.max_filename = 1024,
	.max_body = 25 * 1024 * 1024,
	.max_addresses = 500,
};

/* The top-level headers the row keeps, by their index in names[]. */
enum { H_SUBJECT, H_FROM, H_REPLY_TO, H_DATE, H_MESSAGE_ID, H_IN_REPLY_TO,
	H_REFERENCES, H_TO, H_CC, H_BCC, H_COUNT };
static const char *const names[H_COUNT] = {"Subject", "From", "Reply-To",
    "Date", "Message-ID", "In-Reply-To", "References", "To", "Cc", "Bcc"};
static const char *const keys[H_COUNT] = {"subject", "from", "reply_to",
    "date", "message_id", "in_reply_to", "references", "to", "cc", "bcc"};

struct tops {
	struct dheader h[H_COUNT];		/* the first of each */
	json_object *lists[3];			/* to, cc, bcc */
	size_t counts[3];			/* addresses seen in each */
};

/* For mail_addr_split(): one address of a list into its array. */
struct list_arg {
	struct dctx *c;
	json_object *arr;
};

/* For mail_addr_split(): one mailbox appended to a joined list. */
struct join_arg {
	struct dctx *c;
	struct strbuf *b;
};

json_object *
decode_text(struct dctx *c, const char *s, size_t len, size_t max)
{
	struct strbuf b = STRBUF_INIT;
	json_object *o;

	if (utf8_text(s, len)) {
		if (len > max) {
			len = utf8_cut(s, len, max);
			c->truncated++;
		}
		return json_object_new_string_len(s, (int)len);
	}
	if (utf8_repair(&b, s, len) > 0)
		c->cc.repaired++;
	o = decode_take(c, &b, max);
	strbuf_free(&b);
	return o;
}

json_object *
decode_take(struct dctx *c, struct strbuf *b, size_t max)
{
	json_object *o;
	size_t len = b->len;

	if (len > max) {
		len = utf8_cut(b->p, len, max);
		c->truncated++;
	}
	o = json_object_new_string_len(b->p != NULL ? b->p : "", (int)len);
	strbuf_reset(b);
	return o;
}

int
decode_headers(struct dctx *c, json_object *part,
    int (*fn)(struct dctx *, const struct dheader *, void *), void *arg)
{
	json_object *hs, *e;
	struct dheader h;
	size_t n;
	int r;

	if (!json_object_object_get_ex(part, "headers", &hs) ||
	    !json_object_is_type(hs, json_type_array))
		return 0;
	n = json_object_array_length(hs);
	if (n > c->lim->max_headers) {
		n = c->lim->max_headers;
		c->truncated++;
	}
	for (size_t i = 0; i < n; i++) {
		e = json_object_array_get_idx(hs, i);
		if ((h.name = json_get_string_len(e, "name", &h.nlen)) == NULL ||
		    (h.value = json_get_string_len(e, "value", &h.vlen)) == NULL)
			continue;
		if (h.vlen > c->lim->max_header_value) {
			h.vlen = utf8_drop_partial(h.value, c->lim->max_header_value);
			c->truncated++;
		}
		if ((r = fn(c, &h, arg)) != 0)
			return r;
	}
	return 0;
}

static void
list_add(void *arg, const char *s, size_t len)
{
	struct list_arg *la = arg;
	struct strbuf b = STRBUF_INIT;

	mail_addr_format(s, len, &b, &la->c->cc);
	json_object_array_add(la->arr, decode_take(la->c, &b, la->c->lim->max_address));
	strbuf_free(&b);
}

static int
top_header(struct dctx *c, const struct dheader *h, void *arg)
{
	struct tops *t = arg;
	struct list_arg la = {c, NULL};
	size_t k, room;

	for (k = 0; k < H_COUNT; k++)
		if (h->nlen == strlen(names[k]) &&
		    strncasecmp(h->name, names[k], h->nlen) == 0)
			break;
	if (k == H_COUNT)
		return 0;
	if (k < H_TO) {
		if (t->h[k].name == NULL)
			t->h[k] = *h;
		return 0;
	}
	/* To, Cc and Bcc: every occurrence counts. */
	la.arr = t->lists[k - H_TO];
	room = c->lim->max_addresses - json_object_array_length(la.arr);
	t->counts[k - H_TO] += mail_addr_split(h->value, h->vlen, room, list_add, &la);
	return 0;
}

/* Subject: encoded-words decoded. */
static json_object *
hdr_text(struct dctx *c, const struct dheader *h, size_t max)
{
	struct strbuf b = STRBUF_INIT;
	json_object *o;

	if (h->name == NULL)
		return NULL;
	rfc2047_decode(h->value, h->vlen, &b, &c->cc);
	o = decode_take(c, &b, max);
	strbuf_free(&b);
	return o;
}

static void
join_add(void *arg, const char *s, size_t len)
{
	struct join_arg *ja = arg;

	if (ja->b->len > 0)
		strbuf_add(ja->b, ", ", 2);
	mail_addr_format(s, len, ja->b, &ja->c->cc);
}

/* From, Reply-To: the mailboxes written as in to/cc/bcc, joined by ", ". */
static json_object *
hdr_mailboxes(struct dctx *c, const struct dheader *h)
{
	struct strbuf b = STRBUF_INIT;
	struct join_arg ja = {c, &b};
	json_object *o;

	if (h->name == NULL)
		return NULL;
	if (mail_addr_split(h->value, h->vlen, c->lim->max_addresses, join_add, &ja) == 0)
		rfc2047_decode(h->value, h->vlen, &b, &c->cc);
	o = decode_take(c, &b, c->lim->max_address);
	strbuf_free(&b);
	return o;
}

/* Message-ID, In-Reply-To, References: trimmed, blanks folded to one. */
static json_object *
hdr_ids(struct dctx *c, const struct dheader *h, size_t max)
{
	struct strbuf b = STRBUF_INIT;
	json_object *o;
	bool gap = false;

	if (h->name == NULL)
		return NULL;
	for (size_t i = 0; i < h->vlen; i++) {
		char ch = h->value[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			gap = b.len > 0;
			continue;
		}
		if (gap)
			strbuf_addc(&b, ' ');
		gap = false;
		strbuf_addc(&b, ch);
	}
	o = decode_text(c, b.p != NULL ? b.p : "", b.len, max);
	strbuf_free(&b);
	return o;
}

static json_object *
hdr_date(const struct dheader *h)
{
	char iso[MAIL_DATE_ISO_LEN + 1];
	time_t t;

	if (h->name == NULL || mail_date_parse(h->value, h->vlen, &t) == -1)
		return NULL;
	mail_date_iso(t, iso);
	return json_object_new_string(iso);
}

/* Gmail's ids: 1..255 characters of base64url (hex in practice). */
static bool
id_ok(const char *s, size_t len)
{
	if (len == 0 || len > DECODE_MAX_TOKEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

static bool
digits_ok(const char *s, size_t len)
{
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* An int64 member given as a number or as a string of digits. */
static json_object *
int_member(json_object *msg, const char *key)
{
	const char *s;
	size_t len;
	int64_t v;

	if (json_get_int64(msg, key, &v) == 0)
		return v >= 0 ? json_object_new_int64(v) : NULL;
	if ((s = json_get_string_len(msg, key, &len)) == NULL || !digits_ok(s, len) ||
	    parse_int64(s, 0, INT64_MAX, &v) == -1)
		return NULL;
	return json_object_new_int64(v);
}

static json_object *
label_ids(struct dctx *c, json_object *msg)
{
	json_object *arr = json_object_new_array(), *in, *e;
	size_t n;

	if (!json_object_object_get_ex(msg, "labelIds", &in) ||
	    !json_object_is_type(in, json_type_array))
		return arr;
	n = json_object_array_length(in);
	if (n > c->lim->max_headers) {
		n = c->lim->max_headers;
		c->truncated++;
	}
	for (size_t i = 0; i < n; i++) {
		e = json_object_array_get_idx(in, i);
		if (json_object_is_type(e, json_type_string))
			json_object_array_add(arr, decode_text(c, json_object_get_string(e),
			    (size_t)json_object_get_string_len(e), DECODE_MAX_TOKEN));
	}
	return arr;
}

/* The character an HTML entity at s stands for (Gmail escapes snippets):
 * its length, or 0 when it is not one Gmail writes. */
static size_t
entity(const char *s, size_t len, unsigned long *cp)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} named[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'},
	    {"&quot;", '"'}, {"&apos;", '\''}, {"&nbsp;", 0xa0}};
	size_t i = 2;
	int base = 10;

	for (size_t k = 0; k < nitems(named); k++)
		if (len >= strlen(named[k].name) &&
		    memcmp(s, named[k].name, strlen(named[k].name)) == 0) {
			*cp = named[k].cp;
			return strlen(named[k].name);
		}
	if (len < 4 || s[1] != '#')
		return 0;
	if (s[2] == 'x' || s[2] == 'X')
		base = 16, i = 3;
	for (*cp = 0; i < len && i < 10 && s[i] != ';'; i++) {
		int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
		    base == 16 && (s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f' ?
		    (s[i] | 0x20) - 'a' + 10 : -1;

		if (d < 0)
			return 0;
		*cp = *cp * (unsigned long)base + (unsigned long)d;
	}
	if (i >= len || s[i] != ';' || i == (base == 16 ? 3u : 2u) || *cp == 0 ||
	    *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return i + 1;
}

static json_object *
snippet(struct dctx *c, json_object *msg)
{
	struct strbuf b = STRBUF_INIT;
	size_t len, i = 0, at, n;
	const char *s = json_get_string_len(msg, "snippet", &len), *amp;
	unsigned long cp;
	json_object *o;

	if (s == NULL)
		return json_object_new_string("");
	if (len > c->lim->max_snippet * 4)
		len = c->lim->max_snippet * 4;	/* room for entities; cut below */
	while ((amp = memchr(s + i, '&', len - i)) != NULL) {
		at = (size_t)(amp - s);
		strbuf_add(&b, s + i, at - i);
		if ((n = entity(amp, len - at, &cp)) == 0) {
			strbuf_addc(&b, '&');
			n = 1;
		} else
			utf8_put(&b, cp);
		i = at + n;
	}
	strbuf_add(&b, s + i, len - i);
	o = decode_text(c, b.p, b.len, c->lim->max_snippet);
	strbuf_free(&b);
	return o;
}

static int
message_ids(struct dctx *c, json_object *msg, json_object *row)
{
	const char *id, *tid, *hid;
	size_t len, tlen, hlen;

	if ((id = json_get_string_len(msg, "id", &len)) == NULL) {
		c->why = "no id";
		return -1;
	}
	if ((tid = json_get_string_len(msg, "threadId", &tlen)) == NULL) {
		c->why = "no threadId";
		return -1;
	}
	if (!id_ok(id, len) || !id_ok(tid, tlen)) {
		c->why = "bad id";
		return -1;
	}
	json_object_object_add(row, "gmail_id", json_object_new_string_len(id, (int)len));
	json_object_object_add(row, "thread_id", json_object_new_string_len(tid, (int)tlen));
	hid = json_get_string_len(msg, "historyId", &hlen);
	json_object_object_add(row, "history_id", hid != NULL && digits_ok(hid, hlen) ?
	    json_object_new_string_len(hid, (int)hlen) : NULL);
	json_object_object_add(row, "internal_date_ms", int_member(msg, "internalDate"));
	json_object_object_add(row, "size_estimate", int_member(msg, "sizeEstimate"));
	json_object_object_add(row, "label_ids", label_ids(c, msg));
	json_object_object_add(row, "snippet", snippet(c, msg));
	return 0;
}

static void
header_fields(struct dctx *c, const struct tops *t, json_object *row)
{
	const struct mail_decode_limits *l = c->lim;

	json_object_object_add(row, "message_id", hdr_ids(c, &t->h[H_MESSAGE_ID],
	    l->max_message_id));
	json_object_object_add(row, "in_reply_to", hdr_ids(c, &t->h[H_IN_REPLY_TO],
	    l->max_message_id));
	json_object_object_add(row, "references", hdr_ids(c, &t->h[H_REFERENCES],
	    l->max_references));
	json_object_object_add(row, "subject", hdr_text(c, &t->h[H_SUBJECT],
	    l->max_subject));
	json_object_object_add(row, "from", hdr_mailboxes(c, &t->h[H_FROM]));
	json_object_object_add(row, "reply_to", hdr_mailboxes(c, &t->h[H_REPLY_TO]));
	json_object_object_add(row, "date", hdr_date(&t->h[H_DATE]));
	for (int k = 0; k < 3; k++) {
		if (t->counts[k] > l->max_addresses)
			c->truncated++;
		json_object_object_add(row, keys[H_TO + k], json_object_get(t->lists[k]));
	}
}

static void
add_stats(struct mail_decode_stats *st, const struct dctx *c)
{
	if (st == NULL)
		return;
	st->repaired += c->cc.repaired;
	st->charset_converted += c->cc.converted;
	st->truncated += c->truncated;
	st->body_external += c->body_external;
}

static void
dctx_free(struct dctx *c, struct tops *t)
{
	for (int k = 0; k < 3; k++)
		json_object_put(t->lists[k]);
	json_object_put(c->body_text);
	json_object_put(c->body_html);
	json_object_put(c->atts);
}

int
mail_decode(json_object *msg, const struct mail_decode_limits *lim,
    json_object **row, struct mail_decode_stats *st, char *err, size_t errlen)
{
	struct dctx c = {lim != NULL ? lim : &mail_decode_limits_default,
	    {0, 0}, 0, 0, 0, NULL, NULL, json_object_new_array(), NULL};
	struct tops t = {{{NULL, NULL, 0, 0}}, {json_object_new_array(),
	    json_object_new_array(), json_object_new_array()}, {0, 0, 0}};
	json_object *r = json_object_new_object(), *payload = NULL;

	if (message_ids(&c, msg, r) == 0 &&
	    (!json_object_object_get_ex(msg, "payload", &payload) ||
	    !json_object_is_type(payload, json_type_object)))
		c.why = "no payload";
	if (c.why == NULL) {
		(void)decode_headers(&c, payload, top_header, &t);
		header_fields(&c, &t, r);
		(void)decode_walk(&c, payload, 0);
	}
	if (c.why != NULL) {
		snprintf(err, errlen, "%s", c.why);
		json_object_put(r);
		dctx_free(&c, &t);
		return -1;
	}
	json_object_object_add(r, "body_text", json_object_get(c.body_text));
	json_object_object_add(r, "body_html", json_object_get(c.body_html));
	json_object_object_add(r, "attachments", json_object_get(c.atts));
	json_object_object_add(r, "repaired",
	    json_object_new_int64((int64_t)c.cc.repaired + c.truncated));
	add_stats(st, &c);
	dctx_free(&c, &t);
	*row = r;
	return 0;
}

int
mail_decode_body(const char *data, size_t len, const char *charset,
    const struct mail_decode_limits *lim, char **out, size_t *outlen,
    struct mail_decode_stats *st)
{
	struct dctx c = {lim != NULL ? lim : &mail_decode_limits_default,
	    {0, 0}, 0, 0, 0, NULL, NULL, NULL, NULL};
	struct dbody b;

	if (decode_body(&c, data, len, charset, charset != NULL ? strlen(charset) : 0,
	    c.lim->max_body, &b) == -1)
		return -1;
	*out = xstrndup(b.p, b.len);
	*outlen = b.len;
	decode_body_free(&b);
	add_stats(st, &c);
	return 0;
}
