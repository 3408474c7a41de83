/* SPDX-License-Identifier: ISC */
/*
 * mail_history_parse() (daemon/mail-history.c) on a history page as
 * Gmail, or anything pretending to be it, might send.
 *
 * Checks besides "no crash": a parsed page has a valid history id; every
 * op is one of fetch, labels, delete, and a labels op carries an array of
 * strings and a valid record id; the label ids list holds exactly the
 * labels ops; marking them all unknown turns them all into fetches.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "mail-history.h"
#include "util.h"

static size_t
check_ops(const struct mail_history *h)
{
	size_t labels = 0;
	json_object *l;

	json_object_object_foreach(h->ops, id, o) {
		const char *op = json_get_string(o, "op");

		if (id[0] == '\0' || op == NULL)
			abort();
		if (strcmp(op, "labels") == 0) {
			const char *hid = json_get_string(o, "hid");

			if (hid == NULL || !mail_history_id_valid(hid) ||
			    !json_object_object_get_ex(o, "labels", &l) ||
			    !json_object_is_type(l, json_type_array))
				abort();
			labels++;
		} else if (strcmp(op, "fetch") != 0 && strcmp(op, "delete") != 0)
			abort();
	}
	return labels;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *page = json_parse_limited((const char *)data, size, 1 << 20,
	    32, NULL);
	struct mail_history *h;
	json_object *ids;
	char *cause = NULL, *list;
	size_t labels;

	if (!json_object_is_type(page, json_type_object)) {
		json_object_put(page);
		return 0;
	}
	if ((h = mail_history_parse(page, &cause)) == NULL) {
		if (cause == NULL)
			abort();
		free(cause);
		json_object_put(page);
		return 0;
	}
	if (!mail_history_id_valid(h->history_id))
		abort();
	labels = check_ops(h);
	list = mail_history_label_ids(h);
	if ((list == NULL) != (labels == 0))
		abort();
	if (list != NULL) {
		ids = json_tokener_parse(list);
		if (json_object_array_length(ids) != labels)
			abort();
		json_object_put(ids);
		mail_history_mark_unknown(h, list);
		if (check_ops(h) != 0)
			abort();
	}
	free(list);
	mail_history_free(h);
	json_object_put(page);
	return 0;
}
