/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include <openssl/crypto.h>

#include "json.h"
#include "json-scan.h"
#include "log.h"
#include "utf8.h"
#include "util.h"

static bool
json_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static json_object *
json_run(json_tokener *tok, const char *buf, size_t len, size_t *end,
    char **cause)
{
	enum json_tokener_error e;
	json_object *obj;

	obj = json_tokener_parse_ex(tok, buf, (int)len);
	*end = json_tokener_get_parse_end(tok);
	e = json_tokener_get_error(tok);
	if (obj == NULL && e == json_tokener_continue && *end == len) {
		if ((obj = json_tokener_parse_ex(tok, "", 1)) == NULL) {
			set_cause(cause, "truncated JSON");
			return NULL;
		}
		return obj;
	}
	if (obj == NULL)
		set_cause(cause, "%s", e == json_tokener_continue ?
		    "truncated JSON" : json_tokener_error_desc(e));
	return obj;
}

/*
 * Whether every number in o is finite: json-c takes NaN and Infinity, which
 * JSON has not, and turns 1e999 into Infinity.  depth bounds the recursion,
 * as the tokener already bounded the nesting.
 */
static bool
json_numbers_ok(json_object *o, int depth)
{
	if (depth < 0)
		return false;
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!json_numbers_ok(json_object_array_get_idx(o, i),
			    depth - 1))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, key, v) {
			(void)key;
			if (!json_numbers_ok(v, depth - 1))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

json_object *
json_parse_limited(const char *buf, size_t len, size_t max_len, int max_depth,
    char **cause)
{
	json_tokener *tok;
	json_object *obj;
	size_t end;

	if (len > max_len || len > INT_MAX - 1) {
		set_cause(cause, "JSON document larger than %zu bytes",
		    max_len);
		return NULL;
	}
	if (max_depth < 1 || max_depth > JSON_MAX_DEPTH) {
		set_cause(cause, "JSON nesting limit %d out of range",
		    max_depth);
		return NULL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		set_cause(cause, "JSON document holds a NUL byte");
		return NULL;
	}
	if (!utf8_valid(buf, len)) {
		set_cause(cause, "JSON document is not valid UTF-8");
		return NULL;
	}
	/* json-c counts the innermost value as a level too. */
	if ((tok = json_tokener_new_ex(max_depth + 1)) == NULL)
		fatalx("json: out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_run(tok, buf, len, &end, cause);
	json_tokener_free(tok);
	if (obj == NULL)
		return NULL;
	while (end < len && json_is_ws(buf[end]))
		end++;
	if (end < len) {
		set_cause(cause, "data after the JSON value");
		json_object_put(obj);
		return NULL;
	}
	if (!json_numbers_ok(obj, max_depth)) {
		set_cause(cause, "JSON number out of range (NaN or infinite)");
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

const char *
json_get_string_len(json_object *obj, const char *key, size_t *len)
{
	json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

const char *
json_get_string(json_object *obj, const char *key)
{
	size_t len;

	return json_get_string_len(obj, key, &len);
}

int
json_get_int64(json_object *obj, const char *key, int64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	/*
	 * json-c keeps 2^63.. as uint64 (clamped to INT64_MAX here) and turns
	 * anything below INT64_MIN into INT64_MIN, so that one is refused too.
	 */
	if (n == INT64_MIN || (n == INT64_MAX &&
	    json_object_get_uint64(v) != (uint64_t)INT64_MAX))
		return -1;
	*out = n;
	return 0;
}

/* depth bounds the recursion; parsed documents are already that shallow. */
static void
json_wipe_at(json_object *o, int depth)
{
	if (depth < 0)
		return;
	switch (json_object_get_type(o)) {
	case json_type_string:
		/* json-c hands out its own storage; the cast is what frees it. */
		OPENSSL_cleanse((char *)json_object_get_string(o),
		    (size_t)json_object_get_string_len(o));
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			json_wipe_at(json_object_array_get_idx(o, i), depth - 1);
		break;
	case json_type_object: {
		json_object_object_foreach(o, key, v) {
			(void)key;
			json_wipe_at(v, depth - 1);
		}
		break;
	}
	default:
		break;
	}
}

void
json_wipe_strings(json_object *o)
{
	if (o != NULL)
		json_wipe_at(o, JSON_MAX_DEPTH);
}

void
json_put_wiped(json_object *o)
{
	json_wipe_strings(o);
	json_object_put(o);
}

/* The index just past the string that opens at buf[i], or SIZE_MAX. */
size_t
jscan_string(const char *buf, size_t len, size_t i)
{
	size_t start = ++i, k;
	const char *q;

	while (i < len && (q = memchr(buf + i, '"', len - i)) != NULL) {
		i = (size_t)(q - buf);
		/* Escaped only by an odd run of backslashes. */
		for (k = i; k > start && buf[k - 1] == '\\'; k--)
			;
		if ((i - k) % 2 == 0)
			return i + 1;
		i++;
	}
	return SIZE_MAX;
}

size_t
jscan_value(const char *buf, size_t len, size_t i)
{
	size_t depth = 0;

	for (; i < len; i++) {
		switch (buf[i]) {
		case '"':
			if ((i = jscan_string(buf, len, i)) == SIZE_MAX)
				return SIZE_MAX;
			if (depth == 0)
				return i;
			i--;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return i;	/* the end of a scalar */
			if (--depth == 0)
				return i + 1;
			break;
		case ',':
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			if (depth == 0)
				return i;
			break;
		}
	}
	return depth == 0 ? i : SIZE_MAX;
}

size_t
jscan_ws(const char *buf, size_t len, size_t i)
{
	while (i < len && json_is_ws(buf[i]))
		i++;
	return i;
}

int
jscan_key(const char *buf, size_t len, size_t *i, struct json_span *key)
{
	size_t k = *i, end;

	if (k >= len || buf[k] != '"' ||
	    (end = jscan_string(buf, len, k)) == SIZE_MAX)
		return -1;
	key->p = buf + k + 1;
	key->len = end - k - 2;
	k = jscan_ws(buf, len, end);
	if (k >= len || buf[k] != ':')
		return -1;
	*i = jscan_ws(buf, len, k + 1);
	return 0;
}

size_t
jscan_next(const char *buf, size_t len, size_t i, char close, bool strict)
{
	i = jscan_ws(buf, len, i);
	if (i < len && buf[i] == ',') {
		i = jscan_ws(buf, len, i + 1);
		if (strict && (i >= len || buf[i] == close))
			return SIZE_MAX;
	} else if (i >= len || buf[i] != close)
		return SIZE_MAX;
	return i;
}

/*
 * One member at buf[*i]: its key's raw text in key/key_len, its value's
 * span in val/val_len; *i moves past the ',' or onto the closing '}'.
 */
static int
scan_member(const char *buf, size_t len, size_t *i, struct json_span *key,
    struct json_span *val)
{
	size_t k = *i, end;

	if (jscan_key(buf, len, &k, key) == -1 ||
	    (end = jscan_value(buf, len, k)) == SIZE_MAX || end == k)
		return -1;
	val->p = buf + k;
	val->len = end - k;
	if ((k = jscan_next(buf, len, end, '}', false)) == SIZE_MAX)
		return -1;
	*i = k;
	return 0;
}

int
json_scan_members(const char *buf, size_t len, const char *const *keys,
    struct json_span *vals, size_t nkeys)
{
	struct json_span key, val;
	size_t i = jscan_ws(buf, len, 0);

	for (size_t n = 0; n < nkeys; n++)
		vals[n].p = NULL;
	if (i >= len || buf[i] != '{')
		return -1;
	i = jscan_ws(buf, len, i + 1);
	while (i < len && buf[i] != '}') {
		if (scan_member(buf, len, &i, &key, &val) == -1)
			return -1;
		for (size_t n = 0; n < nkeys; n++)
			if (key.len == strlen(keys[n]) &&
			    memcmp(key.p, keys[n], key.len) == 0)
				vals[n] = val;	/* the last one, as jsonb keeps */
	}
	return i < len ? 0 : -1;
}
