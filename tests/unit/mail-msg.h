/* SPDX-License-Identifier: ISC */
/*
 * mail-msg.h: builds Gmail format=full messages as json-c objects for the
 * mail tests (tests/unit/test-mail-*.c), and checks that every string in
 * a decoded row is what PostgreSQL takes.
 */
#ifndef RALLY_TEST_MAIL_MSG_H
#define RALLY_TEST_MAIL_MSG_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "b64.h"
#include "utf8.h"

/* Headers from a NULL-terminated list of name, value pairs. */
static json_object *
msg_headers(const char *const *nv)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; nv != NULL && nv[i] != NULL; i += 2) {
		json_object *h = json_object_new_object();

		json_object_object_add(h, "name", json_object_new_string(nv[i]));
		json_object_object_add(h, "value", json_object_new_string(nv[i + 1]));
		json_object_array_add(a, h);
	}
	return a;
}

/* A leaf with its body inline (data may be NULL: none), its own
 * Content-Type header when ctype is set, and Gmail's filename. */
static json_object *
msg_leaf(const char *mime, const char *ctype, const char *filename,
    const void *data, size_t len)
{
	json_object *p = json_object_new_object(), *body = json_object_new_object();
	const char *nv[] = {"Content-Type", ctype, NULL};

	json_object_object_add(p, "partId", json_object_new_string(""));
	json_object_object_add(p, "mimeType", json_object_new_string(mime));
	json_object_object_add(p, "filename", json_object_new_string(filename ? filename : ""));
	json_object_object_add(p, "headers", msg_headers(ctype != NULL ? nv : NULL));
	json_object_object_add(body, "size", json_object_new_int64((int64_t)len));
	if (data != NULL) {
		char *b = b64url_encode(data, len);

		json_object_object_add(body, "data", json_object_new_string(b));
		free(b);
	}
	json_object_object_add(p, "body", body);
	return p;
}

/* A leaf Gmail keeps apart, behind an attachmentId. */
static json_object *
msg_external(const char *mime, const char *filename, const char *disp, size_t size)
{
	json_object *p = msg_leaf(mime, NULL, filename, NULL, size), *body;
	const char *nv[] = {"Content-Disposition", disp, NULL};

	json_object_object_add(p, "headers", msg_headers(disp != NULL ? nv : NULL));
	json_object_object_get_ex(p, "body", &body);
	json_object_object_add(body, "attachmentId", json_object_new_string("ANGjdJ_att-1"));
	return p;
}

/* A multipart holding up to three parts (NULL ends the list). */
static json_object *
msg_multi(const char *mime, json_object *a, json_object *b, json_object *c)
{
	json_object *p = msg_leaf(mime, NULL, NULL, NULL, 0), *parts = json_object_new_array();
	json_object *kids[] = {a, b, c};

	for (int i = 0; i < 3 && kids[i] != NULL; i++)
		json_object_array_add(parts, kids[i]);
	json_object_object_add(p, "parts", parts);
	return p;
}

/* A message whose payload gets top-level headers nv (NULL-terminated). */
static json_object *
msg_new(const char *const *nv, json_object *payload)
{
	json_object *m = json_object_new_object(), *labels = json_object_new_array();
	json_object *top = msg_headers(nv), *own;

	json_object_object_add(m, "id", json_object_new_string("18c2f0a1b2c3d4e5"));
	json_object_object_add(m, "threadId", json_object_new_string("18c2f0a1b2c3d4e0"));
	json_object_array_add(labels, json_object_new_string("INBOX"));
	json_object_array_add(labels, json_object_new_string("UNREAD"));
	json_object_object_add(m, "labelIds", labels);
	json_object_object_add(m, "snippet", json_object_new_string("Hello &amp; welcome"));
	json_object_object_add(m, "historyId", json_object_new_string("4242"));
	json_object_object_add(m, "internalDate", json_object_new_string("1764590064000"));
	json_object_object_add(m, "sizeEstimate", json_object_new_int(1234));
	if (json_object_object_get_ex(payload, "headers", &own))
		for (size_t i = 0; i < json_object_array_length(own); i++)
			json_object_array_add(top,
			    json_object_get(json_object_array_get_idx(own, i)));
	json_object_object_add(payload, "headers", top);
	json_object_object_add(m, "payload", payload);
	return m;
}

/* Whether every string in o, at any depth, is UTF-8 without NUL. */
static bool
msg_all_text(json_object *o)
{
	size_t n;

	switch (json_object_get_type(o)) {
	case json_type_string:
		return utf8_text(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++)
			if (!msg_all_text(json_object_array_get_idx(o, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!msg_all_text(v))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

#endif
