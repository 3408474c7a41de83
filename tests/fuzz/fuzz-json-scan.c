/* SPDX-License-Identifier: ISC */
/*
 * json_scan_members() (lib/json.c) on arbitrary bytes, against json-c.
 *
 * Checks besides "no crash": every span found lies inside the input; when
 * json_parse_limited() takes the input as an object and it holds no single
 * quote (json-c takes 'strings' even when strict; PostgreSQL does not),
 * the scan takes it too; and, when it holds no backslash either (the scan
 * compares keys as written), it finds exactly the keys json-c has, each
 * with a value (but null) that parses to the same thing.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "util.h"

static const char *const keys[] = { "nextPageToken", "nextSyncToken", "items" };

static void
check_span(const struct json_span *v, const char *buf, size_t len)
{
	if (v->p != NULL && (v->p < buf || v->len > len ||
	    (size_t)(v->p - buf) > len - v->len))
		abort();
}

static void
check_against(json_object *doc, const struct json_span *v)
{
	json_object *want, *got;

	for (size_t n = 0; n < nitems(keys); n++) {
		if (!json_object_object_get_ex(doc, keys[n], &want)) {
			if (v[n].p != NULL)
				abort();
			continue;
		}
		if (v[n].p == NULL)
			abort();
		/* A null alone is NULL with a cause, as a failure is. */
		if (want == NULL)
			continue;
		got = json_parse_limited(v[n].p, v[n].len, v[n].len, 64, NULL);
		if (got == NULL || !json_object_equal(got, want))
			abort();
		json_object_put(got);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct json_span v[nitems(keys)];
	json_object *doc;
	int r;

	r = json_scan_members(buf, size, keys, v, nitems(keys));
	for (size_t n = 0; n < nitems(keys); n++)
		check_span(&v[n], buf, size);
	doc = json_parse_limited(buf, size, size, 63, NULL);
	if (json_object_is_type(doc, json_type_object) &&
	    memchr(buf, '\'', size) == NULL) {
		if (r != 0)
			abort();
		if (memchr(buf, '\\', size) == NULL)
			check_against(doc, v);
	}
	json_object_put(doc);
	return 0;
}
