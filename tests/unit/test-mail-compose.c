/* SPDX-License-Identifier: ISC */
/*
 * mail_compose(): the wire form (CRLF, line lengths, folding, encodings)
 * and the refusals.  Field-by-field parsing back with Python's email
 * package is tests/integration/test_mail_compose.py.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/compose.h"
#include "tap.h"
#include "util.h"

static const char *const to1[] = {"Bob <bob@example.org>"};

static struct mail_draft
base(void)
{
	struct mail_draft d;

	memset(&d, 0, sizeof d);
	d.from = "me@example.com";
	d.to = to1;
	d.nto = 1;
	d.subject = "Hello";
	d.message_id = "<m1@example.com>";
	d.body_text = "Hi\n";
	d.date = 1764590064;
	return d;
}

/* Every line ends in CRLF, none is over max (headers: hmax) octets. */
static int
wire_ok(const char *m, size_t len, size_t hmax)
{
	size_t start = 0;
	int in_head = 1;

	for (size_t i = 0; i < len; i++) {
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			return 0;
		if (m[i] == '\r' && (i + 1 == len || m[i + 1] != '\n'))
			return 0;
		if (m[i] == '\n') {
			size_t l = i - 1 - start;

			if (l > 998 || (in_head && l > hmax))
				return 0;
			if (l == 0)
				in_head = 0;
			start = i + 1;
		}
		if ((unsigned char)m[i] >= 0x80)
			return 0;
	}
	return start == len;
}

static char *
compose(const struct mail_draft *d, size_t *len)
{
	char err[96] = "", *out = NULL;

	if (mail_compose(d, &out, len, err, sizeof err) == -1) {
		printf("# refused: %s\n", err);
		return NULL;
	}
	return out;
}

static void
test_plain_message_wire_form(void)
{
	struct mail_draft d = base();
	size_t len;
	char *m = compose(&d, &len);

	ok(m != NULL && wire_ok(m, len, 78), "CRLF only, ASCII, headers within 78");
	ok(m != NULL && strncmp(m, "Date: Mon, 01 Dec 2025 11:54:24 +0000\r\n", 39) == 0,
	    "the Date header first");
	ok(m != NULL && strstr(m, "\r\nTo: Bob <bob@example.org>\r\n") != NULL,
	    "an atom name unquoted");
	ok(m != NULL && strstr(m, "\r\nMIME-Version: 1.0\r\n") != NULL &&
	    strstr(m, "Content-Transfer-Encoding: quoted-printable\r\n\r\nHi\r\n") != NULL,
	    "MIME-Version, a quoted-printable body with CRLF");
	free(m);
}

static void
test_long_text_folds_and_stays_under_the_limits(void)
{
	struct mail_draft d = base();
	char *subject = xmalloc(3001), *body = xmalloc(20001), *m;
	size_t len;

	for (int i = 0; i < 3000; i += 2)
		memcpy(subject + i, i % 14 == 12 ? "  " : "\xc3\xa9", 2);
	subject[3000] = '\0';
	memset(body, 'a', 20000);
	body[20000] = '\0';
	d.subject = subject;
	m = compose(&d, &len);
	ok(m != NULL && wire_ok(m, len, 78), "a 3000-byte UTF-8 subject folds within 78");
	ok(m != NULL && strstr(m, "=?UTF-8?B?") != NULL, "as encoded-words");
	free(m);
	d = base();
	d.body_text = body;
	m = compose(&d, &len);
	ok(m != NULL && wire_ok(m, len, 78), "a 20000-byte line of body stays within 998");
	free(m);
	free(subject);
	free(body);
}

static void
refused(struct mail_draft d, const char *want, const char *name)
{
	char err[96] = "", *out = NULL;
	size_t len;

	ok(mail_compose(&d, &out, &len, err, sizeof err) == -1 && out == NULL &&
	    strcmp(err, want) == 0, "%s (%s)", name, err);
}

static void
test_header_injection_and_bad_input_are_refused(void)
{
	static const char *const evil[] = {"a@example.com", "b@example.com\r\nBcc: x@y.z"};
	static const char *const two[] = {"a@example.com, b@example.com"};
	struct mail_draft d = base();
	struct mail_attachment att = {"x\n.txt", NULL, NULL, 0};

	d.subject = "Hi\r\nBcc: evil@example.com";
	refused(d, "header injection in subject", "CR LF in the subject");
	d = base();
	d.to = evil, d.nto = 2;
	refused(d, "header injection in to[1]", "LF in an address");
	d = base();
	d.to = two;
	refused(d, "bad address in to[0]", "two addresses in one");
	d = base();
	d.att = &att, d.natt = 1;
	refused(d, "header injection in att.filename[0]", "LF in a file name");
	d = base();
	d.body_text = "\xff";
	refused(d, "bad UTF-8 in body_text", "a body that is not UTF-8");
	d = base();
	d.nto = 0;
	refused(d, "no recipients", "nobody to send to");
}

static double
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A reply with a 3 KB text and a 10 KB HTML body, 1,000 times. */
static void
test_speed_of_composing(void)
{
	struct mail_draft d = base();
	char text[3073], html[10241], *m;
	size_t len;
	int good = 0, n = 1000;
	double t0;

	for (size_t i = 0; i < sizeof text - 1; i++)
		text[i] = i % 72 == 71 ? '\n' : "Lorem ipsum d\xc3\xa9j\xc3\xa0 vu, "[i % 24];
	text[sizeof text - 1] = '\0';
	for (size_t i = 0; i < sizeof html - 1; i++)
		html[i] = "<p>Lorem <b>ipsum</b> dolor sit amet</p>\n"[i % 41];
	html[sizeof html - 1] = '\0';
	d.body_text = text;
	d.body_html = html;
	d.subject = "Re: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln";
	d.in_reply_to = "<prev@example.com>";
	d.references = "<first@example.com> <prev@example.com>";
	t0 = cpu_ms();
	for (int i = 0; i < n; i++) {
		if ((m = compose(&d, &len)) != NULL && wire_ok(m, len, 78))
			good++;
		free(m);
	}
	ok(good == n, "1,000 replies composed");
	printf("# mail_compose: %.4f ms CPU per message (with the check of its lines)\n",
	    (cpu_ms() - t0) / n);
}

int
main(void)
{
	test_plain_message_wire_form();
	test_long_text_folds_and_stays_under_the_limits();
	test_header_injection_and_bad_input_are_refused();
	test_speed_of_composing();
	return tap_done();
}
