/* SPDX-License-Identifier: ISC */
/*
 * json_columns_read(): the members of each object of a document's array
 * member, read out as columns of text, each a PostgreSQL text[] in the
 * binary format array_recv() takes, so that PostgreSQL neither parses the
 * document nor looks its members up (daemon/job-calsync.c,
 * docs/calendar-sync.md "Cost").  One pass over the document with the
 * scanner of lib/json-scan.h.
 *
 * A column's value is what PostgreSQL's jsonb operators would give for
 * the same document: ->> for a scalar column (a string decoded, an integer
 * or a boolean as written, null or absent as NULL), -> as text for a JSON
 * column (the value as written; absent as NULL).  Where this reading could
 * differ from theirs, it refuses the document instead, and the caller
 * hands the document to PostgreSQL as it is: a scalar column holding an
 * object, an array or a number that is not an integer; a key with an
 * escape where a column's member is looked for; a string PostgreSQL would
 * not take (\u0000, a lone surrogate, a control character); the array
 * member twice.  Duplicate keys otherwise resolve as jsonb resolves them:
 * the last one counts.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json-scan.h"
#include "strbuf.h"
#include "utf8.h"
#include "util.h"

#define TEXTOID 25
#define ARRAY_HEADER 20		/* ndim, flags, element type, size, lower bound */
#define ARRAY_MAX (1024 * 1024 * 1023)	/* under PostgreSQL's 1 GB */

/* A value found for a column in the object being read: NULL p for none. */
struct found {
	const char *p;
	size_t len;
};

struct reader {
	const char *buf;
	size_t len;
	const struct json_column *cols;
	size_t ncols;
	struct found *found;	/* ncols, for the current object */
	struct json_columns *out;
	bool *nulls;		/* ncols: any NULL element yet */
	/* ncols * JSON_COLUMN_DEPTH: the length of each member name of each
	 * column's path, SIZE_MAX past its end (compared for every member of
	 * every event: a strncmp each was a third of the cost). */
	size_t *name_len;
	size_t max_rows;
	bool too_many;		/* items held more than max_rows elements */
};

static bool
key_is(const struct json_span *key, const char *s)
{
	return s != NULL && strncmp(key->p, s, key->len) == 0 &&
	    s[key->len] == '\0';
}

/* Whether key is member d of column c's path. */
static bool
key_at(const struct reader *r, const struct json_span *key, size_t c,
    size_t d)
{
	return r->name_len[c * JSON_COLUMN_DEPTH + d] == key->len &&
	    memcmp(key->p, r->cols[c].path[d], key->len) == 0;
}

/*
 * The members of the object at buf[i] that columns look for at depth
 * (the members prefix[0..depth-1] led here).  The index past the object,
 * or SIZE_MAX: it does not scan, or a key has an escape where a column's
 * member could be.
 */
static size_t
read_object(struct reader *r, size_t i, struct json_span *prefix, size_t depth)
{
	struct json_span key;
	size_t end;
	bool any, deeper, escaped;

	i = jscan_ws(r->buf, r->len, i + 1);
	while (i < r->len && r->buf[i] != '}') {
		if (jscan_key(r->buf, r->len, &i, &key) == -1)
			return SIZE_MAX;
		if ((end = jscan_value(r->buf, r->len, i)) == SIZE_MAX ||
		    end == i)
			return SIZE_MAX;
		any = deeper = false;
		escaped = memchr(key.p, '\\', key.len) != NULL;
		for (size_t c = 0; c < r->ncols; c++) {
			bool here = true;

			for (size_t d = 0; d < depth && here; d++)
				here = key_at(r, &prefix[d], c, d);
			if (!here || r->cols[c].path[depth] == NULL)
				continue;
			if (escaped)
				return SIZE_MAX;	/* it may spell one */
			if (!key_at(r, &key, c, depth))
				continue;
			/* A later duplicate replaces all an earlier one gave. */
			any = true;
			r->found[c].p = NULL;
			if (r->cols[c].path[depth + 1] != NULL)
				deeper = true;
			else {
				r->found[c].p = r->buf + i;
				r->found[c].len = end - i;
			}
		}
		/* A member that is not an object has no members: NULL, as
		 * jsonb's -> gives for it. */
		if (any && deeper && r->buf[i] == '{') {
			prefix[depth] = key;
			if (depth + 1 >= JSON_COLUMN_DEPTH ||
			    read_object(r, i, prefix, depth + 1) != end)
				return SIZE_MAX;
		}
		if ((i = jscan_next(r->buf, r->len, end, '}', true)) == SIZE_MAX)
			return SIZE_MAX;
	}
	return i < r->len ? i + 1 : SIZE_MAX;
}

static int
hex4(const char *p, unsigned long *cp)
{
	*cp = 0;
	for (int n = 0; n < 4; n++) {
		int c = (unsigned char)p[n], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		*cp = *cp << 4 | (unsigned long)v;
	}
	return 0;
}

/*
 * The string of len bytes at p (quotes included) decoded onto b, as
 * jsonb decodes it; -1 for what PostgreSQL refuses in a string.
 */
static int
decode_string(struct strbuf *b, const char *p, size_t len)
{
	const char *end = p + len - 1;
	unsigned long cp, lo;

	for (p++; p < end; p++) {
		const char *run = p;

		while (p < end && *p != '\\' && (unsigned char)*p >= 0x20)
			p++;
		strbuf_add(b, run, (size_t)(p - run));
		if (p == end)
			break;
		if ((unsigned char)*p < 0x20 || ++p >= end)
			return -1;
		switch (*p) {
		case '"': case '\\': case '/':
			strbuf_addc(b, *p);
			continue;
		case 'b': strbuf_addc(b, '\b'); continue;
		case 'f': strbuf_addc(b, '\f'); continue;
		case 'n': strbuf_addc(b, '\n'); continue;
		case 'r': strbuf_addc(b, '\r'); continue;
		case 't': strbuf_addc(b, '\t'); continue;
		case 'u': break;
		default: return -1;
		}
		if (end - p < 5 || hex4(p + 1, &cp) == -1 || cp == 0)
			return -1;
		p += 4;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return -1;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - p < 7 || p[1] != '\\' || p[2] != 'u' ||
			    hex4(p + 3, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
				return -1;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		utf8_put(b, cp);
	}
	return 0;
}

/* An integer as JSON writes one, but -0 (jsonb gives "0" for it). */
static bool
integer(const char *p, size_t len)
{
	size_t i = p[0] == '-';

	if (i == len || (p[i] == '0' && len > i + 1) ||
	    (p[i] == '0' && i == 1))
		return false;
	for (; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/*
 * Appends one element for column c: its length and bytes, or -1 as the
 * length of a NULL.  -1 when the value is not one this reading can give.
 */
static int
put_value(struct reader *r, size_t c, const struct found *f)
{
	struct strbuf *b = &r->out->cols[c];
	size_t at = b->len;

	strbuf_reserve(b, 4);
	b->len += 4;
	if (f->p == NULL || (!r->cols[c].json &&
	    f->len == 4 && memcmp(f->p, "null", 4) == 0)) {
		put_be32((unsigned char *)b->p + at, UINT32_MAX);
		r->nulls[c] = true;
		return 0;
	}
	if (r->cols[c].json || (f->len == 4 && memcmp(f->p, "true", 4) == 0) ||
	    (f->len == 5 && memcmp(f->p, "false", 5) == 0) ||
	    integer(f->p, f->len))
		strbuf_add(b, f->p, f->len);
	else if (f->p[0] != '"' || decode_string(b, f->p, f->len) == -1)
		return -1;
	if (b->len > ARRAY_MAX)
		return -1;
	put_be32((unsigned char *)b->p + at, (uint32_t)(b->len - at - 4));
	return 0;
}

/* The elements of items at buf[i], a row each.  The index past the
 * array, or SIZE_MAX. */
static size_t
read_items(struct reader *r, size_t i)
{
	struct json_span prefix[JSON_COLUMN_DEPTH];
	size_t end;

	if (i >= r->len || r->buf[i] != '[')
		return SIZE_MAX;
	i = jscan_ws(r->buf, r->len, i + 1);
	while (i < r->len && r->buf[i] != ']') {
		memset(r->found, 0, r->ncols * sizeof *r->found);
		if (r->buf[i] == '{')
			end = read_object(r, i, prefix, 0);
		else	/* not an event: a row of NULLs, refused by the SQL */
			end = jscan_value(r->buf, r->len, i);
		if (end == SIZE_MAX || end == i)
			return SIZE_MAX;
		for (size_t c = 0; c < r->ncols; c++)
			if (put_value(r, c, &r->found[c]) == -1)
				return SIZE_MAX;
		if (++r->out->rows > r->max_rows) {
			r->too_many = true;
			return SIZE_MAX;
		}
		if ((i = jscan_next(r->buf, r->len, end, ']', true)) == SIZE_MAX)
			return SIZE_MAX;
	}
	return i < r->len ? i + 1 : SIZE_MAX;
}

/* The top-level member whose value is at buf[i]: items, a scalar asked
 * for, or neither.  The index past its value, or SIZE_MAX. */
static size_t
read_top_member(struct reader *r, const struct json_span *key, size_t i,
    const char *items_key, bool *items_seen, const char *const *top_keys,
    size_t ntop)
{
	struct strbuf b = STRBUF_INIT;
	size_t end;

	if (memchr(key->p, '\\', key->len) != NULL)
		return SIZE_MAX;
	if (key_is(key, items_key)) {
		if (*items_seen)
			return SIZE_MAX;
		*items_seen = true;
		return read_items(r, i);
	}
	if ((end = jscan_value(r->buf, r->len, i)) == SIZE_MAX || end == i)
		return SIZE_MAX;
	for (size_t n = 0; n < ntop; n++) {
		if (!key_is(key, top_keys[n]))
			continue;
		if (r->out->top_present[n])
			return SIZE_MAX;	/* which would jsonb keep? the last */
		r->out->top_present[n] = true;
		if (end - i == 4 && memcmp(r->buf + i, "null", 4) == 0)
			break;
		if (r->buf[i] != '"' || decode_string(&b, r->buf + i,
		    end - i) == -1) {
			strbuf_free(&b);
			return SIZE_MAX;
		}
		r->out->top[n] = strbuf_take(&b, NULL);
		break;
	}
	return end;
}

/* Writes each column's array header in the room left for it. */
static void
finish_arrays(struct reader *r)
{
	for (size_t c = 0; c < r->ncols; c++) {
		unsigned char *h = (unsigned char *)r->out->cols[c].p;

		put_be32(h, 1);
		put_be32(h + 4, r->nulls[c]);
		put_be32(h + 8, TEXTOID);
		put_be32(h + 12, (uint32_t)r->out->rows);
		put_be32(h + 16, 1);
	}
}

int
json_columns_read(struct json_columns *out, const char *buf, size_t len,
    const char *items_key, size_t max_rows, const struct json_column *cols,
    size_t ncols, const char *const *top_keys, size_t ntop)
{
	struct reader r = { buf, len, cols, ncols, NULL, out, NULL, NULL,
	    max_rows < INT32_MAX ? max_rows : INT32_MAX, false };
	struct json_span key;
	bool items_seen = false;
	size_t i, end;

	memset(out, 0, sizeof *out);
	out->ncols = ncols;
	out->cols = xcalloc(ncols > 0 ? ncols : 1, sizeof *out->cols);
	out->ntop = ntop;
	out->top = xcalloc(ntop > 0 ? ntop : 1, sizeof *out->top);
	out->top_present = xcalloc(ntop > 0 ? ntop : 1,
	    sizeof *out->top_present);
	for (size_t c = 0; c < ncols; c++) {
		strbuf_reserve(&out->cols[c], ARRAY_HEADER);
		out->cols[c].len = ARRAY_HEADER;
	}
	if (memchr(buf, '\0', len) != NULL)
		goto refuse;
	r.found = xcalloc(ncols > 0 ? ncols : 1, sizeof *r.found);
	r.nulls = xcalloc(ncols > 0 ? ncols : 1, sizeof *r.nulls);
	r.name_len = xcalloc(ncols * JSON_COLUMN_DEPTH + 1, sizeof *r.name_len);
	for (size_t c = 0; c < ncols; c++)
		for (size_t d = 0; d < JSON_COLUMN_DEPTH; d++)
			r.name_len[c * JSON_COLUMN_DEPTH + d] =
			    cols[c].path[d] != NULL ? strlen(cols[c].path[d]) :
			    SIZE_MAX;
	i = jscan_ws(buf, len, 0);
	if (i >= len || buf[i] != '{')
		goto refuse;
	i = jscan_ws(buf, len, i + 1);
	while (i < len && buf[i] != '}') {
		if (jscan_key(buf, len, &i, &key) == -1 ||
		    (end = read_top_member(&r, &key, i, items_key, &items_seen,
		    top_keys, ntop)) == SIZE_MAX ||
		    (i = jscan_next(buf, len, end, '}', true)) == SIZE_MAX)
			goto refuse;
	}
	if (i >= len || jscan_ws(buf, len, i + 1) != len)
		goto refuse;
	finish_arrays(&r);
	free(r.found);
	free(r.nulls);
	free(r.name_len);
	return 0;
refuse:
	free(r.found);
	free(r.nulls);
	free(r.name_len);
	json_columns_clear(out);
	return r.too_many ? -2 : -1;
}

void
json_columns_clear(struct json_columns *c)
{
	if (c->cols != NULL)
		for (size_t n = 0; n < c->ncols; n++)
			strbuf_free(&c->cols[n]);
	if (c->top != NULL)
		for (size_t n = 0; n < c->ntop; n++)
			free(c->top[n]);
	free(c->cols);
	free(c->top);
	free(c->top_present);
	memset(c, 0, sizeof *c);
}
