/* SPDX-License-Identifier: ISC */
/*
 * json: the limits json_parse_limited() puts on outside documents, and the
 * typed getters.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "tap.h"
#include "util.h"

#define LIMIT 4096

/* Parses s whole; NULL when refused (the cause, if wanted, in *why). */
static json_object *
parse(const char *s, size_t len, size_t max, int depth, char **why)
{
	char *cause = NULL;
	json_object *o = json_parse_limited(s, len, max, depth, &cause);

	if (o == NULL && cause == NULL)
		ok(0, "a refusal sets a cause");
	if (o != NULL && cause != NULL)
		ok(0, "a success leaves the cause alone");
	if (why != NULL)
		*why = cause;
	else
		free(cause);
	return o;
}

static bool
accepts(const char *s)
{
	json_object *o = parse(s, strlen(s), LIMIT, 32, NULL);

	json_object_put(o);
	return o != NULL;
}

/* Whether s is refused with a cause containing want. */
static bool
refuses(const char *s, size_t len, size_t max, int depth, const char *want)
{
	char *why = NULL;
	json_object *o = parse(s, len, max, depth, &why);
	bool r = o == NULL && why != NULL && strstr(why, want) != NULL;

	if (!r)
		printf("#   cause: %s\n", why != NULL ? why : "(none)");
	json_object_put(o);
	free(why);
	return r;
}

/* n nested arrays around 1. */
static char *
nested(int n)
{
	char *s = xmalloc(2 * (size_t)n + 2);

	memset(s, '[', n);
	s[n] = '1';
	memset(s + n + 1, ']', n);
	s[2 * n + 1] = '\0';
	return s;
}

static void
test_whole_documents_are_accepted(void)
{
	ok(accepts("{\"a\": [1, 2, {\"b\": null}], \"c\": \"d\"}"),
	    "an object with nested values parses");
	ok(accepts("  {\"a\":1}\r\n\t "), "whitespace around the value is fine");
	ok(accepts("123"), "a number that ends the input parses");
	ok(accepts("-4.5e3 "), "a number followed by whitespace parses");
	ok(accepts("\"\xc3\xa9t\xc3\xa9\""), "valid UTF-8 in a string parses");
	ok(accepts("[]"), "an empty array parses");
	ok(accepts("\"\xf0\x9f\x98\x80 \xe2\x82\xac\""),
	    "4-byte and 3-byte UTF-8 sequences parse");
}

static void
test_trailing_data_is_refused(void)
{
	const char *s;

	s = "{\"a\":1} x";
	ok(refuses(s, strlen(s), LIMIT, 32, "data after the JSON value"),
	    "garbage after an object is refused");
	s = "{} {}";
	ok(refuses(s, strlen(s), LIMIT, 32, "data after the JSON value"),
	    "a second document is refused");
	s = "1 2";
	ok(refuses(s, strlen(s), LIMIT, 32, "data after the JSON value"),
	    "a second number is refused");
}

static void
test_nul_bytes_are_refused(void)
{
	static const char in_string[] = "{\"a\":\"b\0c\"}";
	static const char after[] = "{\"a\":1}\0";

	ok(refuses(in_string, sizeof in_string - 1, LIMIT, 32, "NUL"),
	    "a NUL byte inside a string is refused");
	ok(refuses(after, sizeof after - 1, LIMIT, 32, "NUL"),
	    "a NUL byte after the value is refused");
}

static void
test_size_limit(void)
{
	const char *s = "{\"abc\":12345}";	/* 13 bytes */
	json_object *o;

	o = parse(s, strlen(s), strlen(s), 32, NULL);
	ok(o != NULL, "a document exactly max_len long parses");
	json_object_put(o);
	ok(refuses(s, strlen(s), strlen(s) - 1, 32, "larger than 12 bytes"),
	    "a document one byte over max_len is refused");
}

static void
test_depth_limit(void)
{
	char *s = nested(8);
	json_object *o;

	o = parse(s, strlen(s), LIMIT, 8, NULL);
	ok(o != NULL, "8 nested arrays parse with max_depth 8");
	json_object_put(o);
	ok(refuses(s, strlen(s), LIMIT, 7, "nesting too deep"),
	    "8 nested arrays are refused with max_depth 7");
	free(s);
	s = nested(100000);
	ok(refuses(s, strlen(s), 1000000, 32, "nesting too deep"),
	    "100000 nested arrays are refused, not a stack overflow");
	free(s);
	ok(refuses("1", 1, LIMIT, 0, "out of range"), "max_depth 0 is refused");
	ok(refuses("1", 1, LIMIT, JSON_MAX_DEPTH + 1, "out of range"),
	    "max_depth over JSON_MAX_DEPTH is refused");
}

static void
test_malformed_documents_are_refused(void)
{
	const char *bad[] = {
		"", "   ", "{\"a\":", "{\"a\":'b'}", "{\"a\":1,}", "[1,]",
		"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
		"\"\xe2\x82\"", "NaN", "[Infinity]", "{\"a\":-Infinity}", "[1e999]",
		"{a:1}", "01", "tru",
	};

	for (size_t i = 0; i < nitems(bad); i++) {
		json_object *o = parse(bad[i], strlen(bad[i]), LIMIT, 32, NULL);

		ok(o == NULL, "malformed document %zu is refused", i);
		json_object_put(o);
	}
	ok(refuses("{\"a\":", 5, LIMIT, 32, "truncated"),
	    "a truncated document says so");
	ok(refuses("\"\xc0\xaf\"", 4, LIMIT, 32, "UTF-8"),
	    "an overlong UTF-8 form is refused as such");
}

static json_object *
doc(const char *s)
{
	json_object *o = parse(s, strlen(s), LIMIT, 32, NULL);

	if (o == NULL)
		abort();
	return o;
}

static void
test_get_string(void)
{
	json_object *o = doc("{\"s\":\"v\",\"n\":1,\"z\":null,\"a\":[\"x\"],"
	    "\"nul\":\"a\\u0000b\"}");
	json_object *arr = doc("[\"s\"]");
	size_t len = 0;
	const char *v;

	is_str(json_get_string(o, "s"), "v", "a string member is returned");
	ok(json_get_string(o, "missing") == NULL, "an absent key is NULL");
	ok(json_get_string(o, "n") == NULL, "a number is not a string");
	ok(json_get_string(o, "z") == NULL, "null is not a string");
	ok(json_get_string(o, "a") == NULL, "an array is not a string");
	ok(json_get_string(arr, "s") == NULL, "a non-object has no members");
	ok(json_get_string(NULL, "s") == NULL, "NULL has no members");
	v = json_get_string_len(o, "nul", &len);
	ok(v != NULL && len == 3 && strlen(v) == 1,
	    "an escaped NUL shows in the length, not in strlen");
	json_object_put(arr);
	json_object_put(o);
}

static void
test_get_int64(void)
{
	json_object *o = doc("{\"i\":3599,\"neg\":-7,\"max\":9223372036854775807,"
	    "\"min\":-9223372036854775808,\"min1\":-9223372036854775807,"
	    "\"big\":9223372036854775808,\"under\":-99999999999999999999999,"
	    "\"over\":99999999999999999999999,"
	    "\"d\":1.5,\"e\":1e3,\"s\":\"5\",\"b\":true,\"z\":null}");
	int64_t v = 42;

	ok(json_get_int64(o, "i", &v) == 0 && v == 3599, "an integer is read");
	ok(json_get_int64(o, "neg", &v) == 0 && v == -7, "a negative one too");
	ok(json_get_int64(o, "max", &v) == 0 && v == INT64_MAX,
	    "INT64_MAX is read");
	ok(json_get_int64(o, "min1", &v) == 0 && v == INT64_MIN + 1,
	    "INT64_MIN + 1 is read");
	ok(json_get_int64(o, "min", &v) == -1,
	    "INT64_MIN is refused (json-c saturates smaller numbers to it)");
	ok(json_get_int64(o, "under", &v) == -1,
	    "a number below INT64_MIN is refused");
	ok(json_get_int64(o, "over", &v) == -1,
	    "a number over UINT64_MAX is refused");
	v = 42;
	ok(json_get_int64(o, "big", &v) == -1 && v == 42,
	    "2^63 does not fit and leaves *out alone");
	ok(json_get_int64(o, "d", &v) == -1, "a fraction is not an integer");
	ok(json_get_int64(o, "e", &v) == -1, "an exponent is not an integer");
	ok(json_get_int64(o, "s", &v) == -1, "a string is not an integer");
	ok(json_get_int64(o, "b", &v) == -1, "a boolean is not an integer");
	ok(json_get_int64(o, "z", &v) == -1, "null is not an integer");
	ok(json_get_int64(o, "missing", &v) == -1, "an absent key is -1");
	ok(json_get_int64(NULL, "i", &v) == -1, "NULL has no members");
	json_object_put(o);
}

static bool
all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\0')
			return false;
	return true;
}

/*
 * The bytes are checked through pointers taken before the wipe and before
 * the put, so the check reads json-c's own storage while it is still live.
 */
static void
test_wipe_strings(void)
{
	static const char doc[] = "{\"access_token\":\"ya29.secret\","
	    "\"expires_in\":3599,\"more\":[{\"refresh_token\":\"1//0gabc\"},"
	    "\"id-token-in-array\",null,true]}";
	json_object *o = parse(doc, strlen(doc), LIMIT, 32, NULL), *more, *inner;
	const char *at, *rt, *it, *long_s;
	size_t atl, rtl, itl, long_l;
	char big[300];
	int64_t n;

	more = json_object_object_get(o, "more");
	inner = json_object_array_get_idx(more, 0);
	at = json_get_string_len(o, "access_token", &atl);
	rt = json_get_string_len(inner, "refresh_token", &rtl);
	it = json_object_get_string(json_object_array_get_idx(more, 1));
	itl = (size_t)json_object_get_string_len(json_object_array_get_idx(more,
	    1));
	/* A string json-c keeps out of line (set after creation, longer). */
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	json_object_object_add(o, "set", json_object_new_string("x"));
	json_object_set_string(json_object_object_get(o, "set"), big);
	long_s = json_get_string_len(o, "set", &long_l);
	ok(at != NULL && strcmp(at, "ya29.secret") == 0 && rt != NULL &&
	    strcmp(rt, "1//0gabc") == 0 && long_l == sizeof big - 1,
	    "the strings are there before the wipe");
	json_wipe_strings(o);
	ok(all_zero(at, atl), "a top-level string's bytes are zeroed");
	ok(all_zero(rt, rtl), "a string in an object in an array is zeroed");
	ok(all_zero(it, itl), "a string in an array is zeroed");
	ok(all_zero(long_s, long_l), "a string stored out of line is zeroed");
	ok(json_get_int64(o, "expires_in", &n) == 0 && n == 3599 &&
	    json_object_object_get_ex(o, "access_token", NULL),
	    "numbers and keys are left alone");
	json_object_put(o);
	json_wipe_strings(NULL);
	json_put_wiped(NULL);
	o = parse(doc, strlen(doc), LIMIT, 32, NULL);
	json_put_wiped(o);
	ok(1, "json_put_wiped frees (ASan and valgrind see leaks)");
}

static const char *const keep_keys[] = { "id", "summary", "start" };

/* The filtered text of s, or NULL when the filter refuses it. */
static char *
keep(const char *s, size_t len)
{
	char *out;
	size_t out_len;

	if (json_keep_item_members(s, len, "items", keep_keys,
	    nitems(keep_keys), &out, &out_len) == -1)
		return NULL;
	if (out_len > len || strlen(out) != out_len)
		ok(0, "output no longer than input, NUL-terminated");
	return out;
}

static void
is_kept(const char *in, const char *want, const char *name)
{
	char *got = keep(in, strlen(in));

	is_str(got, want, name);
	free(got);
}

static void
test_keep_drops_unread_members(void)
{
	is_kept("{\"items\":[{\"kind\":\"calendar#event\",\"id\":\"a\","
	    "\"summary\":\"S\",\"reminders\":{\"useDefault\":true}}]}",
	    "{\"items\":[{\"id\":\"a\",\"summary\":\"S\"}]}",
	    "members not in the list are dropped, listed ones kept in order");
	is_kept("{\"items\":[{\"creator\":{\"a\":[{\"b\":{}},[[]]]},"
	    "\"start\":{\"dateTime\":\"x\",\"kind\":1}}]}",
	    "{\"items\":[{\"start\":{\"dateTime\":\"x\",\"kind\":1}}]}",
	    "a dropped value nests; a kept value is copied whole");
	is_kept("{\"items\":[{\"description\":\"}]{[\\\"\\\\\",\"id\":\"{\\\"}\"}]}",
	    "{\"items\":[{\"id\":\"{\\\"}\"}]}",
	    "braces, quotes and escaped quotes inside strings");
	is_kept("{\"items\":[{\"i\\u0064\":\"a\",\"\\\\\":1,\"x\":2}]}",
	    "{\"items\":[{\"i\\u0064\":\"a\",\"\\\\\":1}]}",
	    "escaped keys are kept");
	is_kept("{\"items\":[{\"id\":\"a\",\"id\":\"b\",\"idx\":1,\"i\":2}]}",
	    "{\"items\":[{\"id\":\"a\",\"id\":\"b\"}]}",
	    "duplicates kept in order; prefixes are other keys");
	is_kept("{\"items\":[1,\"s\",null,[{\"x\":1}],{},{\"x\":1}]}",
	    "{\"items\":[1,\"s\",null,[{\"x\":1}],{},{}]}",
	    "elements that are not objects are copied");
	is_kept("{\"items\":[]}", "{\"items\":[]}", "empty items");
	is_kept(" { \"nextSyncToken\" : \"t\" , \"x\" : { \"y\" : 1 } } ",
	    "{\"nextSyncToken\":\"t\",\"x\":{ \"y\" : 1 }}",
	    "without items the document comes out whole");
	is_kept("{\"kind\":\"k\",\"items\":[{\"x\":1}],\"nextPageToken\":\"p\"}",
	    "{\"kind\":\"k\",\"items\":[{}],\"nextPageToken\":\"p\"}",
	    "top-level members before and after items are kept");
	is_kept("\r\n{ \"items\" :\t[ { \"id\" : \"a\" , \"x\" : [ 1 , 2 ] } ,"
	    " 7 ] , \"a\" : true }\n",
	    "{\"items\":[{\"id\":\"a\"},7],\"a\":true}",
	    "whitespace between tokens is left out");
	is_kept("{\"items\":[{\"x\":{\"a\" 1, ],\"id\":1}]}",
	    "{\"items\":[{\"id\":1}]}",
	    "a malformed but balanced dropped value goes");
	is_kept("{\"items\":[],\"items\":[{\"x\":1}]}",
	    "{\"items\":[],\"items\":[{}]}", "every items member is filtered");
}

static void
test_keep_refuses_what_does_not_scan(void)
{
	static const char *const bad[] = {
		"", " ", "[]", "\"s\"", "{", "{\"items\":[{}]", "{\"items\":[{}}",
		"{\"items\":{}}", "{\"items\":null}", "{\"items\":\"[]\"}",
		"{\"items\":[{\"id\"}]}", "{\"items\":[{\"id\":}]}",
		"{\"items\":[{\"x\":1,}]}", "{\"items\":[1,]}", "{\"a\":1,}",
		"{\"items\":[{\"x\":1 2}]}", "{\"items\":[{\"x\":\"1}]}",
		"{\"items\":[{id:1}]}", "{} {}", "{}x", "{\"a\" 1}",
		"{\"items\":[,]}", "{,}",
	};

	for (size_t n = 0; n < nitems(bad); n++) {
		char *got = keep(bad[n], strlen(bad[n]));

		ok(got == NULL, "refused: %s", bad[n]);
		free(got);
	}
	ok(keep("{\"a\":\"\0\"}", 8) == NULL, "a NUL byte is refused");
}

static const char sample_page[] =
    "{\"kind\":\"calendar#events\",\"etag\":\"\\\"p1\\\"\",\"items\":["
    "{\"kind\":\"calendar#event\",\"id\":\"e1\",\"status\":\"confirmed\","
    "\"summary\":\"Lunch {with} \\\"Ann\\\"\",\"creator\":{\"email\":\"a@x\"},"
    "\"start\":{\"dateTime\":\"2026-01-01T12:00:00Z\"},"
    "\"reminders\":{\"useDefault\":true,\"overrides\":[{\"minutes\":10}]}},"
    " 42, {\"id\":\"e2\",\"start\":{\"date\":\"2026-01-02\"}}"
    "],\"nextPageToken\":\"tok\"}";

/* Every prefix of a page either is refused or comes out as JSON. */
static void
test_keep_truncations(void)
{
	size_t len = strlen(sample_page), parsed = 0, refused = 0;
	char *got;

	for (size_t n = 0; n <= len; n++) {
		if ((got = keep(sample_page, n)) == NULL) {
			refused++;
			continue;
		}
		json_object *o = parse(got, strlen(got), LIMIT, 32, NULL);
		if (o != NULL)
			parsed++;
		else
			printf("#   not JSON from %zu bytes: %s\n", n, got);
		json_object_put(o);
		free(got);
	}
	ok(parsed == 1 && refused == len, "every truncation is refused (%zu of %zu)",
	    refused, len);
	is_kept(sample_page,
	    "{\"kind\":\"calendar#events\",\"etag\":\"\\\"p1\\\"\",\"items\":["
	    "{\"id\":\"e1\",\"summary\":\"Lunch {with} \\\"Ann\\\"\","
	    "\"start\":{\"dateTime\":\"2026-01-01T12:00:00Z\"}},"
	    "42,{\"id\":\"e2\",\"start\":{\"date\":\"2026-01-02\"}}"
	    "],\"nextPageToken\":\"tok\"}",
	    "the sample page");
}

/*
 * The cost on a page as large as Google's biggest (2,500 events, about
 * 2.4 MB), printed as a diagnostic: docs/calendar-sync.md quotes it.
 */
static void
test_keep_cost(void)
{
	static const char ev[] =
	    "{\"kind\":\"calendar#event\",\"etag\":\"\\\"3412345678901234\\\"\","
	    "\"id\":\"a1b2c3d4e5f6g7h8i9j0k1l2m3\",\"status\":\"confirmed\","
	    "\"htmlLink\":\"https://www.google.com/calendar/event?eid=YTFiMmMzZDRlNWY2ZzdoOGk5ajBrMWwybTMgdXNlckBleGFtcGxlLmNvbQ\","
	    "\"created\":\"2026-01-01T10:00:00.000Z\",\"updated\":\"2026-01-02T10:00:00.000Z\","
	    "\"summary\":\"Weekly review with the sales team\","
	    "\"description\":\"Agenda: pipeline, forecasts, and anything else that came up this week.\","
	    "\"location\":\"Room 4, Main Street 12\","
	    "\"creator\":{\"email\":\"user@example.com\",\"self\":true},"
	    "\"organizer\":{\"email\":\"user@example.com\",\"self\":true},"
	    "\"start\":{\"dateTime\":\"2026-01-05T10:00:00+01:00\",\"timeZone\":\"Europe/Berlin\"},"
	    "\"end\":{\"dateTime\":\"2026-01-05T11:00:00+01:00\",\"timeZone\":\"Europe/Berlin\"},"
	    "\"iCalUID\":\"a1b2c3d4e5f6g7h8i9j0k1l2m3@google.com\",\"sequence\":0,"
	    "\"attendees\":[{\"email\":\"ann@example.com\",\"responseStatus\":\"accepted\"},"
	    "{\"email\":\"user@example.com\",\"organizer\":true,\"self\":true,\"responseStatus\":\"accepted\"}],"
	    "\"reminders\":{\"useDefault\":true},\"eventType\":\"default\"}";
	const size_t nev = 2500, reps = 20;
	size_t len = 0, out_len = 0;
	char *page = xmalloc(nev * (sizeof ev + 1) + 64), *out;
	struct timespec t0, t1;
	static const char *const keys[] = { "id", "etag", "status", "summary",
		"description", "location", "start", "end", "attendees",
		"recurrence", "recurringEventId", "originalStartTime", "updated",
		"sequence", "iCalUID", "extendedProperties" };
	int r = 0;

	len += (size_t)sprintf(page, "{\"kind\":\"calendar#events\",\"items\":[");
	for (size_t n = 0; n < nev; n++)
		len += (size_t)sprintf(page + len, "%s%s", n ? "," : "", ev);
	len += (size_t)sprintf(page + len, "],\"nextPageToken\":\"t\"}");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t n = 0; n < reps && r == 0; n++) {
		r = json_keep_item_members(page, len, "items", keys,
		    nitems(keys), &out, &out_len);
		if (r == 0)
			free(out);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(r == 0, "a page of %zu events, %zu bytes, kept %zu bytes, "
	    "%.2f ms a page", nev, len, out_len,
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / (double)reps);
	free(page);
}

int
main(void)
{
	test_whole_documents_are_accepted();
	test_trailing_data_is_refused();
	test_nul_bytes_are_refused();
	test_size_limit();
	test_depth_limit();
	test_malformed_documents_are_refused();
	test_get_string();
	test_get_int64();
	test_wipe_strings();
	test_keep_drops_unread_members();
	test_keep_refuses_what_does_not_scan();
	test_keep_truncations();
	test_keep_cost();
	return tap_done();
}
