/* SPDX-License-Identifier: ISC */
/*
 * The header parsers under mail_decode(): encoded-words (RFC 2047),
 * address lists (RFC 5322 3.4), dates (RFC 5322 3.3) and MIME parameters
 * (RFC 2045, RFC 2231).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mail/addr.h"
#include "mail/charset.h"
#include "mail/date.h"
#include "mail/mimeparam.h"
#include "mail/rfc2047.h"
#include "strbuf.h"
#include "tap.h"
#include "utf8.h"

static void
decodes(const char *in, const char *want, const char *name)
{
	struct strbuf b = STRBUF_INIT;
	struct charset_counts c = {0, 0};

	rfc2047_decode(in, strlen(in), &b, &c);
	is_str(b.p != NULL ? b.p : "", want, name);
	strbuf_free(&b);
}

static void
test_encoded_words(void)
{
	decodes("=?UTF-8?Q?caf=C3=A9_au_lait?=", "caf\xc3\xa9 au lait", "Q, underscores");
	decodes("=?utf-8?b?4oKs?=", "\xe2\x82\xac", "B in lower case");
	decodes("a =?UTF-8?Q?x?= \t =?UTF-8?Q?y?= b", "a xy b",
	    "blanks between words go, blanks around them stay");
	decodes("=?UTF-8?B?4g==?= =?UTF-8?B?gqw=?=", "\xe2\x82\xac",
	    "a character split across two words survives");
	decodes("=?ISO-8859-1?Q?=E9?==?KOI8-R?B?8A==?=", "\xc3\xa9\xd0\x9f",
	    "two charsets back to back");
	decodes("=?ISO-2022-JP?B?GyRCRnxLXBsoQg==?=", "\xe6\x97\xa5\xe6\x9c\xac",
	    "ISO-2022-JP in B");
	decodes("=?UTF-8*en?Q?hi?=", "hi", "an RFC 2231 language tag");
	decodes("=?UTF-8?X?abc?= =?bad", "=?UTF-8?X?abc?= =?bad",
	    "what is not an encoded-word stays");
	decodes("=?UTF-8?B?!!!?=", "=?UTF-8?B?!!!?=", "broken base64 stays");
	decodes("line\r\n folded", "line folded", "folding removed");
	decodes("=?x-unknown?Q?na=EFve?=", "na\xc3\xafve",
	    "an unknown charset: windows-1252");
}

struct list {
	const char *got[8];
	char buf[8][128];
	int n;
};

static void
collect(void *arg, const char *s, size_t len)
{
	struct list *l = arg;
	struct strbuf b = STRBUF_INIT;
	struct charset_counts c = {0, 0};

	mail_addr_format(s, len, &b, &c);
	snprintf(l->buf[l->n], sizeof l->buf[0], "%s", b.p != NULL ? b.p : "");
	l->got[l->n] = l->buf[l->n];
	l->n++;
	strbuf_free(&b);
}

static void
splits(const char *in, int n, const char *const *want, const char *name)
{
	struct list l = {{NULL}, {{0}}, 0};
	size_t total = mail_addr_split(in, strlen(in), 8, collect, &l);
	int good = (int)total == n && l.n == n;

	for (int i = 0; good && i < n; i++)
		good = strcmp(l.got[i], want[i]) == 0;
	if (!ok(good, "%s", name))
		for (int i = 0; i < l.n; i++)
			printf("#   got[%d]: %s\n", i, l.got[i]);
}

static void
test_address_lists(void)
{
	splits("\"Smith, John\" <john@x.org>, jane@y.org", 2,
	    (const char *[]){"Smith, John <john@x.org>", "jane@y.org"},
	    "a comma inside quotes does not split");
	splits("john@x.org (Smith, John), <jane@y.org>", 2,
	    (const char *[]){"Smith, John <john@x.org>", "jane@y.org"},
	    "a comma inside a comment does not split; the comment names it");
	splits("Friends: a@x, \"B\" <b@x>;, c@x", 3,
	    (const char *[]){"a@x", "B <b@x>", "c@x"}, "a group keeps its members");
	splits("undisclosed-recipients:;", 0, (const char *[]){NULL},
	    "an empty group is no address");
	splits("Doe, John <j@x>, Roe, Ann <a@x>", 2,
	    (const char *[]){"Doe, John <j@x>", "Roe, Ann <a@x>"},
	    "unquoted names with commas, as Gmail decodes them");
	splits("\"a\\\"b\" <q@x>", 1, (const char *[]){"a\"b <q@x>"},
	    "a quoted-pair");
	splits("<@relay.example:r@x>", 1, (const char *[]){"r@x"}, "a route goes");
	splits(" , ,a@x,, ", 1, (const char *[]){"a@x"}, "empty members skipped");
	splits("=?UTF-8?Q?J=C3=B6rg?= <j@x>", 1, (const char *[]){"J\xc3\xb6rg <j@x>"},
	    "an encoded display name");
	splits("\"=?UTF-8?Q?J=C3=B6rg?=\" <j@x>", 1,
	    (const char *[]){"J\xc3\xb6rg <j@x>"}, "even quoted, as mailers write it");
}

static void
date_is(const char *in, const char *want, const char *name)
{
	char iso[MAIL_DATE_ISO_LEN + 1];
	time_t t;

	if (mail_date_parse(in, strlen(in), &t) == -1)
		is_str(NULL, want, name);
	else {
		mail_date_iso(t, iso);
		is_str(iso, want, name);
	}
}

static void
test_dates(void)
{
	char buf[MAIL_DATE_RFC_LEN + 1];

	date_is("Tue, 01 Dec 2026 11:54:24 +0000", "2026-12-01T11:54:24Z", "RFC 5322");
	date_is("1 Dec 2026 06:54:24 -0500", "2026-12-01T11:54:24Z", "no day name");
	date_is("Tue,  1 Dec 2026 03:54 PST (Pacific)", "2026-12-01T11:54:00Z",
	    "no seconds, a named zone, a comment");
	date_is("Wed, 29 Feb 24 23:59:60 GMT", "2024-02-29T23:59:59Z",
	    "two-digit year, leap day, leap second");
	date_is("01 Jan 1970 00:00:00 +0100", "1969-12-31T23:00:00Z", "before the epoch");
	date_is("Tue, 1 Dec 2026 11:54:24", "2026-12-01T11:54:24Z", "no zone: UTC");
	date_is("Tue, 1 Dec 2026 11:54:24 Z", "2026-12-01T11:54:24Z", "military Z");
	date_is("30 Feb 2026 10:00:00 +0000", NULL, "30 February is no date");
	date_is("Tue, 1 Foo 2026 10:00:00 +0000", NULL, "an unknown month");
	date_is("yesterday", NULL, "words");
	date_is("1 Dec 2026 25:00:00 +0000", NULL, "hour 25");
	date_is("31 Dec 9999 23:00:00 -0200", NULL, "past 9999 in UTC");
	mail_date_rfc5322(1764590064, buf);
	is_str(buf, "Mon, 01 Dec 2025 11:54:24 +0000", "written as RFC 5322");
}

static void
param_is(const char *hv, const char *name, const char *want, const char *what)
{
	struct strbuf b = STRBUF_INIT;
	struct charset_counts c = {0, 0};
	bool found = mimeparam_get(hv, strlen(hv), name, &b, &c);

	is_str(found ? (b.p != NULL ? b.p : "") : NULL, want, what);
	strbuf_free(&b);
}

static void
test_mime_parameters(void)
{
	struct strbuf b = STRBUF_INIT;
	const char *v;

	param_is("text/plain; charset=\"utf-8\"; format=flowed", "charset", "utf-8",
	    "a quoted value");
	param_is("attachment; FILENAME=plain.txt", "filename", "plain.txt",
	    "names without regard to case");
	param_is("attachment; filename=\"a \\\"q\\\".txt\"", "filename", "a \"q\".txt",
	    "quoted-pairs");
	param_is("attachment; filename*=iso-8859-1'fr'r%E9sum%E9.pdf", "filename",
	    "r\xc3\xa9sum\xc3\xa9.pdf", "RFC 2231 with a charset and language");
	param_is("attachment; filename*1=\"b.txt\"; filename*0=\"a\"", "filename",
	    "ab.txt", "continuations in any order");
	param_is("attachment; filename=old.txt; filename*=UTF-8''new.txt", "filename",
	    "new.txt", "the extended form wins");
	param_is("attachment; filename=\"=?UTF-8?B?4oKs?=.txt\"", "filename",
	    "\xe2\x82\xac.txt", "encoded-words in a plain value");
	param_is("inline", "filename", NULL, "absent");
	param_is("a; filename*9999=x", "filename", NULL, "a section past the limit");
	ok(mimeparam_value(" Attachment ; x=y", 17, &v) == 10 &&
	    strncmp(v, "Attachment", 10) == 0, "the value before the parameters");
	ok(mimeparam_raw("text/plain; charset=koi8-r", 26, "charset", &b) &&
	    strcmp(b.p, "koi8-r") == 0, "a raw parameter");
	strbuf_free(&b);
}

static void
test_utf8_helpers(void)
{
	struct strbuf b = STRBUF_INIT;

	ok(utf8_valid("\xed\x9f\xbf", 3) && !utf8_valid("\xed\xa0\x80", 3),
	    "surrogates are not UTF-8");
	ok(!utf8_valid("\xc0\xaf", 2) && !utf8_valid("\xf4\x90\x80\x80", 4),
	    "overlong forms and code points past U+10FFFF are not");
	ok(utf8_valid("a\0b", 3) && !utf8_text("a\0b", 3), "NUL is UTF-8, not text");
	ok(utf8_repair(&b, "a\xff\0b\xe2\x82", 6) == 4 &&
	    strcmp(b.p, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd") == 0,
	    "repair: U+FFFD per bad byte, NUL dropped");
	ok(utf8_cut("a\xe2\x82\xac", 4, 3) == 1 && utf8_cut("abc", 3, 5) == 3,
	    "cuts fall between characters");
	ok(utf8_drop_partial("a\xe2\x82", 3) == 1 && utf8_drop_partial("a\xe2\x82\xac",
	    4) == 4, "an incomplete last character is dropped");
	strbuf_free(&b);
}

int
main(void)
{
	test_encoded_words();
	test_address_lists();
	test_dates();
	test_mime_parameters();
	test_utf8_helpers();
	return tap_done();
}
