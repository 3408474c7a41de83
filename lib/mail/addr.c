/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "addr.h"
#include "charset.h"
#include "rfc2047.h"
#include "strbuf.h"
#include "utf8.h"

/* Index just past the quoted string or comment that starts at s[i]. */
static size_t
skip_quoted(const char *s, size_t len, size_t i)
{
	char open = s[i];
	int depth = 0;

	for (; i < len; i++) {
		if (s[i] == '\\') {
			i++;
			continue;
		}
		if (open == '"') {
			if (s[i] == '"' && depth++ == 1)
				return i + 1;
			continue;
		}
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	return len;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct splitter {
	const char *s;
	size_t max, count;
	size_t start;		/* of the piece being read */
	size_t held;		/* start of a held piece without '@', or SIZE_MAX */
	bool at, angle;		/* seen in this piece */
	mail_addr_cb cb;
	void *arg;
};

static void
emit(struct splitter *sp, size_t from, size_t to)
{
	while (from < to && is_blank(sp->s[from]))
		from++;
	while (to > from && is_blank(sp->s[to - 1]))
		to--;
	if (from == to)
		return;
	if (sp->count++ < sp->max)
		sp->cb(sp->arg, sp->s + from, to - from);
}

/* The piece [start, end) is complete. */
static void
piece_end(struct splitter *sp, size_t end, bool last)
{
	size_t from = sp->held != SIZE_MAX ? sp->held : sp->start;
	bool blank = true;

	for (size_t i = sp->start; i < end && blank; i++)
		blank = is_blank(sp->s[i]);
	if (!sp->at && !sp->angle && !blank && !last) {
		sp->held = from;	/* a display name cut at its comma */
	} else if (!blank || sp->held != SIZE_MAX) {
		emit(sp, from, end);
		sp->held = SIZE_MAX;
	}
	sp->start = end + 1;
	sp->at = sp->angle = false;
}

size_t
mail_addr_split(const char *s, size_t len, size_t max, mail_addr_cb cb,
    void *arg)
{
	struct splitter sp = {s, max, 0, 0, SIZE_MAX, false, false, cb, arg};
	bool in_angle = false;
	size_t i = 0;

	while (i < len) {
		char c = s[i];

		if (c == '"' || c == '(') {
			i = skip_quoted(s, len, i);
			continue;
		}
		if (c == '<')
			in_angle = sp.angle = true;
		else if (c == '>')
			in_angle = false;
		else if (c == '@')
			sp.at = true;
		else if (!in_angle && (c == ',' || c == ';'))
			piece_end(&sp, i, c == ';');
		else if (!in_angle && c == ':' && !sp.at) {
			sp.held = SIZE_MAX;	/* a group's name */
			sp.start = i + 1;
		}
		i++;
	}
	if (sp.start <= len)
		piece_end(&sp, len, true);
	return sp.count;
}

/* Appends the text of a quoted string or comment without its delimiters
 * and quoted-pairs. */
static void
add_unquoted(struct strbuf *b, const char *s, size_t len)
{
	char close = s[0] == '"' ? '"' : ')';
	size_t end = len >= 2 && s[len - 1] == close ? len - 1 : len;

	for (size_t i = 1; i < end; i++) {
		if (s[i] == '\\' && i + 1 < end)
			i++;
		strbuf_addc(b, s[i]);
	}
}

/* Appends c, folding runs of blanks into one space and none at the start. */
static void
add_folded(struct strbuf *b, char c)
{
	if (is_blank(c)) {
		if (b->len > 0 && b->p[b->len - 1] != ' ')
			strbuf_addc(b, ' ');
		return;
	}
	strbuf_addc(b, c);
}

/* The display name part: quoted strings unquoted, comments kept only when
 * keep_comments, blanks folded. */
static void
name_text(const char *s, size_t len, bool keep_comments, struct strbuf *name)
{
	size_t i = 0, e, mark = name->len;

	while (i < len) {
		if (s[i] == '"' || s[i] == '(') {
			e = skip_quoted(s, len, i);
			if (s[i] == '"')
				add_unquoted(name, s + i, e - i);
			else if (keep_comments)
				strbuf_add(name, s + i, e - i);
			i = e;
			continue;
		}
		add_folded(name, s[i++]);
	}
	while (name->len > mark && name->p[name->len - 1] == ' ')
		strbuf_truncate(name, name->len - 1);
}

/* The addr-spec: without blanks, comments or a route ("@a,@b:"); the
 * first comment's text goes to comment. */
static void
addr_text(const char *s, size_t len, struct strbuf *addr, struct strbuf *comment)
{
	size_t i = 0, e;
	const char *colon;

	if (len > 0 && s[0] == '@' && (colon = memchr(s, ':', len)) != NULL)
		i = (size_t)(colon - s) + 1;
	while (i < len) {
		if (s[i] == '"' || s[i] == '(') {
			e = skip_quoted(s, len, i);
			if (s[i] == '"')
				strbuf_add(addr, s + i, e - i);
			else if (comment != NULL && comment->len == 0)
				add_unquoted(comment, s + i, e - i);
			i = e;
			continue;
		}
		if (!is_blank(s[i]))
			strbuf_addc(addr, s[i]);
		i++;
	}
}

/* Where the angle-addr starts: the last '<' outside quotes and comments. */
static size_t
find_angle(const char *s, size_t len)
{
	size_t i = 0, lt = SIZE_MAX;

	while (i < len) {
		if (s[i] == '"' || s[i] == '(') {
			i = skip_quoted(s, len, i);
			continue;
		}
		if (s[i] == '<')
			lt = i;
		i++;
	}
	return lt;
}

void
mail_addr_parse(const char *s, size_t len, struct strbuf *name,
    struct strbuf *addr)
{
	size_t lt = find_angle(s, len), gt;
	struct strbuf comment = STRBUF_INIT;

	if (lt == SIZE_MAX && memchr(s, '@', len) == NULL) {
		name_text(s, len, true, name);	/* a name, or a bare local user */
		return;
	}
	if (lt == SIZE_MAX) {
		addr_text(s, len, addr, &comment);
		name_text(comment.p != NULL ? comment.p : "", comment.len, true,
		    name);
		strbuf_free(&comment);
		return;
	}
	for (gt = lt + 1; gt < len && s[gt] != '>'; gt++)
		;
	name_text(s, lt, true, name);
	addr_text(s + lt + 1, gt - lt - 1, addr, NULL);
}

void
mail_addr_format(const char *s, size_t len, struct strbuf *out,
    struct charset_counts *c)
{
	struct strbuf name = STRBUF_INIT, addr = STRBUF_INIT;

	mail_addr_parse(s, len, &name, &addr);
	if (name.len > 0)
		rfc2047_decode(name.p, name.len, out, c);
	if (name.len > 0 && addr.len > 0)
		strbuf_add(out, " <", 2);
	if (addr.len > 0 && utf8_repair(out, addr.p, addr.len) > 0)
		c->repaired++;
	if (name.len > 0 && addr.len > 0)
		strbuf_addc(out, '>');
	strbuf_free(&name);
	strbuf_free(&addr);
}
