/* SPDX-License-Identifier: ISC */
/*
 * Headers of a composed message: folding, encoded-words for what is not
 * plain ASCII, display names quoted or encoded, addresses checked.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "b64.h"
#include "compose-private.h"
#include "strbuf.h"
#include "utf8.h"

/* Bytes of UTF-8 in one encoded-word: 45 make 60 base64 characters, and
 * "=?UTF-8?B?" and "?=" bring it to 72, under RFC 2047's 75. */
#define EW_BYTES 45
/* A word longer than this is encoded, so that it can be folded. */
#define WORD_MAX 70

static const char atext_specials[] = "!#$%&'*+-/=?^_`{|}~";

void
hdr_start(struct hdr *h, struct strbuf *out, const char *name)
{
	h->out = out;
	strbuf_adds(out, name);
	strbuf_addc(out, ':');
	h->col = h->start = strlen(name) + 1;
}

void
hdr_token(struct hdr *h, const char *tok, size_t len)
{
	if (h->col > h->start && h->col + 1 + len > COMPOSE_FOLD) {
		strbuf_add(h->out, "\r\n", 2);
		h->col = 0;
	}
	strbuf_addc(h->out, ' ');
	strbuf_add(h->out, tok, len);
	h->col += 1 + len;
}

void
hdr_end(struct hdr *h)
{
	strbuf_add(h->out, "\r\n", 2);
}

bool
compose_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] > 0x7e ||
		    ((unsigned char)s[i] < 0x21 && s[i] != ' ' && s[i] != '\t'))
			return false;
	return true;
}

/* Whether text can go as plain words: printable ASCII, single spaces
 * between words that fold, nothing a decoder would take for an
 * encoded-word. */
static bool
plain_words(const char *s, size_t len)
{
	size_t word = 0;

	if (len == 0)
		return true;
	if (!compose_ascii(s, len) || memchr(s, '\t', len) != NULL ||
	    memmem(s, len, "=?", 2) != NULL || s[0] == ' ' || s[len - 1] == ' ')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ') {
			if (++word > WORD_MAX)
				return false;
		} else if (word == 0)
			return false;	/* two blanks in a row */
		else
			word = 0;
	}
	return true;
}

/* How many bytes the next encoded-word may hold: what fits on this line,
 * or a whole word's worth on the next. */
static size_t
word_bytes(const struct hdr *h)
{
	size_t room = COMPOSE_FOLD - (h->col < COMPOSE_FOLD ? h->col : COMPOSE_FOLD);
	size_t fit = room > 13 ? (room - 13) / 4 * 3 : 0;

	return fit >= 12 && fit < EW_BYTES ? fit : EW_BYTES;
}

/* Encoded-words of UTF-8 text, each a token, no character split. */
static void
encoded_words(struct hdr *h, const char *s, size_t len)
{
	struct strbuf w = STRBUF_INIT;
	size_t i = 0, n;
	char *b;

	while (i < len) {
		n = word_bytes(h);
		n = utf8_cut(s + i, len - i, n);
		if (n == 0)
			n = len - i < EW_BYTES ? len - i : EW_BYTES;	/* not UTF-8 */
		b = b64_encode(s + i, n);
		strbuf_reset(&w);
		strbuf_addf(&w, "=?UTF-8?B?%s?=", b);
		free(b);
		hdr_token(h, w.p, w.len);
		i += n;
	}
	strbuf_free(&w);
}

static void
words(struct hdr *h, const char *s, size_t len)
{
	size_t i = 0, j;

	while (i < len) {
		for (j = i; j < len && s[j] != ' '; j++)
			;
		hdr_token(h, s + i, j - i);
		i = j + 1;
	}
}

void
hdr_text(struct hdr *h, const char *s)
{
	size_t len = strlen(s);

	if (plain_words(s, len))
		words(h, s, len);
	else
		encoded_words(h, s, len);
}

static bool
is_atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr(atext_specials, c) != NULL);
}

/* Whether a phrase of plain words is all atoms (no quoting needed). */
static bool
atoms(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && !is_atext(s[i]))
			return false;
	return true;
}

void
hdr_phrase(struct hdr *h, const char *s, size_t len)
{
	struct strbuf q = STRBUF_INIT;

	if (plain_words(s, len) && atoms(s, len)) {
		words(h, s, len);
		return;
	}
	if (plain_words(s, len) && len + 2 <= WORD_MAX) {
		strbuf_addc(&q, '"');
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				strbuf_addc(&q, '\\');
			strbuf_addc(&q, s[i]);
		}
		strbuf_addc(&q, '"');
		if (q.len <= WORD_MAX + 2) {
			hdr_token(h, q.p, q.len);
			strbuf_free(&q);
			return;
		}
	}
	strbuf_free(&q);
	encoded_words(h, s, len);
}

static bool
dot_atom(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(is_atext(s[i]) || (s[i] == '.' && s[i + 1] != '.')))
			return false;
	return true;
}

static bool
quoted_local(const char *s, size_t len)
{
	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return false;
	for (size_t i = 1; i + 1 < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return false;
	}
	return compose_ascii(s, len);
}

static bool
domain_ok(const char *s, size_t len)
{
	size_t label = 0;

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']')
		return compose_ascii(s, len) && memchr(s + 1, '[', len - 2) == NULL &&
		    memchr(s + 1, ']', len - 2) == NULL && memchr(s, ' ', len) == NULL;
	if (len == 0 || len > 253 || s[0] == '-' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return s[len - 1] != '-';
}

/* RFC 5321/5322 addr-spec, ASCII only (Gmail's API sends no SMTPUTF8). */
static bool
addr_spec_ok(const char *s, size_t len)
{
	const char *at = NULL;

	if (len < 3 || len > 254)
		return false;
	for (size_t i = len; i > 0; i--)
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	if (at == NULL || at == s || (size_t)(at - s) > 64)
		return false;
	return (dot_atom(s, (size_t)(at - s)) || quoted_local(s, (size_t)(at - s))) &&
	    domain_ok(at + 1, len - (size_t)(at + 1 - s));
}

int
hdr_mailbox(struct hdr *h, const char *mailbox, bool comma)
{
	struct strbuf name = STRBUF_INIT, addr = STRBUF_INIT;
	int r = -1;

	mail_addr_parse(mailbox, strlen(mailbox), &name, &addr);
	if (addr.len == 0 || !addr_spec_ok(addr.p, addr.len) ||
	    name.len > MAIL_COMPOSE_NAME_MAX ||
	    (name.len > 0 && (!utf8_text(name.p, name.len) ||
	    memchr(name.p, '<', name.len) != NULL ||
	    memchr(name.p, '>', name.len) != NULL)))
		goto out;
	if (name.len > 0) {
		hdr_phrase(h, name.p, name.len);
		strbuf_reset(&name);
		strbuf_addf(&name, "<%s>%s", addr.p, comma ? "," : "");
	} else {
		strbuf_reset(&name);
		strbuf_addf(&name, "%s%s", addr.p, comma ? "," : "");
	}
	hdr_token(h, name.p, name.len);
	r = 0;
out:
	strbuf_free(&name);
	strbuf_free(&addr);
	return r;
}
