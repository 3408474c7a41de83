/* SPDX-License-Identifier: ISC */
/*
 * json_columns_read() (lib/json-columns.c): what it reads out of a page of
 * events, as the binary text[]s PostgreSQL takes, and what it refuses.
 * The same pages through PostgreSQL's own jsonb reading are compared in
 * tests/integration/test_calendar_filter.py.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "tap.h"
#include "util.h"

static const struct json_column cols[] = {
	{ { "id" }, false },
	{ { "summary" }, false },
	{ { "start", "dateTime" }, false },
	{ { "start", "date" }, false },
	{ { "attendees" }, true },
	{ { "sequence" }, false },
	{ { "extendedProperties", "private", "rallyActivityId" }, false },
};
enum { C_ID, C_SUMMARY, C_START_TIME, C_START_DAY, C_ATTENDEES, C_SEQUENCE,
	C_RALLY_ID, NCOLS };
static const char *const top[] = { "nextSyncToken", "nextPageToken" };
#define MAX_ROWS 2500		/* Google's largest page */

static uint32_t
be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | u[3];
}

/*
 * Element row of column c as a string ("NULL" for a NULL), checking the
 * array's header on the way; a static buffer.
 */
static const char *
cell(const struct json_columns *jc, size_t c, size_t row)
{
	static char out[4096];
	const char *p = jc->cols[c].p, *end = p + jc->cols[c].len;
	uint32_t n;

	if (jc->cols[c].len < 20 || be32(p) != 1 || be32(p + 4) > 1 ||
	    be32(p + 8) != 25 || be32(p + 12) != jc->rows || be32(p + 16) != 1)
		return "BAD HEADER";
	for (p += 20; p + 4 <= end; p += 4 + n) {
		n = be32(p);
		if (row-- > 0) {
			if (n == UINT32_MAX)
				n = 0;
			continue;
		}
		if (n == UINT32_MAX)
			return "NULL";
		if (n >= sizeof out || p + 4 + n > end)
			return "BAD LENGTH";
		memcpy(out, p + 4, n);
		out[n] = '\0';
		return out;
	}
	return "NO SUCH ROW";
}

static int
read_doc(struct json_columns *jc, const char *doc)
{
	return json_columns_read(jc, doc, strlen(doc), "items", MAX_ROWS, cols,
	    NCOLS, top, nitems(top));
}

static void
test_reads_members_as_jsonb_gives_them(void)
{
	struct json_columns jc;
	const char *doc =
	    "{\"kind\":\"calendar#events\",\"nextSyncToken\":\"s\\u00e9\","
	    " \"items\": [ {\"id\":\"a\",\"summary\":\"Offsite\","
	    "\"start\":{\"date\":\"2026-12-14\"},\"sequence\":3,"
	    "\"attendees\": [ {\"email\":\"b@x\"} ] ,\"extra\":{\"id\":\"no\"}},"
	    "{\"id\":\"b\",\"summary\":null,\"attendees\":null,\"sequence\":\"7\","
	    "\"start\":{\"dateTime\":\"2026-12-15T09:00:00Z\",\"date\":null},"
	    "\"extendedProperties\":{\"private\":{\"rallyActivityId\":\"r\"}}},"
	    "{\"id\":\"c\",\"summary\":true,\"start\":\"not an object\","
	    "\"sequence\":-12},"
	    "42, null ] }";

	if (!ok(read_doc(&jc, doc) == 0, "a page is read"))
		return;
	ok(jc.rows == 5, "one row per element of items (%zu)", jc.rows);
	is_str(cell(&jc, C_ID, 0), "a", "a string");
	is_str(cell(&jc, C_SUMMARY, 0), "Offsite", "another");
	is_str(cell(&jc, C_START_DAY, 0), "2026-12-14", "a nested member");
	is_str(cell(&jc, C_START_TIME, 0), "NULL", "an absent one is NULL");
	is_str(cell(&jc, C_SEQUENCE, 0), "3", "an integer as written");
	is_str(cell(&jc, C_ATTENDEES, 0), "[ {\"email\":\"b@x\"} ]",
	    "a JSON column as written");
	is_str(cell(&jc, C_RALLY_ID, 0), "NULL", "a path that is not there");
	is_str(cell(&jc, C_SUMMARY, 1), "NULL", "null is NULL (->>)");
	is_str(cell(&jc, C_ATTENDEES, 1), "null",
	    "null in a JSON column is JSON null (->), not NULL");
	is_str(cell(&jc, C_SEQUENCE, 1), "7", "an integer in a string");
	is_str(cell(&jc, C_START_TIME, 1), "2026-12-15T09:00:00Z",
	    "a nested member");
	is_str(cell(&jc, C_START_DAY, 1), "NULL", "a nested null");
	is_str(cell(&jc, C_RALLY_ID, 1), "r", "three members deep");
	is_str(cell(&jc, C_SUMMARY, 2), "true", "a boolean as written");
	is_str(cell(&jc, C_START_DAY, 2), "NULL",
	    "under a member that is not an object: NULL, as -> gives");
	is_str(cell(&jc, C_SEQUENCE, 2), "-12", "a negative integer");
	is_str(cell(&jc, C_ID, 3), "NULL", "an element that is not an object");
	is_str(cell(&jc, C_SUMMARY, 4), "NULL", "a null element");
	ok(jc.top_present[0] && jc.top[0] != NULL &&
	    strcmp(jc.top[0], "s\xc3\xa9") == 0, "a top-level member, decoded");
	ok(!jc.top_present[1] && jc.top[1] == NULL, "an absent one");
	json_columns_clear(&jc);
}

static void
test_strings_decode_as_jsonb_decodes_them(void)
{
	struct json_columns jc;
	const char *doc = "{\"items\":[{\"id\":"
	    "\"\\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00 "
	    "caf\xc3\xa9\",\"summary\":\"\"}],\"nextPageToken\":null}";

	if (!ok(read_doc(&jc, doc) == 0, "escapes are read"))
		return;
	is_str(cell(&jc, C_ID, 0), "\"q\" \\ / \b\f\n\r\t \xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80 caf\xc3\xa9", "every escape decoded, UTF-8 kept");
	is_str(cell(&jc, C_SUMMARY, 0), "", "an empty string is not NULL");
	ok(jc.top_present[1] && jc.top[1] == NULL,
	    "a top-level null is there, as NULL");
	json_columns_clear(&jc);
}

static void
test_the_last_of_duplicate_keys_counts(void)
{
	struct json_columns jc;
	const char *doc = "{\"items\":[{\"summary\":\"first\",\"summary\":\"last\","
	    "\"start\":{\"dateTime\":\"t\"},\"start\":{\"date\":\"d\"},"
	    "\"extendedProperties\":{\"private\":{\"rallyActivityId\":\"x\"},"
	    "\"private\":{}}}]}";

	if (!ok(read_doc(&jc, doc) == 0, "duplicate keys are read"))
		return;
	is_str(cell(&jc, C_SUMMARY, 0), "last", "the last value");
	is_str(cell(&jc, C_START_TIME, 0), "NULL",
	    "a member of an object replaced by a later one is gone");
	is_str(cell(&jc, C_START_DAY, 0), "d", "the later object's member");
	is_str(cell(&jc, C_RALLY_ID, 0), "NULL", "also two levels down");
	json_columns_clear(&jc);
}

static void
test_refuses_what_jsonb_could_read_otherwise(void)
{
	static const char *const bad[] = {
		"{\"items\":[{\"id\":\"a\\u0000b\"}]}",
		"{\"items\":[{\"id\":\"\\ud83d\"}]}",
		"{\"items\":[{\"id\":\"\\ud83dx\"}]}",
		"{\"items\":[{\"id\":\"\\ude00\"}]}",
		"{\"items\":[{\"id\":\"\\u00e\"}]}",
		"{\"items\":[{\"id\":\"\\x\"}]}",
		"{\"items\":[{\"id\":\"tab\there\"}]}",
		"{\"items\":[{\"summary\":{\"a\":1}}]}",
		"{\"items\":[{\"summary\":[1]}]}",
		"{\"items\":[{\"summary\":1.5}]}",
		"{\"items\":[{\"summary\":1e2}]}",
		"{\"items\":[{\"summary\":-0}]}",
		"{\"items\":[{\"summary\":01}]}",
		"{\"items\":[{\"start\":{\"dateTime\":5.0}}]}",
		"{\"items\":[{\"summ\\u0061ry\":\"x\"}]}",
		"{\"items\":[{\"start\":{\"d\\u0061te\":\"x\"}}]}",
		"{\"it\\u0065ms\":[]}",
		"{\"items\":[],\"items\":[]}",
		"{\"items\":{}}",
		"{\"items\":null}",
		"{\"nextSyncToken\":\"a\",\"nextSyncToken\":\"b\"}",
		"{\"nextPageToken\":3}",
		"[]",
		"{\"items\":[]} x",
		"{\"items\":[{\"id\":\"a\"},]}",
		"{\"items\":[{\"id\":\"a\"}",
		"",
	};
	struct json_columns jc;

	for (size_t n = 0; n < nitems(bad); n++)
		ok(read_doc(&jc, bad[n]) == -1 && jc.cols == NULL, "refused: %s",
		    bad[n]);
	ok(json_columns_read(&jc, "{\"items\":[{\"id\":\"\0\"}]}", 20, "items",
	    MAX_ROWS, cols, NCOLS, top, nitems(top)) == -1,
	    "a NUL byte is refused");
}

static void
test_an_empty_page(void)
{
	struct json_columns jc;

	if (!ok(read_doc(&jc, " {\"items\":[],\"nextSyncToken\":\"t\"} ") == 0,
	    "a page without events"))
		return;
	ok(jc.rows == 0 && jc.cols[C_ID].len == 20 &&
	    be32(jc.cols[C_ID].p + 12) == 0, "no rows, empty arrays");
	json_columns_clear(&jc);
	if (!ok(read_doc(&jc, "{\"kind\":\"x\"}") == 0, "a page without items"))
		return;
	ok(jc.rows == 0, "no rows");
	json_columns_clear(&jc);
}

/*
 * More elements than the caller takes are refused as such, before the
 * reading goes on, whatever follows; elements that are not events count.
 */
static void
test_more_rows_than_asked_for(void)
{
	const char *unfinished = "{\"items\":[{},1,null,[]";
	const char *spoiled = "{\"items\":[{\"summary\":1.5},{},{},{}]}";
	struct json_columns jc;
	char doc[256];
	int r;

	for (int n = 2; n <= 4; n++) {
		int len = snprintf(doc, sizeof doc, "{\"items\":[");

		for (int e = 0; e < n; e++)
			len += snprintf(doc + len, sizeof doc - (size_t)len,
			    "%s{\"id\":\"e%d\"}", e ? "," : "", e);
		snprintf(doc + len, sizeof doc - (size_t)len, "]}");
		r = json_columns_read(&jc, doc, strlen(doc), "items", 3, cols,
		    NCOLS, top, nitems(top));
		if (n <= 3)
			ok(r == 0 && jc.rows == (size_t)n, "%d events of at "
			    "most 3 read", n);
		else
			ok(r == -2 && jc.cols == NULL, "%d events of at most 3 "
			    "refused as too many", n);
		json_columns_clear(&jc);
	}
	ok(json_columns_read(&jc, unfinished, strlen(unfinished), "items", 3,
	    cols, NCOLS, top, nitems(top)) == -2 && jc.cols == NULL,
	    "a fourth element refused as one too many, in a document left "
	    "unfinished after it");
	ok(json_columns_read(&jc, spoiled, strlen(spoiled), "items", 3, cols,
	    NCOLS, top, nitems(top)) == -1,
	    "what cannot be read before the limit is refused as such");
}

/* Every prefix of a page but the page itself is refused, safely. */
static void
test_truncations(void)
{
	const char *doc = "{\"items\":[{\"id\":\"a\",\"start\":{\"date\":"
	    "\"2026-12-14\"},\"attendees\":[{\"email\":\"b\"}],\"summary\":"
	    "\"\\u00e9\\ud83d\\ude00\"}],\"nextPageToken\":\"p\"}";
	size_t len = strlen(doc), accepted = 0;
	struct json_columns jc;

	for (size_t n = 0; n <= len; n++) {
		char *cut = xmalloc(n + 1);

		memcpy(cut, doc, n);
		cut[n] = '\0';
		if (json_columns_read(&jc, cut, n, "items", MAX_ROWS, cols,
		    NCOLS, top, nitems(top)) == 0) {
			accepted++;
			json_columns_clear(&jc);
		}
		free(cut);
	}
	ok(accepted == 1, "of the %zu prefixes only the whole page is read "
	    "(%zu)", len + 1, accepted);
}

/*
 * The cost on a page as large as Google's biggest (2,500 events), printed
 * as a diagnostic: docs/calendar-sync.md quotes it.
 */
static void
test_cost(void)
{
	static const char ev[] =
	    "{\"etag\":\"\\\"3412345678901234\\\"\","
	    "\"id\":\"a1b2c3d4e5f6g7h8i9j0k1l2m3\",\"status\":\"confirmed\","
	    "\"updated\":\"2026-01-02T10:00:00.000Z\","
	    "\"summary\":\"Weekly review with the sales team\","
	    "\"description\":\"Agenda: pipeline, forecasts, and anything else that came up this week.\","
	    "\"location\":\"Room 4, Main Street 12\","
	    "\"start\":{\"dateTime\":\"2026-01-05T10:00:00+01:00\",\"timeZone\":\"Europe/Berlin\"},"
	    "\"end\":{\"dateTime\":\"2026-01-05T11:00:00+01:00\",\"timeZone\":\"Europe/Berlin\"},"
	    "\"iCalUID\":\"a1b2c3d4e5f6g7h8i9j0k1l2m3@google.com\",\"sequence\":0,"
	    "\"attendees\":[{\"email\":\"ann@example.com\",\"responseStatus\":\"accepted\"},"
	    "{\"email\":\"user@example.com\",\"organizer\":true,\"self\":true,\"responseStatus\":\"accepted\"}]}";
	const size_t nev = 2500, reps = 20;
	size_t len = 0;
	char *page = xmalloc(nev * (sizeof ev + 1) + 64);
	struct json_columns jc;
	struct timespec t0, t1;
	int r = 0;

	len += (size_t)sprintf(page, "{\"kind\":\"calendar#events\",\"items\":[");
	for (size_t n = 0; n < nev; n++)
		len += (size_t)sprintf(page + len, "%s%s", n ? "," : "", ev);
	len += (size_t)sprintf(page + len, "],\"nextPageToken\":\"t\"}");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t n = 0; n < reps && r == 0; n++)
		if ((r = read_doc(&jc, page)) == 0)
			json_columns_clear(&jc);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(r == 0, "a page of %zu events, %zu bytes, %.2f ms a page", nev, len,
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / (double)reps);
	free(page);
}

int
main(void)
{
	test_reads_members_as_jsonb_gives_them();
	test_strings_decode_as_jsonb_decodes_them();
	test_the_last_of_duplicate_keys_counts();
	test_refuses_what_jsonb_could_read_otherwise();
	test_an_empty_page();
	test_more_rows_than_asked_for();
	test_truncations();
	test_cost();
	return tap_done();
}
