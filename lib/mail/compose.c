/* SPDX-License-Identifier: ISC */
/*
 * mail_compose(): checks a draft, then writes its headers and its MIME
 * structure (compose-header.c and compose-body.c write the pieces).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose-private.h"
#include "compose.h"
#include "date.h"
#include "strbuf.h"
#include "utf8.h"

/* Longest message id, and longest single id in References. */
#define ID_MAX 900

struct composer {
	const struct mail_draft *d;
	struct strbuf o;
	char *err;
	size_t errlen;
};

/* err = before, what (with [i] unless i is SIZE_MAX), after; -1. */
static int
fail(struct composer *c, const char *before, const char *after, const char *what,
    size_t i)
{
	char name[64];

	if (i == SIZE_MAX)
		snprintf(name, sizeof name, "%s", what);
	else
		snprintf(name, sizeof name, "%s[%zu]", what, i);
	snprintf(c->err, c->errlen, "%s%s%s", before, name, after);
	return -1;
}

static bool
has_crlf(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* Header text: no CR or LF, UTF-8, not too long. */
static int
check_text(struct composer *c, const char *s, const char *what, size_t i)
{
	if (s == NULL)
		return 0;
	if (has_crlf(s))
		return fail(c, "header injection in ", "", what, i);
	if (!utf8_valid(s, strlen(s)))
		return fail(c, "bad UTF-8 in ", "", what, i);
	if (strlen(s) > MAIL_COMPOSE_MAX_TEXT)
		return fail(c, "", " too long", what, i);
	return 0;
}

/* Message ids: ASCII words, each no longer than ID_MAX. */
static int
check_ids(struct composer *c, const char *s, const char *what, bool one)
{
	size_t n = 0, words = 0;

	if (s == NULL)
		return 0;
	if (has_crlf(s))
		return fail(c, "header injection in ", "", what, SIZE_MAX);
	for (size_t i = 0;; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\0') {
			words += n > 0;
			if (n > ID_MAX)
				return fail(c, "bad ", "", what, SIZE_MAX);
			n = 0;
			if (s[i] == '\0')
				break;
		} else if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return fail(c, "bad ", "", what, SIZE_MAX);
		else
			n++;
	}
	if (words == 0 || (one && (words != 1 || s[0] != '<' ||
	    s[strlen(s) - 1] != '>' || strchr(s, '@') == NULL)))
		return fail(c, "bad ", "", what, SIZE_MAX);
	return 0;
}

static int
check_list(struct composer *c, const char *const *list, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		if (list == NULL || list[i] == NULL)
			return fail(c, "bad address in ", "", what, i);
		if (check_text(c, list[i], what, i) == -1)
			return -1;
	}
	return 0;
}

static bool
mime_type_ok(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash != NULL && slash != s && slash[1] != '\0' &&
	    strchr(slash + 1, '/') == NULL && strlen(s) <= 255 &&
	    strcspn(s, " \t\"();,<>@:\\[]?=") == strlen(s) && compose_ascii(s, strlen(s));
}

static int
check_draft(struct composer *c)
{
	const struct mail_draft *d = c->d;

	if (d->message_id == NULL)
		return fail(c, "no ", "", "message_id", SIZE_MAX);
	if (d->natt > 0 && d->att == NULL)
		return fail(c, "no ", "", "att", SIZE_MAX);
	if (d->nto + d->ncc + d->nbcc == 0)
		return fail(c, "no ", "", "recipients", SIZE_MAX);
	if (d->nto + d->ncc + d->nbcc > MAIL_COMPOSE_MAX_RECIPIENTS)
		return fail(c, "too many ", "", "recipients", SIZE_MAX);
	if (check_text(c, d->from, "from", SIZE_MAX) == -1 ||
	    check_list(c, d->to, d->nto, "to") == -1 ||
	    check_list(c, d->cc, d->ncc, "cc") == -1 ||
	    check_list(c, d->bcc, d->nbcc, "bcc") == -1 ||
	    check_text(c, d->subject, "subject", SIZE_MAX) == -1 ||
	    check_ids(c, d->message_id, "message_id", true) == -1 ||
	    check_ids(c, d->in_reply_to, "in_reply_to", false) == -1 ||
	    check_ids(c, d->references, "references", false) == -1)
		return -1;
	if (d->body_text != NULL && !utf8_valid(d->body_text, strlen(d->body_text)))
		return fail(c, "bad UTF-8 in ", "", "body_text", SIZE_MAX);
	if (d->body_html != NULL && !utf8_valid(d->body_html, strlen(d->body_html)))
		return fail(c, "bad UTF-8 in ", "", "body_html", SIZE_MAX);
	for (size_t i = 0; i < d->natt; i++) {
		if (check_text(c, d->att[i].filename, "att.filename", i) == -1)
			return -1;
		if (d->att[i].mime_type != NULL && !mime_type_ok(d->att[i].mime_type))
			return fail(c, "bad ", "", "att.mime_type", i);
		if (d->att[i].data == NULL && d->att[i].len > 0)
			return fail(c, "no ", "", "att.data", i);
	}
	return 0;
}

/* A header of mailboxes; -1 naming the one that is not one. */
static int
mailboxes(struct composer *c, const char *name, const char *const *list,
    size_t n)
{
	struct hdr h;

	if (n == 0)
		return 0;
	hdr_start(&h, &c->o, name);
	for (size_t i = 0; i < n; i++)
		if (hdr_mailbox(&h, list[i], i + 1 < n) == -1) {
			char what[8];

			snprintf(what, sizeof what, "%s", name);
			what[0] = (char)(what[0] | 0x20);	/* "to", "cc", "bcc" */
			return fail(c, "bad address in ", "", what, i);
		}
	hdr_end(&h);
	return 0;
}

/* In-Reply-To, References: the ids as tokens, folded between them. */
static void
ids_header(struct composer *c, const char *name, const char *s)
{
	struct hdr h;
	size_t i = 0, j;

	if (s == NULL)
		return;
	hdr_start(&h, &c->o, name);
	while (s[i] != '\0') {
		for (; s[i] == ' ' || s[i] == '\t'; i++)
			;
		for (j = i; s[j] != '\0' && s[j] != ' ' && s[j] != '\t'; j++)
			;
		if (j > i)
			hdr_token(&h, s + i, j - i);
		i = j;
	}
	hdr_end(&h);
}

static int
headers(struct composer *c)
{
	const struct mail_draft *d = c->d;
	char date[MAIL_DATE_RFC_LEN + 1];
	struct hdr h;

	mail_date_rfc5322(d->date != 0 ? d->date : time(NULL), date);
	strbuf_addf(&c->o, "Date: %s\r\n", date);
	if (d->from != NULL && mailboxes(c, "From", &d->from, 1) == -1)
		return fail(c, "bad address in ", "", "from", SIZE_MAX);
	if (mailboxes(c, "To", d->to, d->nto) == -1 ||
	    mailboxes(c, "Cc", d->cc, d->ncc) == -1 ||
	    mailboxes(c, "Bcc", d->bcc, d->nbcc) == -1)
		return -1;
	if (d->subject != NULL) {
		hdr_start(&h, &c->o, "Subject");
		hdr_text(&h, d->subject);
		hdr_end(&h);
	}
	ids_header(c, "Message-ID", d->message_id);
	ids_header(c, "In-Reply-To", d->in_reply_to);
	ids_header(c, "References", d->references);
	strbuf_adds(&c->o, "MIME-Version: 1.0\r\n");
	return 0;
}

static void
new_boundary(char *b, size_t size)
{
	unsigned char r[12];

	random_bytes(r, sizeof r);
	snprintf(b, size, "=_rally_%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11]);
}

/* One text part: its headers, a blank line, its body. */
static void
text_part(struct composer *c, const char *subtype, const char *text)
{
	size_t len = strlen(text);
	bool b64 = body_mostly_8bit(text, len);

	strbuf_addf(&c->o, "Content-Type: text/%s; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n", subtype,
	    b64 ? "base64" : "quoted-printable");
	if (b64)
		body_b64_text(&c->o, text, len);
	else
		body_qp(&c->o, text, len);
}

/* The text, the HTML, or both as multipart/alternative. */
static void
body_part(struct composer *c)
{
	const struct mail_draft *d = c->d;
	char b[64];

	if (d->body_html == NULL || d->body_text == NULL) {
		if (d->body_html != NULL)
			text_part(c, "html", d->body_html);
		else
			text_part(c, "plain", d->body_text != NULL ? d->body_text : "");
		return;
	}
	new_boundary(b, sizeof b);
	strbuf_addf(&c->o, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n"
	    "\r\n--%s\r\n", b, b);
	text_part(c, "plain", d->body_text);
	strbuf_addf(&c->o, "\r\n--%s\r\n", b);
	text_part(c, "html", d->body_html);
	strbuf_addf(&c->o, "\r\n--%s--\r\n", b);
}

/* name="file" for ASCII names, name*=UTF-8''... (RFC 2231) for others,
 * in sections short enough to fold. */
static void
name_param(struct strbuf *o, const char *param, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(name), col = 0, sec = 0;

	if (compose_ascii(name, len) && strpbrk(name, "\"\\\t") == NULL && len <= 60) {
		strbuf_addf(o, ";\r\n %s=\"%s\"", param, name);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || (ch != '\0' && strchr("!#$&+-.^_`|~", ch));

		if (col == 0 || col > 60) {
			strbuf_addf(o, ";\r\n %s*%zu*=%s", param, sec, sec == 0 ? "UTF-8''" : "");
			sec++;
			col = 1;
		}
		if (plain)
			strbuf_addc(o, (char)ch), col++;
		else {
			strbuf_addc(o, '%');
			strbuf_addc(o, hex[ch >> 4]);
			strbuf_addc(o, hex[ch & 15]);
			col += 3;
		}
	}
}

static void
attachment(struct composer *c, const struct mail_attachment *a)
{
	const char *name = a->filename != NULL && a->filename[0] != '\0' ?
	    a->filename : "attachment";

	strbuf_addf(&c->o, "Content-Type: %s", a->mime_type != NULL ? a->mime_type :
	    "application/octet-stream");
	name_param(&c->o, "name", name);
	strbuf_adds(&c->o, "\r\nContent-Disposition: attachment");
	name_param(&c->o, "filename", name);
	strbuf_adds(&c->o, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	body_b64(&c->o, a->data != NULL ? a->data : (const unsigned char *)"", a->len);
}

static void
mixed(struct composer *c)
{
	char b[64];

	new_boundary(b, sizeof b);
	strbuf_addf(&c->o, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n"
	    "\r\n--%s\r\n", b, b);
	body_part(c);
	for (size_t i = 0; i < c->d->natt; i++) {
		strbuf_addf(&c->o, "\r\n--%s\r\n", b);
		attachment(c, &c->d->att[i]);
	}
	strbuf_addf(&c->o, "\r\n--%s--\r\n", b);
}

int
mail_compose(const struct mail_draft *d, char **out, size_t *outlen, char *err,
    size_t errlen)
{
	struct composer c = {d, STRBUF_INIT, err, errlen};

	if (check_draft(&c) == -1 || headers(&c) == -1) {
		strbuf_free(&c.o);
		return -1;
	}
	if (d->natt > 0)
		mixed(&c);
	else
		body_part(&c);
	if (c.o.len > MAIL_COMPOSE_MAX_SIZE) {
		strbuf_free(&c.o);
		return fail(&c, "", " too large", "message", SIZE_MAX);
	}
	*out = strbuf_take(&c.o, outlen);
	return 0;
}
