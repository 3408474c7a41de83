/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "b64.h"
#include "pubsub.h"

void
gmail_push_clear(struct gmail_push *push)
{
	free(push->email);
	free(push->message_id);
	memset(push, 0, sizeof *push);
}

/*
 * Parses len bytes as one JSON object (whitespace may follow it); NULL
 * with *cause set otherwise.  what names the document in messages.
 */
static json_object *
parse_object(const char *s, size_t len, const char *what, char **cause)
{
	json_tokener *tok;
	json_object *obj;
	size_t end;

	if (memchr(s, '\0', len) != NULL) {
		set_cause(cause, "%s: NUL byte", what);
		return NULL;
	}
	if ((tok = json_tokener_new_ex(PUBSUB_MAX_DEPTH)) == NULL) {
		set_cause(cause, "%s: out of memory", what);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	if (obj == NULL) {
		set_cause(cause, "%s: %s", what, json_tokener_get_error(tok) ==
		    json_tokener_continue ? "truncated JSON" :
		    json_tokener_error_desc(json_tokener_get_error(tok)));
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && (s[end] == ' ' || s[end] == '\t' ||
	    s[end] == '\r' || s[end] == '\n'))
		end++;
	if (end != len) {
		set_cause(cause, "%s: data after the JSON value", what);
		json_object_put(obj);
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		set_cause(cause, "%s: not a JSON object", what);
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* The string member key of obj, with its length; NULL when not a string. */
static const char *
get_string(json_object *obj, const char *key, size_t *len)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* An address as Gmail reports it: printable, one line, with an '@'. */
static int
check_email(const char *s, size_t len, char **cause)
{
	const char *at = memchr(s, '@', len);

	if (len < 3 || len > GMAIL_MAX_EMAIL)
		return set_cause(cause, "emailAddress: length %zu is not 3 "
		    "to %d", len, GMAIL_MAX_EMAIL);
	if (strlen(s) != len || at == NULL || at == s || at == s + len - 1)
		return set_cause(cause, "emailAddress: malformed");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return set_cause(cause, "emailAddress: malformed");
	return 0;
}

/* historyId: an unsigned 64-bit integer, as a JSON string or number. */
static int
get_history_id(json_object *data, uint64_t *out, char **cause)
{
	json_object *v;
	const char *s;
	char *end;

	if (!json_object_object_get_ex(data, "historyId", &v))
		return set_cause(cause, "historyId: missing");
	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			return set_cause(cause, "historyId: negative");
		*out = json_object_get_uint64(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return set_cause(cause, "historyId: not a string or integer");
	s = json_object_get_string(v);
	if (*s == '\0' || strlen(s) > 20 ||
	    strspn(s, "0123456789") != strlen(s))
		return set_cause(cause, "historyId: malformed");
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0)
		return set_cause(cause, "historyId: out of range");
	return 0;
}

/* The decoded message data: {"emailAddress": ..., "historyId": ...}. */
static int
parse_data(const char *b64, size_t b64len, struct gmail_push *push,
    char **cause)
{
	unsigned char *raw;
	size_t rawlen, len;
	json_object *data;
	const char *email;
	int rc = -1;

	if (b64len > (PUBSUB_MAX_DATA + 2) / 3 * 4)
		return set_cause(cause, "message.data: larger than %d bytes",
		    PUBSUB_MAX_DATA);
	if (b64_decode(b64, b64len, &raw, &rawlen) == -1)
		return set_cause(cause, "message.data: not base64");
	if ((data = parse_object((char *)raw, rawlen, "message.data",
	    cause)) == NULL) {
		free(raw);
		return -1;
	}
	if ((email = get_string(data, "emailAddress", &len)) == NULL)
		set_cause(cause, "emailAddress: missing or not a string");
	else if (check_email(email, len, cause) == 0 &&
	    get_history_id(data, &push->history_id, cause) == 0) {
		push->email = xstrdup(email);
		rc = 0;
	}
	json_object_put(data);
	free(raw);
	return rc;
}

static int
parse_message(json_object *msg, struct gmail_push *push, char **cause)
{
	const char *data, *id;
	size_t len, idlen;

	if ((data = get_string(msg, "data", &len)) == NULL)
		return set_cause(cause,
		    "message.data: missing or not a string");
	/* Only for logs: an odd one is left out rather than refused. */
	id = get_string(msg, "messageId", &idlen);
	if (id != NULL && (idlen > PUBSUB_MAX_MESSAGE_ID ||
	    strspn(id, "0123456789abcdefABCDEF-_") != idlen))
		id = NULL;
	if (parse_data(data, len, push, cause) == -1)
		return -1;
	push->message_id = xstrdup(id != NULL ? id : "");
	return 0;
}

int
pubsub_gmail_parse(const void *body, size_t len, struct gmail_push *push,
    char **cause)
{
	json_object *env, *msg;
	int rc;

	memset(push, 0, sizeof *push);
	if (len > PUBSUB_MAX_BODY)
		return set_cause(cause, "body larger than %d bytes",
		    PUBSUB_MAX_BODY);
	if ((env = parse_object(body, len, "body", cause)) == NULL)
		return -1;
	if (!json_object_object_get_ex(env, "message", &msg) ||
	    !json_object_is_type(msg, json_type_object))
		rc = set_cause(cause, "message: missing or not an object");
	else
		rc = parse_message(msg, push, cause);
	json_object_put(env);
	if (rc == -1)
		gmail_push_clear(push);
	return rc;
}
