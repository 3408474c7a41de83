/* SPDX-License-Identifier: ISC */
/*
 * json_keep_item_members() (lib/json-keep.c) on arbitrary bytes, against
 * json-c.
 *
 * Checks besides "no crash": the output is NUL-terminated and no longer
 * than the input.  When json_parse_limited() takes the input as an object
 * and it holds no single quote (json-c takes 'strings' even when strict;
 * PostgreSQL does not): the filter takes it too unless items is not an
 * array; its output parses, with the same top-level members and values
 * but items, the same elements of items, each object among them holding
 * only members of the input, and every member the list keeps with its
 * value; and, without a backslash in the input (an escaped key is kept
 * whatever it spells), no other member.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "util.h"

static const char *const keep[] = { "id", "start", "x" };

static bool
listed(const char *key)
{
	for (size_t n = 0; n < nitems(keep); n++)
		if (strcmp(key, keep[n]) == 0)
			return true;
	return false;
}

static void
check_event(json_object *in, json_object *out, bool escapes)
{
	json_object *v;

	if (!json_object_is_type(in, json_type_object)) {
		if (!json_object_equal(in, out))
			abort();
		return;
	}
	if (!json_object_is_type(out, json_type_object))
		abort();
	/* An escaped key spelling a dropped one may outlive a later copy of
	 * it: only the values of kept members must be the input's. */
	json_object_object_foreach(out, key, val) {
		if (!json_object_object_get_ex(in, key, &v) ||
		    (listed(key) && !json_object_equal(v, val)) ||
		    (!escapes && !listed(key)))
			abort();
	}
	json_object_object_foreach(in, ikey, ival) {
		if (listed(ikey) && (!json_object_object_get_ex(out, ikey, &v) ||
		    !json_object_equal(v, ival)))
			abort();
	}
}

static void
check_page(json_object *in, json_object *out, bool escapes)
{
	json_object *v;
	size_t n;

	if (!json_object_is_type(out, json_type_object) ||
	    json_object_object_length(in) != json_object_object_length(out))
		abort();
	json_object_object_foreach(in, key, val) {
		if (!json_object_object_get_ex(out, key, &v))
			abort();
		if (strcmp(key, "items") != 0 || !json_object_is_type(val,
		    json_type_array)) {
			if (!json_object_equal(v, val))
				abort();
			continue;
		}
		if (!json_object_is_type(v, json_type_array) ||
		    (n = json_object_array_length(val)) !=
		    json_object_array_length(v))
			abort();
		for (size_t i = 0; i < n; i++)
			check_event(json_object_array_get_idx(val, i),
			    json_object_array_get_idx(v, i), escapes);
	}
}

/* Whether the filter may refuse a document json-c takes as doc. */
static bool
may_refuse(json_object *doc, const char *buf, size_t size)
{
	json_object *items;
	const char *p = memmem(buf, size, "\"items\"", 7);

	/* The scan refuses an items that is not an array, whichever of two
	 * json-c keeps. */
	if (p != NULL && memmem(p + 1, size - (size_t)(p + 1 - buf),
	    "\"items\"", 7) != NULL)
		return true;
	return json_object_object_get_ex(doc, "items", &items) &&
	    !json_object_is_type(items, json_type_array);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	json_object *doc, *got;
	char *out;
	size_t out_len;
	int r;

	r = json_keep_item_members(buf, size, "items", keep, nitems(keep),
	    &out, &out_len);
	if (r == 0 && (out_len > size || strlen(out) != out_len))
		abort();
	doc = json_parse_limited(buf, size, size, 63, NULL);
	if (json_object_is_type(doc, json_type_object) &&
	    memchr(buf, '\'', size) == NULL) {
		if (r != 0 && !may_refuse(doc, buf, size))
			abort();
		if (r == 0) {
			got = json_parse_limited(out, out_len, out_len, 63, NULL);
			if (got == NULL)
				abort();
			check_page(doc, got, memchr(buf, '\\', size) != NULL);
			json_object_put(got);
		}
	}
	json_object_put(doc);
	free(out);
	return 0;
}
