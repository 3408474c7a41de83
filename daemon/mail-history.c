/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mail-history.h"
#include "util.h"

#define HISTORY_TOKEN_MAX 4096
#define HISTORY_ID_MAX 256
/* More records than maxResults asks for is a hostile page, not Gmail. */
#define HISTORY_RECORDS_MAX 5000

bool
mail_history_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 20 || strspn(s, "0123456789") != n)
		return false;
	/* 18446744073709551615 is the largest: compare as text at 20 digits. */
	return n < 20 || strcmp(s, "18446744073709551615") <= 0;
}

static void
op_set(struct mail_history *h, const char *id, const char *op,
    json_object *labels, const char *hid)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "op", json_object_new_string(op));
	if (labels != NULL) {
		json_object_object_add(o, "labels", json_object_get(labels));
		json_object_object_add(o, "hid", json_object_new_string(hid));
	}
	json_object_object_add(h->ops, id, o);
}

static const char *
op_of(const struct mail_history *h, const char *id)
{
	json_object *o;

	if (!json_object_object_get_ex(h->ops, id, &o))
		return NULL;
	return json_get_string(o, "op");
}

/* The label ids of a record's message, when they are all strings. */
static json_object *
message_labels(json_object *msg)
{
	json_object *l;

	if (!json_object_object_get_ex(msg, "labelIds", &l) ||
	    !json_object_is_type(l, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(l); i++)
		if (!json_object_is_type(json_object_array_get_idx(l, i),
		    json_type_string))
			return NULL;
	return l;
}

/* One member (messagesAdded, labelsAdded, ...) of one record. */
static void
record_member(struct mail_history *h, json_object *rec, const char *kind,
    const char *hid)
{
	json_object *arr, *msg, *labels;
	const char *id, *op;

	if (!json_object_object_get_ex(rec, kind, &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		if (!json_object_object_get_ex(json_object_array_get_idx(arr, i),
		    "message", &msg) || (id = json_get_string(msg, "id")) == NULL ||
		    id[0] == '\0' || strlen(id) > HISTORY_ID_MAX)
			continue;
		op = op_of(h, id);
		if (strcmp(kind, "messagesDeleted") == 0)
			op_set(h, id, "delete", NULL, NULL);
		else if (strcmp(kind, "messagesAdded") == 0)
			op_set(h, id, "fetch", NULL, NULL);
		else if (op != NULL && strcmp(op, "labels") != 0)
			;	/* fetched anyway, or deleted: nothing to add */
		else if ((labels = message_labels(msg)) != NULL && hid != NULL)
			op_set(h, id, "labels", labels, hid);
		else
			op_set(h, id, "fetch", NULL, NULL);
	}
}

static int
history_records(struct mail_history *h, json_object *page, char **cause)
{
	static const char *const kinds[] = {
		"messagesAdded", "labelsAdded", "labelsRemoved", "messagesDeleted",
	};
	json_object *recs, *rec;
	const char *hid;
	size_t n;

	if (!json_object_object_get_ex(page, "history", &recs))
		return 0;
	if (!json_object_is_type(recs, json_type_array) ||
	    (n = json_object_array_length(recs)) > HISTORY_RECORDS_MAX) {
		*cause = xstrdup("history is not an array of records");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		rec = json_object_array_get_idx(recs, i);
		if (!json_object_is_type(rec, json_type_object))
			continue;
		hid = json_get_string(rec, "id");
		if (hid != NULL && !mail_history_id_valid(hid))
			hid = NULL;
		for (size_t k = 0; k < nitems(kinds); k++)
			record_member(h, rec, kinds[k], hid);
		h->records++;
	}
	return 0;
}

struct mail_history *
mail_history_parse(json_object *page, char **cause)
{
	struct mail_history *h;
	const char *hid = json_get_string(page, "historyId");
	const char *next = json_get_string(page, "nextPageToken");

	if (hid == NULL || !mail_history_id_valid(hid)) {
		*cause = xstrdup("a history page without a valid historyId");
		return NULL;
	}
	if (next != NULL && (next[0] == '\0' || strlen(next) > HISTORY_TOKEN_MAX))
		next = NULL;
	h = xcalloc(1, sizeof *h);
	h->history_id = xstrdup(hid);
	h->next_page = next != NULL ? xstrdup(next) : NULL;
	h->ops = json_object_new_object();
	if (history_records(h, page, cause) == -1) {
		mail_history_free(h);
		return NULL;
	}
	return h;
}

void
mail_history_free(struct mail_history *h)
{
	if (h == NULL)
		return;
	free(h->history_id);
	free(h->next_page);
	json_object_put(h->ops);
	free(h);
}

char *
mail_history_label_ids(const struct mail_history *h)
{
	json_object *ids = json_object_new_array();
	char *s = NULL;

	json_object_object_foreach(h->ops, id, o)
		if (strcmp(json_get_string(o, "op"), "labels") == 0)
			json_object_array_add(ids, json_object_new_string(id));
	if (json_object_array_length(ids) > 0)
		s = xstrdup(json_object_to_json_string_ext(ids,
		    JSON_C_TO_STRING_PLAIN));
	json_object_put(ids);
	return s;
}

void
mail_history_mark_unknown(struct mail_history *h, const char *json)
{
	json_object *ids = json_tokener_parse(json);
	const char *id;

	if (!json_object_is_type(ids, json_type_array)) {
		/* Cannot tell: fetching is always right, only dearer. */
		json_object_object_foreach(h->ops, k, o)
			if (strcmp(json_get_string(o, "op"), "labels") == 0)
				op_set(h, k, "fetch", NULL, NULL);
		json_object_put(ids);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		id = json_object_get_string(json_object_array_get_idx(ids, i));
		if (id != NULL && op_of(h, id) != NULL &&
		    strcmp(op_of(h, id), "labels") == 0)
			op_set(h, id, "fetch", NULL, NULL);
	}
	json_object_put(ids);
}
