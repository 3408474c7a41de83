/* SPDX-License-Identifier: ISC */
/*
 * json_columns_read() (lib/json-columns.c) on arbitrary bytes, against
 * json-c.
 *
 * Checks besides "no crash": a refusal leaves nothing behind; every array
 * read is well formed (header, one element per row, lengths inside it).
 * When json_parse_limited() takes the input as an object and it holds no
 * single quote (json-c takes 'strings' even when strict; PostgreSQL does
 * not) and the reading takes it too: one row per element of items, and
 * each value json-c's: a string decoded to the same bytes, an integer or
 * a boolean as written, null or absent as NULL, a JSON column parsing to
 * the same value; the top-level strings the same.  A refusal for more
 * than MAX_ROWS elements comes only for a document with that many, when
 * json-c reads it.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "util.h"

static const struct json_column cols[] = {
	{ { "id" }, false },
	{ { "s", "t" }, false },
	{ { "x", "y", "z" }, false },
	{ { "a" }, true },
};
static const char *const top[] = { "n", "p" };
#define MAX_ROWS 8

static uint32_t
be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | u[3];
}

/* The elements of an array read, checked: ptr/len pairs, len SIZE_MAX
 * for NULL (the caller frees). */
static struct json_span *
elements(const struct strbuf *b, size_t rows)
{
	struct json_span *e = xcalloc(rows + 1, sizeof *e);
	const char *p = b->p, *end = b->p + b->len;

	if (b->len < 20 || be32(p) != 1 || be32(p + 4) > 1 ||
	    be32(p + 8) != 25 || be32(p + 12) != rows || be32(p + 16) != 1)
		abort();
	p += 20;
	for (size_t r = 0; r < rows; r++) {
		uint32_t n;

		if (end - p < 4)
			abort();
		n = be32(p);
		p += 4;
		if (n == UINT32_MAX) {
			e[r].len = SIZE_MAX;
			continue;
		}
		if ((size_t)(end - p) < n)
			abort();
		e[r].p = p;
		e[r].len = n;
		p += n;
	}
	if (p != end)
		abort();
	return e;
}

/*
 * Whether item has the member column c names, and it in *v (NULL for a
 * JSON null, as json-c has it).  A member under one that is not an
 * object is not there.
 */
static bool
member(json_object *item, const struct json_column *c, json_object **v)
{
	*v = item;
	for (size_t d = 0; c->path[d] != NULL; d++)
		if (!json_object_is_type(*v, json_type_object) ||
		    !json_object_object_get_ex(*v, c->path[d], v))
			return false;
	return true;
}

/* Whether e is an integer as JSON writes one. */
static bool
integer(const struct json_span *e)
{
	size_t i = e->len > 0 && e->p[0] == '-';

	if (i == e->len)
		return false;
	for (; i < e->len; i++)
		if (e->p[i] < '0' || e->p[i] > '9')
			return false;
	return true;
}

static void
check_value(bool there, json_object *v, const struct json_column *c,
    const struct json_span *e)
{
	const char *s;
	json_object *got;

	if (!there || (!c->json && v == NULL)) {
		if (e->len != SIZE_MAX)
			abort();
		return;
	}
	if (e->len == SIZE_MAX)
		abort();
	if (c->json) {
		got = json_parse_limited(e->p, e->len, e->len, 63, NULL);
		if ((got == NULL) != (v == NULL) || !json_object_equal(got, v))
			abort();
		json_object_put(got);
		return;
	}
	switch (json_object_get_type(v)) {
	case json_type_string:
		s = json_object_get_string(v);
		if ((size_t)json_object_get_string_len(v) != e->len ||
		    memcmp(s, e->p, e->len) != 0)
			abort();
		break;
	case json_type_boolean:
		s = json_object_get_boolean(v) ? "true" : "false";
		if (strlen(s) != e->len || memcmp(s, e->p, e->len) != 0)
			abort();
		break;
	case json_type_int:
	case json_type_double:	/* one too large for json-c's int64 */
		if (!integer(e))
			abort();
		break;
	default:
		abort();	/* the reading takes no other */
	}
}

static void
check_doc(json_object *doc, const struct json_columns *jc)
{
	json_object *items = NULL, *v;
	size_t n = 0;

	if (json_object_object_get_ex(doc, "items", &items))
		n = json_object_array_length(items);
	if (jc->rows != n)
		abort();
	for (size_t c = 0; c < nitems(cols); c++) {
		struct json_span *e = elements(&jc->cols[c], jc->rows);

		for (size_t r = 0; r < n; r++) {
			bool there = member(json_object_array_get_idx(items,
			    r), &cols[c], &v);

			check_value(there, v, &cols[c], &e[r]);
		}
		free(e);
	}
	for (size_t t = 0; t < nitems(top); t++) {
		bool there = json_object_object_get_ex(doc, top[t], &v);

		if (there != jc->top_present[t] ||
		    (there && json_object_is_type(v, json_type_string) !=
		    (jc->top[t] != NULL)) ||
		    (jc->top[t] != NULL &&
		    strcmp(jc->top[t], json_object_get_string(v)) != 0))
			abort();
	}
}

/* Refused for too many rows: json-c, when it reads the document, finds
 * more than MAX_ROWS of them, unless the document may hold items twice
 * (jsonb and json-c keep the last one; the reading stopped at the first). */
static void
too_many(const char *buf, size_t size)
{
	const char *once = memmem(buf, size, "items", 5);
	json_object *doc, *items;

	if (once == NULL || memchr(buf, '\\', size) != NULL ||
	    memchr(buf, '\'', size) != NULL ||
	    memmem(once + 1, size - (size_t)(once + 1 - buf), "items", 5) != NULL)
		return;
	doc = json_parse_limited(buf, size, size, 63, NULL);
	if (json_object_is_type(doc, json_type_object) &&
	    json_object_object_get_ex(doc, "items", &items) &&
	    json_object_is_type(items, json_type_array) &&
	    json_object_array_length(items) <= MAX_ROWS)
		abort();
	json_object_put(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct json_columns jc;
	json_object *doc;
	int r;

	r = json_columns_read(&jc, buf, size, "items", MAX_ROWS, cols,
	    nitems(cols), top, nitems(top));
	if (r < 0) {
		if (r != -1 && r != -2)
			abort();
		if (jc.cols != NULL || jc.top != NULL || jc.rows != 0)
			abort();
		if (r == -2)
			too_many(buf, size);
		return 0;
	}
	for (size_t c = 0; c < nitems(cols); c++)
		free(elements(&jc.cols[c], jc.rows));
	doc = json_parse_limited(buf, size, size, 63, NULL);
	if (json_object_is_type(doc, json_type_object) &&
	    memchr(buf, '\'', size) == NULL)
		check_doc(doc, &jc);
	json_object_put(doc);
	json_columns_clear(&jc);
	return 0;
}
