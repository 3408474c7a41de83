/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "mimeparam.h"
#include "rfc2047.h"
#include "strbuf.h"

struct param {
	const char *attr, *val;
	size_t alen, vlen;
};

struct section {
	const char *val;
	size_t vlen;
	bool ext, present;
};

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t
mimeparam_value(const char *s, size_t len, const char **v)
{
	size_t from = 0, to;

	while (from < len && blank(s[from]))
		from++;
	for (to = from; to < len && s[to] != ';'; to++)
		;
	while (to > from && blank(s[to - 1]))
		to--;
	*v = s + from;
	return to - from;
}

/* The next attribute=value at or after *i (past the header's value). */
static bool
next_param(const char *s, size_t len, size_t *i, struct param *p)
{
	size_t k = *i;

	while (k < len && (blank(s[k]) || s[k] == ';'))
		k++;
	if (k >= len)
		return false;
	p->attr = s + k;
	while (k < len && s[k] != '=' && s[k] != ';' && !blank(s[k]))
		k++;
	p->alen = (size_t)(s + k - p->attr);
	while (k < len && blank(s[k]))
		k++;
	p->val = s + k, p->vlen = 0;
	if (k < len && s[k] == '=') {
		k++;
		while (k < len && blank(s[k]))
			k++;
		p->val = s + k;
		if (k < len && s[k] == '"') {
			for (k++; k < len && s[k] != '"'; k++)
				if (s[k] == '\\')
					k++;
			k = k < len ? k + 1 : len;
		} else
			while (k < len && s[k] != ';' && !blank(s[k]))
				k++;
		p->vlen = (size_t)(s + k - p->val);
	}
	while (k < len && s[k] != ';')
		k++;	/* junk after the value */
	*i = k;
	return true;
}

static void
unquote(const char *v, size_t len, struct strbuf *out)
{
	if (len == 0 || v[0] != '"') {
		strbuf_add(out, v, len);
		return;
	}
	for (size_t i = 1; i < len && v[i] != '"'; i++) {
		if (v[i] == '\\' && i + 1 < len)
			i++;
		strbuf_addc(out, v[i]);
	}
}

static void
percent_decode(const char *v, size_t len, struct strbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (v[i] == '%' && i + 2 < len &&
		    (hi = hex_value(v[i + 1])) >= 0 && (lo = hex_value(v[i + 2])) >= 0) {
			strbuf_addc(out, (char)(hi << 4 | lo));
			i += 2;
		} else
			strbuf_addc(out, v[i]);
	}
}

/*
 * Which section of name attr names: -1 when none, else its number, with
 * *ext when it is extended.  "name" alone is -2.
 */
static int
section_of(const struct param *p, const char *name, bool *ext)
{
	size_t n = strlen(name), k;
	int num = 0;

	if (p->alen < n || strncasecmp(p->attr, name, n) != 0)
		return -1;
	if (p->alen == n)
		return -2;
	if (p->attr[n] != '*')
		return -1;
	*ext = p->attr[p->alen - 1] == '*';
	if (p->alen == n + 1)
		return 0;	/* name*= */
	for (k = n + 1; k < p->alen && isdigit((unsigned char)p->attr[k]); k++)
		if ((num = num * 10 + (p->attr[k] - '0')) >= MIMEPARAM_MAX_SECTIONS)
			return -1;
	if (k == n + 1 || k != p->alen - (*ext ? 1 : 0))
		return -1;
	return num;
}

/* Joins the sections: the first extended one names the charset. */
static void
join_sections(const struct section *sec, struct strbuf *out,
    struct charset_counts *c)
{
	struct strbuf bytes = STRBUF_INIT;
	const char *cs = NULL, *q1, *q2, *v;
	size_t clen = 0, vlen;

	for (int k = 0; k < MIMEPARAM_MAX_SECTIONS && sec[k].present; k++) {
		v = sec[k].val, vlen = sec[k].vlen;
		if (!sec[k].ext) {
			unquote(v, vlen, &bytes);
			continue;
		}
		if (k == 0 && (q1 = memchr(v, '\'', vlen)) != NULL &&
		    (q2 = memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - v))) != NULL) {
			cs = v, clen = (size_t)(q1 - v);
			vlen -= (size_t)(q2 + 1 - v);
			v = q2 + 1;
		}
		percent_decode(v, vlen, &bytes);
	}
	charset_append_utf8(cs, clen, bytes.p != NULL ? bytes.p : "", bytes.len,
	    out, c);
	strbuf_free(&bytes);
}

bool
mimeparam_get(const char *s, size_t len, const char *name, struct strbuf *out,
    struct charset_counts *c)
{
	struct section sec[MIMEPARAM_MAX_SECTIONS] = {{NULL, 0, false, false}};
	struct param p, plain = {NULL, NULL, 0, 0};
	struct strbuf tmp = STRBUF_INIT;
	const char *semi = memchr(s, ';', len);
	size_t i = semi != NULL ? (size_t)(semi - s) : len;
	bool ext = false;
	int n;

	while (next_param(s, len, &i, &p)) {
		if ((n = section_of(&p, name, &ext)) == -2)
			plain = p;
		else if (n >= 0)
			sec[n] = (struct section){p.val, p.vlen, ext, true};
	}
	if (sec[0].present) {
		join_sections(sec, out, c);
		return true;
	}
	if (plain.attr == NULL)
		return false;
	unquote(plain.val, plain.vlen, &tmp);
	rfc2047_decode(tmp.p != NULL ? tmp.p : "", tmp.len, out, c);
	strbuf_free(&tmp);
	return true;
}

bool
mimeparam_raw(const char *s, size_t len, const char *name, struct strbuf *out)
{
	const char *semi = memchr(s, ';', len);
	size_t i = semi != NULL ? (size_t)(semi - s) : len;
	struct param p;
	bool ext, found = false;

	while (next_param(s, len, &i, &p))
		if (section_of(&p, name, &ext) == -2) {
			strbuf_reset(out);
			unquote(p.val, p.vlen, out);
			found = true;
		}
	return found;
}
