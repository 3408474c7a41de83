/* SPDX-License-Identifier: ISC */
/*
 * mail_decode(): a Gmail format=full message into one row: the fields,
 * nested multiparts, bodies in many charsets, attachments, limits and
 * refusals; and the time it takes per message (printed, not asserted).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/decode.h"
#include "mail-msg.h"
#include "tap.h"
#include "util.h"

static const char *const plain_headers[] = {
	"From", "\"Doe, Jane\" <jane@example.com>",
	"To", "bob@example.com, Carol Smith <carol@example.org>",
	"Cc", "team: dan@example.net, erin@example.net;",
	"Subject", "Quarterly numbers",
	"Date", "Tue, 1 Dec 2026 12:54:24 +0100 (CET)",
	"Message-ID", " <abc123@mail.example.com>",
	"In-Reply-To", "<prev@mail.example.com>",
	"References", "<first@x>\r\n <prev@mail.example.com>",
	NULL,
};

static struct mail_decode_stats stats;

/* Decodes msg (and puts it): the row, checked to hold only text. */
static json_object *
decode(json_object *msg, const struct mail_decode_limits *lim)
{
	json_object *row = NULL;
	char err[128] = "";

	memset(&stats, 0, sizeof stats);
	if (mail_decode(msg, lim, &row, &stats, err, sizeof err) == -1) {
		printf("# refused: %s\n", err);
		row = NULL;
	} else if (!msg_all_text(row))
		ok(0, "a row holds a string that is not UTF-8 or has a NUL");
	json_object_put(msg);
	return row;
}

static const char *
str(json_object *row, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(row, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static const char *
elem(json_object *row, const char *key, size_t i)
{
	json_object *v;

	if (!json_object_object_get_ex(row, key, &v) ||
	    i >= json_object_array_length(v))
		return NULL;
	return json_object_get_string(json_object_array_get_idx(v, i));
}

static size_t
count(json_object *row, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(row, key, &v) &&
	    json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 99;
}

static json_object *
text_message(const char *mime, const char *ctype, const char *body)
{
	return msg_new(plain_headers, msg_leaf(mime, ctype, NULL, body, strlen(body)));
}

static void
test_plain_message_gives_every_field(void)
{
	json_object *row = decode(text_message("text/plain", "text/plain; charset=UTF-8",
	    "Hi Bob,\r\nsee attached.\r\n"), NULL);

	ok(row != NULL, "a plain message decodes");
	is_str(str(row, "gmail_id"), "18c2f0a1b2c3d4e5", "gmail_id is the id");
	is_str(str(row, "thread_id"), "18c2f0a1b2c3d4e0", "thread_id");
	is_str(str(row, "history_id"), "4242", "history_id stays a string");
	is_str(str(row, "internal_date_ms"), "1764590064000", "internalDate as an int");
	is_str(str(row, "size_estimate"), "1234", "size_estimate");
	is_str(elem(row, "label_ids", 1), "UNREAD", "label ids in order");
	is_str(str(row, "snippet"), "Hello & welcome", "the snippet's entities decoded");
	is_str(str(row, "from"), "Doe, Jane <jane@example.com>", "from: quotes gone");
	ok(count(row, "to") == 2, "two addresses in to");
	is_str(elem(row, "to", 1), "Carol Smith <carol@example.org>", "a named address");
	is_str(elem(row, "cc", 0), "dan@example.net", "a group's members, not its name");
	ok(count(row, "cc") == 2 && count(row, "bcc") == 0, "cc has 2, bcc none");
	is_str(str(row, "date"), "2026-12-01T11:54:24Z", "date in UTC, ISO 8601");
	is_str(str(row, "message_id"), "<abc123@mail.example.com>", "message_id trimmed");
	is_str(str(row, "references"), "<first@x> <prev@mail.example.com>",
	    "references unfolded");
	is_str(str(row, "body_text"), "Hi Bob,\r\nsee attached.\r\n", "the body");
	ok(str(row, "body_html") == NULL && str(row, "reply_to") == NULL,
	    "no html body, no reply_to: null");
	ok(count(row, "attachments") == 0, "no attachments");
	is_str(str(row, "repaired"), "0", "nothing repaired");
	json_object_put(row);
}

static void
test_nested_multiparts_find_bodies_and_attachments(void)
{
	const char html[] = "<p>Hi</p>", text[] = "Hi", png[] = "\x89PNG\r\n";
	json_object *alt = msg_multi("multipart/alternative",
	    msg_leaf("text/plain", "text/plain; charset=utf-8", NULL, text, 2),
	    msg_leaf("text/html", "text/html; charset=utf-8", NULL, html, 9), NULL);
	json_object *rel = msg_multi("multipart/related", alt,
	    msg_leaf("image/png", "image/png", NULL, png, 6), NULL);
	json_object *mixed = msg_multi("multipart/mixed", rel,
	    msg_external("application/pdf", "report.pdf", "attachment", 48213),
	    msg_leaf("text/plain", "text/plain", "notes.txt", "n", 1));
	json_object *row = decode(msg_new(plain_headers, mixed), NULL), *a;

	is_str(str(row, "body_text"), "Hi", "text/plain from inside related/alternative");
	is_str(str(row, "body_html"), "<p>Hi</p>", "text/html beside it");
	ok(count(row, "attachments") == 3, "inline image, pdf and a named text part");
	json_object_object_get_ex(row, "attachments", &a);
	a = json_object_array_get_idx(a, 1);
	is_str(str(a, "filename"), "report.pdf", "the pdf's name");
	is_str(str(a, "mime_type"), "application/pdf", "its type");
	is_str(str(a, "size"), "48213", "its size");
	is_str(str(a, "attachment_id"), "ANGjdJ_att-1", "its attachment id");
	json_object_put(row);
}

static void
body_is(const char *ctype, const char *bytes, const char *want, unsigned conv,
    unsigned rep, const char *name)
{
	json_object *row = decode(text_message("text/plain", ctype, bytes), NULL);

	is_str(str(row, "body_text"), want, name);
	ok(stats.charset_converted == conv && stats.repaired == rep,
	    "%s: %u converted, %u repaired", name, stats.charset_converted,
	    stats.repaired);
	json_object_put(row);
}

static void
test_bodies_in_declared_charsets_are_converted(void)
{
	body_is("text/plain; charset=UTF-8", "caf\xc3\xa9", "caf\xc3\xa9", 0, 0,
	    "UTF-8 as it is");
	body_is("text/plain; charset=iso-8859-1", "caf\xc3\xa9", "caf\xc3\xa9", 0, 0,
	    "transcoded by Google, label kept: as it is");
	body_is("text/plain; charset=ISO-8859-1", "caf\xe9", "caf\xc3\xa9", 1, 0,
	    "ISO-8859-1 converted");
	body_is("text/plain; charset=windows-1252", "\x93q\x94 \x80", "\xe2\x80\x9cq"
	    "\xe2\x80\x9d \xe2\x82\xac", 1, 0, "windows-1252 quotes and euro");
	body_is("text/plain; charset=\"ISO-2022-JP\"", "\x1b$BF|K\\\x1b(B",
	    "\xe6\x97\xa5\xe6\x9c\xac", 1, 0, "ISO-2022-JP, 7-bit, converted");
	body_is("text/plain; charset=Shift_JIS", "\x93\xfa\x96{",
	    "\xe6\x97\xa5\xe6\x9c\xac", 1, 0, "Shift_JIS");
	body_is("text/plain; charset=gb2312", "\xd6\xd0\xce\xc4",
	    "\xe4\xb8\xad\xe6\x96\x87", 1, 0, "GB2312 read as GBK");
	body_is("text/plain; charset=koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4",
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", 1, 0, "KOI8-R");
}

static void
test_wrong_or_unknown_charsets_fall_back_and_count(void)
{
	body_is("text/plain; charset=utf-8", "caf\xe9 cr\xe8me", "caf\xc3\xa9 cr\xc3\xa8me",
	    1, 1, "latin-1 labelled UTF-8: windows-1252, a repair");
	body_is("text/plain; charset=x-unknown", "na\xefve", "na\xc3\xafve", 1, 1,
	    "an unknown label: windows-1252");
	body_is("text/plain", "na\xefve", "na\xc3\xafve", 1, 1,
	    "no label, not UTF-8: windows-1252");
	body_is("text/plain; charset=utf-8", "\xc3\xa9t\xc3\xa9 \xff ok",
	    "\xc3\xa9t\xc3\xa9 \xef\xbf\xbd ok", 0, 1, "mostly UTF-8: one U+FFFD");
	body_is("text/plain; charset=iso-2022-jp", "plain ASCII", "plain ASCII", 0, 0,
	    "ISO-2022-JP without escapes: as it is");
}

static void
test_nul_bytes_are_dropped_everywhere(void)
{
	const char body[] = "a\0b";
	json_object *p = msg_leaf("text/plain", NULL, NULL, body, 3);
	json_object *m = msg_new(plain_headers, p), *row;

	json_object_object_add(m, "snippet", json_object_new_string_len("s\0t", 3));
	row = decode(m, NULL);
	is_str(str(row, "body_text"), "ab", "a NUL in a body is dropped");
	is_str(str(row, "snippet"), "st", "and in the snippet");
	ok(stats.repaired == 2, "each counted (%u)", stats.repaired);
	is_str(str(row, "repaired"), "2", "and the row says so");
	json_object_put(row);
}

static void
test_encoded_words_and_rfc2231_names(void)
{
	const char *const nv[] = {
		"Subject", "=?UTF-8?B?R3LDvMOfZSBhdXMg?= =?UTF-8?B?S8O2bG4=?= ok",
		"From", "=?ISO-8859-1?Q?Andr=E9_Dupont?= <andre@example.fr>",
		"To", "=?utf-8?q?M=C3=BCller=2C_Hans?= <hans@example.de>",
		NULL,
	};
	json_object *att = msg_external("text/plain", "", NULL, 10), *row, *a;
	const char *disp = "attachment; filename*0*=UTF-8''%E2%82%AC%20;"
	    " filename*1=\"rate.txt\"";
	const char *dnv[] = {"Content-Disposition", disp, NULL};

	json_object_object_add(att, "headers", msg_headers(dnv));
	row = decode(msg_new(nv, msg_multi("multipart/mixed",
	    msg_leaf("text/plain", NULL, NULL, "x", 1), att, NULL)), NULL);
	is_str(str(row, "subject"), "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln ok",
	    "adjacent B words joined without the blank");
	is_str(str(row, "from"), "Andr\xc3\xa9 Dupont <andre@example.fr>",
	    "a Q word in ISO-8859-1 as a display name");
	ok(count(row, "to") == 1, "an encoded comma does not split the address");
	is_str(elem(row, "to", 0), "M\xc3\xbcller, Hans <hans@example.de>",
	    "and decodes inside the name");
	json_object_object_get_ex(row, "attachments", &a);
	is_str(str(json_object_array_get_idx(a, 0), "filename"), "\xe2\x82\xac rate.txt",
	    "RFC 2231 continuations, percent-encoded UTF-8 then plain");
	ok(stats.body_external == 0, "an attachment is not an external body");
	json_object_put(row);
}

static void
test_body_left_out_by_gmail_is_listed_to_fetch(void)
{
	json_object *row = decode(msg_new(plain_headers, msg_multi("multipart/alternative",
	    msg_external("text/plain", "", NULL, 300000),
	    msg_leaf("text/html", NULL, NULL, "<b>x</b>", 8), NULL)), NULL), *a;
	char *text = NULL;
	size_t len = 0;
	struct mail_decode_stats st = {0, 0, 0, 0};

	ok(str(row, "body_text") == NULL, "a body behind an attachmentId is null");
	ok(stats.body_external == 1, "counted as external");
	json_object_object_get_ex(row, "attachments", &a);
	a = json_object_array_get_idx(a, 0);
	ok(a != NULL && strcmp(str(a, "mime_type"), "text/plain") == 0 &&
	    strcmp(str(a, "filename"), "") == 0, "listed, unnamed, to be fetched");
	ok(mail_decode_body("Y2Fm6Q==", 8, "iso-8859-1", NULL, &text, &len, &st) == 0 &&
	    strcmp(text, "caf\xc3\xa9") == 0 && st.charset_converted == 1,
	    "mail_decode_body() decodes what is fetched");
	free(text);
	ok(mail_decode_body("!!", 2, NULL, NULL, &text, &len, &st) == -1,
	    "and refuses what is not base64");
	json_object_put(row);
}

static void
test_limits_cut_on_character_boundaries(void)
{
	struct mail_decode_limits lim = mail_decode_limits_default;
	char subject[5001], body[64];
	const char *nv[] = {"Subject", subject, NULL};
	json_object *row;

	for (size_t i = 0; i + 2 < sizeof subject; i += 2)
		memcpy(subject + i, "\xc3\xa9", 2);
	subject[sizeof subject - 1] = '\0';
	memset(body, 'a', sizeof body);
	memcpy(body + 9, "\xe2\x82\xac", 3);	/* bytes 9..11 */
	lim.max_body = 10;
	row = decode(msg_new(nv, msg_leaf("text/plain", NULL, NULL, body, sizeof body)),
	    &lim);
	ok(str(row, "subject") != NULL && strlen(str(row, "subject")) == 4096,
	    "subject cut to 4096 bytes between characters");
	is_str(str(row, "body_text"), "aaaaaaaaa", "a body cut before a split euro sign");
	ok(stats.truncated == 2 && stats.repaired == 0, "two cuts, no repair (%u, %u)",
	    stats.truncated, stats.repaired);
	is_str(str(row, "repaired"), "2", "the row counts cuts too");
	json_object_put(row);
}

static void
test_deep_nesting_is_refused_and_many_parts_cut(void)
{
	json_object *p = msg_leaf("text/plain", NULL, NULL, "x", 1), *mixed, *parts;
	json_object *row = NULL;
	char err[64] = "";

	for (int i = 0; i < 40; i++)
		p = msg_multi("multipart/mixed", p, NULL, NULL);
	ok(mail_decode(p = msg_new(NULL, p), NULL, &row, NULL, err, sizeof err) == -1 &&
	    row == NULL, "40 levels of multipart are refused");
	is_str(err, "payload nested too deep", "with a reason");
	json_object_put(p);

	mixed = msg_multi("multipart/mixed", NULL, NULL, NULL);
	json_object_object_get_ex(mixed, "parts", &parts);
	for (int i = 0; i < 700; i++)
		json_object_array_add(parts, msg_leaf("image/gif", NULL, "a.gif", "GIF", 3));
	row = decode(msg_new(NULL, mixed), NULL);
	ok(count(row, "attachments") == 499, "the 500 parts (with the root) are read");
	ok(stats.truncated == 1, "and the cut is counted once");
	json_object_put(row);
}

static void
test_addresses_per_field_are_limited(void)
{
	char *to = xmalloc(700 * 24);
	size_t n = 0;
	const char *nv[] = {"To", NULL, NULL};
	json_object *row;

	for (int i = 0; i < 700; i++)
		n += (size_t)sprintf(to + n, "%su%d@example.com", i ? ", " : "", i);
	nv[1] = to;
	row = decode(msg_new(nv, msg_leaf("text/plain", NULL, NULL, "x", 1)), NULL);
	ok(count(row, "to") == 500, "500 addresses kept of 700");
	is_str(elem(row, "to", 499), "u499@example.com", "the first 500, in order");
	ok(stats.truncated == 1, "one cut counted");
	free(to);
	json_object_put(row);
}

static void
refused(json_object *m, const char *why)
{
	json_object *row = NULL;
	char err[64] = "";

	ok(mail_decode(m, NULL, &row, NULL, err, sizeof err) == -1 && row == NULL &&
	    strcmp(err, why) == 0, "refused: %s (%s)", why, err);
	json_object_put(m);
}

static void
test_unstorable_messages_are_refused_with_a_reason(void)
{
	json_object *m = text_message("text/plain", NULL, "x");

	json_object_object_del(m, "id");
	refused(m, "no id");
	m = text_message("text/plain", NULL, "x");
	json_object_object_del(m, "threadId");
	refused(m, "no threadId");
	m = text_message("text/plain", NULL, "x");
	json_object_object_add(m, "id", json_object_new_string("a b\n"));
	refused(m, "bad id");
	m = text_message("text/plain", NULL, "x");
	json_object_object_del(m, "payload");
	refused(m, "no payload");
}

static void
test_odd_metadata_becomes_null(void)
{
	json_object *m = text_message("text/plain", NULL, "x"), *row;

	json_object_object_add(m, "historyId", json_object_new_string("12a"));
	json_object_object_add(m, "internalDate", json_object_new_string("-5"));
	json_object_object_del(m, "sizeEstimate");
	json_object_object_del(m, "labelIds");
	row = decode(m, NULL);
	ok(str(row, "history_id") == NULL && str(row, "internal_date_ms") == NULL &&
	    str(row, "size_estimate") == NULL, "ids and numbers that are not: null");
	ok(count(row, "label_ids") == 0, "no labels: an empty array");
	json_object_put(row);
}

static void
test_a_20_mb_body_decodes(void)
{
	size_t n = 20 * 1024 * 1024;
	char *big = xmalloc(n + 1);
	json_object *row;

	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	row = decode(text_message("text/plain", "text/plain; charset=utf-8", big), NULL);
	ok(str(row, "body_text") != NULL && strlen(str(row, "body_text")) == n &&
	    stats.truncated == 0, "a 20 MB body comes through whole");
	free(big);
	json_object_put(row);
}

/* A typical message: 40 headers, a 3 KB text and a 10 KB HTML body. */
static json_object *
typical_message(void)
{
	static const char *nv[82];
	static char received[40][96];
	char text[3072], html[10240];
	size_t k = 0;

	for (int i = 0; i < 30; i++) {
		snprintf(received[i], sizeof received[i], "from mx%d.example.com by "
		    "mx.google.com with ESMTPS id x%d; Tue, 1 Dec 2026", i, i);
		nv[k++] = "Received";
		nv[k++] = received[i];
	}
	for (int i = 0; plain_headers[i] != NULL; i++)
		nv[k++] = plain_headers[i];
	nv[k] = NULL;
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = i % 72 == 71 ? '\n' : "Lorem ipsum dolor sit amet, "[i % 28];
	for (size_t i = 0; i < sizeof html; i++)
		html[i] = "<p>Lorem <b>ipsum</b> dolor sit amet</p>\n"[i % 41];
	return msg_new(nv, msg_multi("multipart/alternative",
	    msg_leaf("text/plain", "text/plain; charset=\"UTF-8\"", NULL, text, sizeof text),
	    msg_leaf("text/html", "text/html; charset=\"UTF-8\"", NULL, html, sizeof html),
	    NULL));
}

static double
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
test_speed_of_10000_typical_messages(void)
{
	json_object *msg = typical_message(), *row;
	const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	double t0, t1, t2;
	int n = 10000, good = 0;
	char err[64];

	t0 = cpu_ms();
	for (int i = 0; i < n; i++) {
		if (mail_decode(msg, NULL, &row, NULL, err, sizeof err) == 0)
			good++;
		json_object_put(row);
	}
	t1 = cpu_ms();
	for (int i = 0; i < n / 10; i++) {
		json_object *m = json_tokener_parse(text);

		json_object_put(m);
	}
	t2 = cpu_ms();
	ok(good == n, "10,000 typical messages (%zu bytes of JSON) decode", len);
	printf("# mail_decode: %.4f ms CPU per message; json-c parse of the same: "
	    "%.4f ms\n", (t1 - t0) / n, (t2 - t1) / (n / 10));
	json_object_put(msg);
}

int
main(void)
{
	test_plain_message_gives_every_field();
	test_nested_multiparts_find_bodies_and_attachments();
	test_bodies_in_declared_charsets_are_converted();
	test_wrong_or_unknown_charsets_fall_back_and_count();
	test_nul_bytes_are_dropped_everywhere();
	test_encoded_words_and_rfc2231_names();
	test_body_left_out_by_gmail_is_listed_to_fetch();
	test_limits_cut_on_character_boundaries();
	test_deep_nesting_is_refused_and_many_parts_cut();
	test_addresses_per_field_are_limited();
	test_unstorable_messages_are_refused_with_a_reason();
	test_odd_metadata_becomes_null();
	test_a_20_mb_body_decodes();
	test_speed_of_10000_typical_messages();
	return tap_done();
}
