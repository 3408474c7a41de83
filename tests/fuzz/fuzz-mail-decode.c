/* SPDX-License-Identifier: ISC */
/*
 * mail_decode() (lib/mail/decode.c and the parsers under it) on arbitrary
 * input.  The first byte picks what the rest is:
 *   0: a whole message as JSON (through json_parse_limited());
 *   1: a header value, given as Subject, From, To, Cc, Date and the
 *      Content-Type and Content-Disposition of an attachment;
 *   2: a charset name, a newline, then the bytes of a text/plain body.
 * Small limits (a 64-byte body, 3 addresses) are used on every other
 * input, so the cuts are reached too.
 *
 * Checks besides "no crash": a row or a refusal, never both; a refusal is
 * one of the documented reasons; every string of a row is UTF-8 without
 * NUL; each value within its limit; the row's repaired count matches the
 * statistics.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "mail-msg.h"
#include "mail/decode.h"

static const char *const reasons[] = {"no id", "no threadId", "bad id",
    "no payload", "payload nested too deep"};

static size_t
len_of(json_object *row, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(row, key, &v) || v == NULL)
		return 0;
	return (size_t)json_object_get_string_len(v);
}

static void
check_row(json_object *row, const struct mail_decode_limits *l,
    const struct mail_decode_stats *st)
{
	json_object *v;

	if (!msg_all_text(row) || len_of(row, "subject") > l->max_subject ||
	    len_of(row, "from") > l->max_address ||
	    len_of(row, "message_id") > l->max_message_id ||
	    len_of(row, "references") > l->max_references ||
	    len_of(row, "snippet") > l->max_snippet ||
	    len_of(row, "body_text") > l->max_body || len_of(row, "body_html") > l->max_body)
		abort();
	if (!json_object_object_get_ex(row, "to", &v) ||
	    json_object_array_length(v) > l->max_addresses)
		abort();
	if (!json_object_object_get_ex(row, "repaired", &v) ||
	    json_object_get_int64(v) != (int64_t)st->repaired + st->truncated)
		abort();
}

static void
run(json_object *msg, const struct mail_decode_limits *lim)
{
	struct mail_decode_stats st = {0, 0, 0, 0};
	json_object *row = NULL;
	char err[64] = "";
	size_t i;

	if (mail_decode(msg, lim, &row, &st, err, sizeof err) == 0) {
		if (row == NULL || err[0] != '\0')
			abort();
		check_row(row, lim != NULL ? lim : &mail_decode_limits_default, &st);
		json_object_put(row);
		return;
	}
	for (i = 0; i < nitems(reasons) && strcmp(err, reasons[i]) != 0; i++)
		;
	if (row != NULL || i == nitems(reasons))
		abort();
}

static json_object *
header_message(const char *v)
{
	const char *nv[] = {"Subject", v, "From", v, "To", v, "Cc", v, "Date", v,
	    "Message-ID", v, "References", v, NULL};
	const char *anv[] = {"Content-Type", v, "Content-Disposition", v, NULL};
	json_object *att = msg_external("application/octet-stream", v, NULL, 1);

	json_object_object_add(att, "headers", msg_headers(anv));
	return msg_new(nv, msg_multi("multipart/mixed",
	    msg_leaf("text/plain", v, NULL, v, strlen(v)), att, NULL));
}

static json_object *
body_message(const char *s, size_t len)
{
	const char *nl = memchr(s, '\n', len);
	size_t clen = nl != NULL ? (size_t)(nl - s) : 0;
	char *ctype = malloc(clen + 32);
	json_object *m;

	if (ctype == NULL)
		return NULL;
	snprintf(ctype, clen + 32, "text/plain; charset=\"%.*s\"", (int)clen, s);
	if (nl != NULL)
		len -= clen + 1, s = nl + 1;
	m = msg_new(NULL, msg_leaf("text/plain", ctype, NULL, s, len));
	free(ctype);
	return m;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_decode_limits small = mail_decode_limits_default;
	const char *s = (const char *)data + 1;
	json_object *msg = NULL;
	char *v, *cause = NULL;

	if (size < 1)
		return 0;
	small.max_body = 64;
	small.max_addresses = 3;
	small.max_subject = 16;
	small.max_parts = 4;
	small.max_depth = 3;
	if (data[0] == 0)
		msg = json_parse_limited(s, size - 1, 1 << 20, 64, &cause);
	else if (data[0] == 1 && (v = strndup(s, size - 1)) != NULL) {
		msg = header_message(v);
		free(v);
	} else if (data[0] == 2)
		msg = body_message(s, size - 1);
	free(cause);
	if (msg == NULL)
		return 0;
	run(msg, NULL);
	run(msg, &small);
	json_object_put(msg);
	return 0;
}
