/* SPDX-License-Identifier: ISC */
/*
 * json: json-c with the limits every document from outside needs (Google's
 * answers, push bodies, files).  A document is parsed whole, strictly, with
 * a cap on its size and nesting, and a few typed getters keep callers from
 * taking a number for a string or a double for an integer.
 */
#ifndef RALLY_JSON_H
#define RALLY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "strbuf.h"

/* The deepest nesting json_parse_limited() can be asked to allow. */
#define JSON_MAX_DEPTH 1024

/*
 * Parses exactly one JSON value from len bytes of buf (whitespace may
 * surround it): NULL with *cause set when buf is longer than max_len, holds
 * a NUL byte, is not strict JSON (json-c's JSON_TOKENER_STRICT) in valid
 * UTF-8 (RFC 3629: no overlong forms or surrogates), has more than
 * max_depth (1..JSON_MAX_DEPTH) arrays and objects nested, has anything
 * after the value, or a number JSON cannot hold (NaN, Infinity, 1e999).
 * The caller json_object_put()s the result.
 */
json_object *json_parse_limited(const char *buf, size_t len, size_t max_len,
    int max_depth, char **cause);

/* The string member key of obj; NULL if obj is not an object, or key is
 * absent or not a string.  Valid as long as obj. */
const char *json_get_string(json_object *, const char *key);
/* The same with the string's length (it may hold NUL bytes as \u0000). */
const char *json_get_string_len(json_object *, const char *key, size_t *len);

/*
 * The integer member key of obj: 0 with *out set, or -1 when obj is not an
 * object, key is absent, or its value is not an integer in
 * INT64_MIN + 1..INT64_MAX (a double, a string or a boolean is not one;
 * INT64_MIN is refused because json-c saturates smaller numbers to it).
 */
int json_get_int64(json_object *, const char *key, int64_t *out);

/* A span of a document: p is NULL when there is none. */
struct json_span {
	const char *p;
	size_t len;
};

/*
 * Finds members of the top-level object of len bytes of buf without
 * building the document: json-c spends tens of milliseconds on a 2.5 MB
 * page of events, this scan about one.  vals[n] gets the raw text of the
 * value of keys[n] (its last occurrence, as jsonb keeps it), or p = NULL.
 * -1 when buf does not scan as one object.  A forecast only: values are
 * not checked, and a key is compared as written (escapes not decoded), so
 * the caller parses a value (json_parse_limited) before using it, and
 * does not rely on a member being absent.
 */
int json_scan_members(const char *buf, size_t len, const char *const *keys,
    struct json_span *vals, size_t nkeys);

/*
 * A copy of the top-level object of len bytes of buf in which each object
 * of the array member items_key keeps only the members whose key (as
 * written: escapes not decoded) is one of keep, and any member whose key
 * holds a backslash (an escaped key may spell a kept one).  Everything
 * else is copied as written: the other top-level members, the elements of
 * items that are not objects, the values of kept members.  Whitespace
 * between tokens is left out; duplicate keys stay, in order.  A document
 * without items_key comes out whole.  0 with *out (NUL-terminated, never
 * longer than len; the caller frees it) and *out_len, or -1 when buf
 * does not scan as one object, items_key is not an array, a comma trails,
 * anything follows the object, or buf holds a NUL byte.  Values are not
 * checked (a malformed dropped one is gone): the caller hands the output
 * to a parser, and the input as it was when this fails.
 */
int json_keep_item_members(const char *buf, size_t len, const char *items_key,
    const char *const *keep, size_t nkeep, char **out, size_t *out_len);

/*
 * Overwrites with zeros, in place, the bytes of every string value in o
 * (recursively through arrays and objects, keys excepted), so that tokens
 * do not linger in freed memory.  Only for an object the caller holds the
 * sole reference to.  NULL is fine.
 */
void json_wipe_strings(json_object *o);
/* json_wipe_strings(o), then json_object_put(o): for token bodies. */
void json_put_wiped(json_object *o);

/* The deepest member a column of json_columns_read() can name. */
#define JSON_COLUMN_DEPTH 3

/* A column: the member path[0] of each item, or path[1] of that, and so
 * on (NULL after the last); json for the value's JSON text as written
 * rather than a scalar's text. */
struct json_column {
	const char *path[JSON_COLUMN_DEPTH + 1];
	bool json;
};

struct json_columns {
	size_t ncols;
	size_t rows;
	/* Each column a text[] as PostgreSQL's array_recv() takes it (a
	 * binary parameter): cols[n].p, cols[n].len bytes. */
	struct strbuf *cols;
	size_t ntop;
	char **top;		/* decoded, NULL when absent or null */
	bool *top_present;	/* the member is there, if only as null */
};

/*
 * Reads the top-level object of len bytes of buf: one row per element of
 * its array member items_key (none when it has none; -2, *out empty, when
 * it has more than max_rows, which bounds the memory a hostile document
 * of small elements could take: 4 bytes per column per row), the value of each
 * of cols in the element, as PostgreSQL's jsonb operators would give it
 * (->> for a scalar: a string decoded, an integer or boolean as written,
 * null as NULL; -> as written for a json column; an absent member or an
 * element that is not an object gives NULL), and the string members
 * top_keys of the object itself.  0, or -1 (*out empty) when buf does not
 * scan, holds a NUL byte, or holds something this reading could give
 * otherwise than jsonb: a scalar column holding an object, an array or a
 * number that is not an integer (or -0), a string jsonb refuses (\u0000,
 * a lone surrogate, a control character, an unknown escape), a key with
 * an escape where a column's member could be, items_key twice or not an
 * array, a top key twice or not a string.  Values the reading passes on
 * whole (json columns, UTF-8) are PostgreSQL's to check.
 * json_columns_clear() frees *out.
 */
int json_columns_read(struct json_columns *out, const char *buf, size_t len,
    const char *items_key, size_t max_rows, const struct json_column *cols,
    size_t ncols, const char *const *top_keys, size_t ntop);
void json_columns_clear(struct json_columns *);

#endif
