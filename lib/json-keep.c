/* SPDX-License-Identifier: ISC */
/*
 * json_keep_item_members(): a page of events.list without the members of
 * each event that Rally never reads, so that PostgreSQL parses a third
 * fewer bytes (daemon/job-calsync.c, docs/calendar-sync.md "Cost").  One
 * pass over the page with the scanner of lib/json-scan.h; the output is
 * written as the input is read, and is never longer.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json-scan.h"
#include "util.h"

struct keep {
	const char *items_key;
	const char *const *keys;
	size_t nkeys;
	char *out;
	size_t n;
};

static void
put(struct keep *k, const char *p, size_t len)
{
	memcpy(k->out + k->n, p, len);
	k->n += len;
}

static bool
same_key(const struct json_span *key, const char *s)
{
	return strncmp(key->p, s, key->len) == 0 && s[key->len] == '\0';
}

/* An escaped key may spell a kept one: only jsonb's decoding can tell. */
static bool
kept(const struct keep *k, const struct json_span *key)
{
	if (memchr(key->p, '\\', key->len) != NULL)
		return true;
	for (size_t n = 0; n < k->nkeys; n++)
		if (same_key(key, k->keys[n]))
			return true;
	return false;
}

static size_t keep_items(struct keep *, const char *, size_t, size_t);

/*
 * The object opening at buf[i], copied to the output: at the top (top),
 * every member, the items member through keep_items(); inside items, the
 * members kept() says.  The index past the object, or SIZE_MAX.
 */
static size_t
keep_object(struct keep *k, const char *buf, size_t len, size_t i, bool top)
{
	struct json_span key;
	bool first = true, items, copy;
	size_t end;

	put(k, "{", 1);
	i = jscan_ws(buf, len, i + 1);
	while (i < len && buf[i] != '}') {
		if (jscan_key(buf, len, &i, &key) == -1)
			return SIZE_MAX;
		items = top && same_key(&key, k->items_key);
		if ((copy = top || kept(k, &key))) {
			if (!first)
				put(k, ",", 1);
			first = false;
			put(k, key.p - 1, key.len + 2);
			put(k, ":", 1);
		}
		if (items)
			end = keep_items(k, buf, len, i);
		else if ((end = jscan_value(buf, len, i)) != SIZE_MAX &&
		    end > i && copy)
			put(k, buf + i, end - i);
		if (end == SIZE_MAX || end == i ||
		    (i = jscan_next(buf, len, end, '}', true)) == SIZE_MAX)
			return SIZE_MAX;
	}
	if (i >= len)
		return SIZE_MAX;
	put(k, "}", 1);
	return i + 1;
}

/* The items array at buf[i]: each object through keep_object(), anything
 * else as written.  The index past the array, or SIZE_MAX. */
static size_t
keep_items(struct keep *k, const char *buf, size_t len, size_t i)
{
	bool first = true;
	size_t end;

	if (i >= len || buf[i] != '[')
		return SIZE_MAX;
	put(k, "[", 1);
	i = jscan_ws(buf, len, i + 1);
	while (i < len && buf[i] != ']') {
		if (!first)
			put(k, ",", 1);
		first = false;
		if (buf[i] == '{')
			end = keep_object(k, buf, len, i, false);
		else if ((end = jscan_value(buf, len, i)) != SIZE_MAX &&
		    end > i)
			put(k, buf + i, end - i);
		if (end == SIZE_MAX || end == i ||
		    (i = jscan_next(buf, len, end, ']', true)) == SIZE_MAX)
			return SIZE_MAX;
	}
	if (i >= len)
		return SIZE_MAX;
	put(k, "]", 1);
	return i + 1;
}

int
json_keep_item_members(const char *buf, size_t len, const char *items_key,
    const char *const *keep, size_t nkeep, char **out, size_t *out_len)
{
	struct keep k = { items_key, keep, nkeep, NULL, 0 };
	size_t i;

	*out = NULL;
	*out_len = 0;
	/* A text parameter ends at a NUL: keep PostgreSQL's view of it. */
	if (memchr(buf, '\0', len) != NULL)
		return -1;
	i = jscan_ws(buf, len, 0);
	if (i >= len || buf[i] != '{')
		return -1;
	k.out = xmalloc(len + 1);
	i = keep_object(&k, buf, len, i, true);
	if (i == SIZE_MAX || jscan_ws(buf, len, i) != len) {
		free(k.out);
		return -1;
	}
	k.out[k.n] = '\0';
	*out = k.out;
	*out_len = k.n;
	return 0;
}
