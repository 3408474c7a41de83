/* SPDX-License-Identifier: ISC */
/*
 * log_redact() and log_sanitize() (log.h): masks secrets in text bound for
 * logs and the CLI (key = value pairs, token shapes, a URL's password), and escapes control bytes so that text from outside
 * (a job's error, Google's description) cannot forge log lines or drive a
 * terminal.  Pure functions: no state, output at most LOG_REDACT_MAX bytes.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define MASK "[REDACTED]"
#define TRUNCATED "[truncated]"
#define KEY_MAX 64	/* longer words are not compared with the key names */
/* Input read: nested values make the scan quadratic in a line's length. */
#define INPUT_MAX (2 * LOG_REDACT_MAX)

/*
 * Key names, lower case without '_' and '-', so that refresh_token,
 * refresh-token and refreshToken are one name.  "code" is apart: it is a
 * secret only in OAuth's shapes (see pair_at()).
 */
static const char *const secret_words[] = {
	"password", "passwd", "secret", "session", "sessionid", "sid",
	"authorization", "cookie", "setcookie", "codeverifier", "apikey",
	"privatekey",
};
static const char *const secret_suffixes[] = {
	"token", "secret", "password", "passwd", "sessionid", "apikey",
};
/* Shapes of Google credentials that are secret wherever they appear. */
static const char *const secret_prefixes[] = {
	"ya29.", "1//", "1%2F%2F", "GOCSPX-", "Bearer ",
};

struct out {
	char *buf;
	size_t len, cap;	/* cap leaves room for TRUNCATED */
	bool escape, full;
};

enum sep { SEP_NONE, SEP_EQ, SEP_COLON };
enum key { KEY_NONE, KEY_SECRET, KEY_LINE, KEY_CODE };

/* A key = value pair found in the text; offsets into it. */
struct pair {
	size_t value, end;	/* the value to mask: [value, end) */
	bool quoted;
};

/* --- output ------------------------------------------------------------- */

/* Appends n bytes whole or, when they do not fit, nothing ever again. */
static void
out_put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->cap - o->len < n) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* The length of a valid UTF-8 sequence at s, or 0 (RFC 3629). */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static void
out_escaped_byte(struct out *o, unsigned char c)
{
	char e[5];

	if (c == '\n')
		out_put(o, "\\n", 2);
	else if (c == '\t')
		out_put(o, "\\t", 2);
	else if (c == '\r')
		out_put(o, "\\r", 2);
	else {
		snprintf(e, sizeof e, "\\x%02x", c);
		out_put(o, e, 4);
	}
}

/*
 * Copies n bytes of text; when escaping, C0 and C1 controls, DEL and bytes
 * that are not UTF-8 become \n, \t, \r or \xNN.
 */
static void
out_text(struct out *o, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n && !o->full) {
		if (!o->escape || (u[i] >= 0x20 && u[i] < 0x7f)) {
			out_put(o, s + i++, 1);
			continue;
		}
		l = u[i] >= 0x80 && i + 1 < n ? utf8_len(u + i) : 0;
		if (l > 0 && i + l <= n && !(u[i] == 0xc2 && u[i + 1] < 0xa0)) {
			out_put(o, s + i, l);
			i += l;
		} else
			out_escaped_byte(o, u[i++]);
	}
}

/* --- scanning ----------------------------------------------------------- */

static bool
is_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The byte %XX at s[j] stands for, or -1. */
static int
pct_at(const char *s, size_t j)
{
	unsigned int c;

	if (s[j] != '%' || !isxdigit((unsigned char)s[j + 1]) ||
	    !isxdigit((unsigned char)s[j + 2]) ||
	    sscanf(s + j + 1, "%2x", &c) != 1)
		return -1;
	return (int)c;
}

/* Whether a key may start at k: after a non-word byte or a %XX escape. */
static bool
at_boundary(const char *s, size_t k)
{
	return k == 0 || !is_word_char(s[k - 1]) ||
	    (k >= 3 && pct_at(s, k - 3) != -1);
}

/* The length of a quote at s[j] (", ', \" or %22), or 0. */
static size_t
quote_at(const char *s, size_t j)
{
	if (s[j] == '"' || s[j] == '\'')
		return 1;
	if (s[j] == '\\' && s[j + 1] == '"')
		return 2;
	return pct_at(s, j) == '"' ? 3 : 0;
}

static bool
in_list(const char *w, const char *const *list, size_t n, bool suffix)
{
	size_t wl = strlen(w);

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list[i]);

		if (suffix ? wl >= l && strcmp(w + wl - l, list[i]) == 0 :
		    strcmp(w, list[i]) == 0)
			return true;
	}
	return false;
}

/* Lower case without '_' and '-': refresh_token and refreshToken alike. */
static void
normalize_key(const char *s, size_t n, char *w)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] != '_' && s[i] != '-')
			w[o++] = (char)tolower((unsigned char)s[i]);
	w[o] = '\0';
}

/* KEY_LINE: a header whose value is the whole line (Cookie: a=1; b=2). */
static enum key
key_kind(const char *s, size_t n)
{
	char w[KEY_MAX + 1];

	if (n > KEY_MAX)
		return KEY_NONE;
	normalize_key(s, n, w);
	if (strcmp(w, "code") == 0)
		return KEY_CODE;
	if (strcmp(w, "authorization") == 0 ||
	    in_list(w, (const char *const[]){ "cookie" }, 1, true))
		return KEY_LINE;
	if (in_list(w, secret_words, nitems(secret_words), false) ||
	    in_list(w, secret_suffixes, nitems(secret_suffixes), true))
		return KEY_SECRET;
	return KEY_NONE;
}

/* The separator at s[*j] (=, :, %3D or %3A, blanks around), advancing. */
static enum sep
sep_at(const char *s, size_t *j, bool *spaced)
{
	enum sep sep;
	size_t i = *j;
	int c;

	while (is_blank(s[i]))
		i++;
	*spaced = i > *j;
	c = pct_at(s, i);
	if (s[i] == '=' || c == '=')
		sep = SEP_EQ;
	else if (s[i] == ':' || c == ':')
		sep = SEP_COLON;
	else
		return SEP_NONE;
	i += c != -1 ? 3 : 1;
	if (is_blank(s[i]))
		*spaced = true;
	while (is_blank(s[i]))
		i++;
	*j = i;
	return sep;
}

/* Where a quoted value opened by the quote s[v - ql .. v) closes. */
static size_t
quoted_end(const char *s, size_t v, size_t ql)
{
	const char *q = s + v - ql;
	size_t j = v;

	while (s[j] != '\0' && strncmp(s + j, q, ql) != 0) {
		/* JSON's \" inside "..." is not the end. */
		if (ql == 1 && s[j] == '\\' && s[j + 1] != '\0')
			j++;
		j++;
	}
	return j;
}

static bool
compact_end(const char *s, size_t j)
{
	int c = pct_at(s, j);

	return s[j] == '\0' || isspace((unsigned char)s[j]) ||
	    strchr("&\"',;})]<>", s[j]) != NULL ||
	    (c != -1 && strchr("&\"', ;", c) != NULL);
}

/*
 * The end of an unquoted value at v.  key=value (a query or a form) ends
 * at a blank or a delimiter; key: value and key = value run to the end of
 * the line or to & , ; } and Cookie and Authorization to the end of line.
 */
static size_t
bare_end(const char *s, size_t v, bool to_eol, bool whole_line)
{
	size_t j = v;

	/* A scheme word ("Bearer xyz", "Basic xyz") belongs to the value. */
	if (strncasecmp(s + j, "bearer ", 7) == 0 ||
	    strncasecmp(s + j, "basic ", 6) == 0)
		j = strchr(s + j, ' ') - s + 1;
	if (!to_eol) {
		while (!compact_end(s, j))
			j++;
		return j;
	}
	while (s[j] != '\0' && s[j] != '\n' && s[j] != '\r' &&
	    (whole_line || strchr("&,;}", s[j]) == NULL))
		j++;
	while (j > v && is_blank(s[j - 1]))
		j--;
	return j;
}

/*
 * Whether the word s[k, k + n) starts a key = value pair with a secret
 * value; fills *p.  "code" counts as code=, %3D or JSON's "code": "...",
 * so that "exit code: 78" and {"code": 400} stay readable.
 */
static bool
pair_at(const char *s, size_t k, size_t n, struct pair *p)
{
	enum key kind = key_kind(s + k, n);
	size_t j = k + n, vq;
	bool quoted_key = k > 0 && (s[k - 1] == '"' || s[k - 1] == '\'' ||
	    (k >= 3 && pct_at(s, k - 3) == '"'));
	bool spaced;
	enum sep sep;

	if (kind == KEY_NONE)
		return false;
	if (quoted_key)
		j += quote_at(s, j);
	if ((sep = sep_at(s, &j, &spaced)) == SEP_NONE)
		return false;
	vq = quote_at(s, j);
	if (kind == KEY_CODE && (sep == SEP_COLON ? !quoted_key || vq == 0 :
	    spaced))
		return false;
	p->value = j + vq;
	p->quoted = vq > 0;
	if (vq > 0) {
		p->end = quoted_end(s, p->value, vq);
		return true;
	}
	p->end = bare_end(s, p->value, sep == SEP_COLON || spaced,
	    kind == KEY_LINE);
	return true;
}

static size_t
secret_prefix_at(const char *s, size_t k)
{
	for (size_t i = 0; i < nitems(secret_prefixes); i++) {
		size_t pl = strlen(secret_prefixes[i]);

		if (strncasecmp(s + k, secret_prefixes[i], pl) == 0 &&
		    !compact_end(s, k + pl))
			return pl;
	}
	return 0;
}

static size_t
word_len(const char *s, size_t k)
{
	size_t n = 0;

	while (is_word_char(s[k + n]))
		n++;
	return n;
}

/*
 * A bare value that holds a secret key of its own ("password: Cookie: a=1;
 * b=x", "ya29.x{token: y") is masked as far as that key's value goes, or
 * the inner value would come out after the outer one's end.
 */
static void
extend_over_nested(const char *s, struct pair *p)
{
	struct pair q;
	size_t n;

	for (size_t j = p->value; j < p->end; j++) {
		if (!at_boundary(s, j) || (n = word_len(s, j)) == 0)
			continue;
		if (pair_at(s, j, n, &q) && q.end > p->end)
			p->end = q.end;
		j += n - 1;
	}
}

/* Whether s[j] is c, %XX-encoded when enc, or plain. */
static bool
uri_char_at(const char *s, size_t j, char c, bool enc)
{
	return enc ? pct_at(s, j) == (unsigned char)c : s[j] == c;
}

/* Where an authority ends: at its path, query or fragment, or the text's. */
static bool
authority_end(const char *s, size_t j, bool enc)
{
	if (s[j] == '\0' || isspace((unsigned char)s[j]) || quote_at(s, j) > 0 ||
	    s[j] == '<' || s[j] == '>')
		return true;
	if (enc && compact_end(s, j))
		return true;	/* a URL carried in a query ends with its value */
	return uri_char_at(s, j, '/', enc) || uri_char_at(s, j, '?', enc) ||
	    uri_char_at(s, j, '#', enc);
}

/*
 * The password of scheme://user:password@host (the separators plain, or
 * all %XX-encoded as in a URL carried in a query), in *p.  It runs to the
 * authority's last '@': a password with a raw '@' in it is a common slip.
 */
static bool
userinfo_at(const char *s, size_t k, struct pair *p)
{
	size_t j = k, colon = 0, at = 0;
	bool enc;

	if (!isalpha((unsigned char)s[j]))
		return false;
	while (isalnum((unsigned char)s[j]) || s[j] == '+' || s[j] == '-' ||
	    s[j] == '.')
		j++;
	enc = s[j] == '%';
	if (!uri_char_at(s, j, ':', enc))
		return false;
	j += enc ? 3 : 1;
	for (int i = 0; i < 2; i++, j += enc ? 3 : 1)
		if (!uri_char_at(s, j, '/', enc))
			return false;
	for (; !authority_end(s, j, enc); j += pct_at(s, j) != -1 ? 3 : 1) {
		if (uri_char_at(s, j, '@', enc)) {
			if (colon == 0)
				return false;	/* user@host: no password */
			at = j;
		} else if (colon == 0 && uri_char_at(s, j, ':', enc))
			colon = j + (enc ? 3 : 1);
	}
	p->value = colon;
	p->end = at;
	p->quoted = false;
	return at > colon;
}

/* One character: a UTF-8 sequence whole, else a byte. */
static size_t
copy_char(struct out *o, const char *s, size_t k)
{
	size_t l = utf8_len((const unsigned char *)s + k);

	if (l == 0)
		l = 1;
	out_text(o, s + k, l);
	return k + l;
}

/* Handles what starts at s[k]; where to go on. */
static size_t
redact_at(struct out *o, const char *s, size_t k)
{
	struct pair p;
	size_t n = 0, pl;

	if (!at_boundary(s, k))
		return copy_char(o, s, k);
	if (userinfo_at(s, k, &p)) {
		out_text(o, s + k, p.value - k);
		out_put(o, MASK, sizeof MASK - 1);
		return p.end;
	}
	if ((pl = secret_prefix_at(s, k)) > 0) {
		p.value = k + pl;
		p.end = bare_end(s, p.value, false, false);
		extend_over_nested(s, &p);
		out_text(o, s + k, pl);
		out_put(o, MASK, sizeof MASK - 1);
		return p.end;
	}
	if ((n = word_len(s, k)) == 0)
		return copy_char(o, s, k);
	if (pair_at(s, k, n, &p) && p.end > p.value) {
		if (!p.quoted)
			extend_over_nested(s, &p);
		out_text(o, s + k, p.value - k);
		out_put(o, MASK, sizeof MASK - 1);
		return p.end;
	}
	out_text(o, s + k, n);
	return k + n;
}

/* Drops half a UTF-8 sequence left at the end by a cut. */
static void
trim_partial_utf8(struct out *o)
{
	size_t l = o->len, want;
	unsigned char lead;

	while (l > 0 && o->len - l < 4 &&
	    ((unsigned char)o->buf[l - 1] & 0xc0) == 0x80)
		l--;
	if (l == 0 || (lead = (unsigned char)o->buf[l - 1]) < 0xc0)
		return;
	want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (o->len - (l - 1) < want)
		o->len = l - 1;
}

static char *
redact(const char *s, bool escape)
{
	struct out o = { .escape = escape };
	size_t k = 0, len = strnlen(s, INPUT_MAX + 1);
	char *in = xstrndup(s, INPUT_MAX);

	o.buf = xmalloc(LOG_REDACT_MAX + 1);
	o.cap = LOG_REDACT_MAX - (sizeof TRUNCATED - 1);
	while (in[k] != '\0' && !o.full)
		k = redact_at(&o, in, k);
	secure_free(in, len > INPUT_MAX ? INPUT_MAX : len);
	if (o.full || len > INPUT_MAX) {
		trim_partial_utf8(&o);
		memcpy(o.buf + o.len, TRUNCATED, sizeof TRUNCATED - 1);
		o.len += sizeof TRUNCATED - 1;
	}
	o.buf[o.len] = '\0';
	return o.buf;
}

char *
log_redact(const char *s)
{
	return redact(s, false);
}

char *
log_sanitize(const char *s)
{
	return redact(s, true);
}
