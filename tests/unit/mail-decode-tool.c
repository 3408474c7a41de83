/* SPDX-License-Identifier: ISC */
/*
 * mail-decode-tool: mail_decode() for tests/integration/test_mail_decode.py.
 * Reads one users.messages.get format=full answer as JSON on standard
 * input and writes {"row": {...}, "stats": {...}} or {"error": "..."} on
 * standard output.  Not installed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "mail/decode.h"
#include "util.h"

#define INPUT_MAX (80 * 1024 * 1024)

int
main(void)
{
	struct mail_decode_stats st = {0, 0, 0, 0};
	json_object *msg, *row = NULL, *out = json_object_new_object(), *s;
	char *buf = xmalloc(INPUT_MAX), *cause = NULL, err[128];
	size_t len = fread(buf, 1, INPUT_MAX, stdin);

	if ((msg = json_parse_limited(buf, len, INPUT_MAX, 128, &cause)) == NULL) {
		fprintf(stderr, "bad input: %s\n", cause);
		return 2;
	}
	if (mail_decode(msg, NULL, &row, &st, err, sizeof err) == 0) {
		json_object_object_add(out, "row", row);
		s = json_object_new_object();
		json_object_object_add(s, "repaired", json_object_new_int64(st.repaired));
		json_object_object_add(s, "charset_converted",
		    json_object_new_int64(st.charset_converted));
		json_object_object_add(s, "truncated", json_object_new_int64(st.truncated));
		json_object_object_add(s, "body_external",
		    json_object_new_int64(st.body_external));
		json_object_object_add(out, "stats", s);
	} else
		json_object_object_add(out, "error", json_object_new_string(err));
	puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
	json_object_put(out);
	json_object_put(msg);
	free(buf);
	return 0;
}
