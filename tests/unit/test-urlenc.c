/* SPDX-License-Identifier: ISC */
/*
 * urlenc: percent-encoding out (moved from test-http.c) and the strict
 * decoder rally.cgi and rallyctl google connect read input with.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "urlenc.h"

/* The decoded string, or NULL; *why is "" when it decoded. */
static char *
dec(const char *s, int flags, size_t max, const char **why)
{
	char *out = (char *)"unset";

	*why = "";
	if (urlenc_decode(s, strlen(s), flags, max, &out, why) == -1) {
		if (out != NULL)
			*why = "refused, but *out was not NULL";
		return NULL;
	}
	return out;
}

static void
is_decoded(const char *s, int flags, size_t max, const char *want,
    const char *name)
{
	const char *why;
	char *got = dec(s, flags, max, &why);

	is_str(got, want, name);
	if (got == NULL)
		printf("#   why: %s\n", why);
	free(got);
}

static void
is_refused(const char *s, int flags, size_t max, const char *want_why,
    const char *name)
{
	const char *why;
	char *got = dec(s, flags, max, &why);

	ok(got == NULL && strcmp(why, want_why) == 0, "%s", name);
	if (got != NULL || strcmp(why, want_why) != 0)
		printf("#   got: %s, why: %s\n", got != NULL ? got : "(null)", why);
	free(got);
}

static void
test_escape_keeps_only_unreserved_characters(void)
{
	const char *const kv[] = { "grant_type", "refresh_token",
		"refresh_token", "1//0g x+y", "scope", "", NULL };
	const char *const none[] = { NULL };
	char *s;

	s = urlenc_escape("a b&c=d/\xc3\xa9~-._Z9");
	is_str(s, "a%20b%26c%3Dd%2F%C3%A9~-._Z9", "urlenc_escape keeps only "
	    "unreserved characters");
	free(s);
	s = urlenc_form_encode(kv);
	is_str(s, "grant_type=refresh_token&refresh_token=1%2F%2F0g%20x%2By&scope=",
	    "urlenc_form_encode joins escaped pairs");
	free(s);
	s = urlenc_form_encode(none);
	is_str(s, "", "an empty form is an empty string");
	free(s);
}

static void
test_decode_escapes_and_plus(void)
{
	is_decoded("plain-text_~.", 0, 64, "plain-text_~.", "plain text is kept");
	is_decoded("", 0, 0, "", "empty decodes to empty");
	is_decoded("%41%62", 0, 64, "Ab", "%XX is decoded");
	is_decoded("%c3%A9", 0, 64, "\xc3\xa9", "hex digits in either case");
	is_decoded("a+b%2B", URLENC_PLUS, 64, "a b+", "URLENC_PLUS: '+' is a "
	    "space, %2B a plus");
	is_decoded("a+b", 0, 64, "a+b", "without URLENC_PLUS '+' stays");
	is_decoded("4%2F0Ab+cd", URLENC_PLUS, 64, "4/0Ab cd",
	    "a pasted OAuth code decodes as rallyctl's form_decode does");
}

static void
test_decode_reads_only_len_bytes(void)
{
	const char *why = "";
	char *out = NULL;

	ok(urlenc_decode("abc%41", 3, 0, 64, &out, &why) == 0 &&
	    strcmp(out, "abc") == 0, "bytes past len are not read");
	free(out);
	ok(urlenc_decode("ab%41", 4, 0, 64, &out, &why) == -1 && out == NULL &&
	    strcmp(why, "malformed %-escape") == 0,
	    "an escape cut short by len is malformed");
}

static void
test_decode_refuses_malformed_escapes(void)
{
	is_refused("%", 0, 64, "malformed %-escape", "a lone %");
	is_refused("abc%4", 0, 64, "malformed %-escape", "one hex digit at the end");
	is_refused("%zz", URLENC_PLUS, 64, "malformed %-escape", "no hex digits");
	is_refused("%4g", 0, 64, "malformed %-escape", "one bad hex digit");
	is_refused("%%41", 0, 64, "malformed %-escape", "%% is not an escape");
	is_refused("aaaaaaaa%zz", 0, 2, "malformed %-escape",
	    "a bad escape is reported even past the length limit");
}

static void
test_decode_limits_length_and_refuses_nul(void)
{
	is_decoded("abcd", 0, 4, "abcd", "exactly max bytes");
	is_refused("abcde", 0, 4, "too long", "max + 1 bytes are too long");
	is_decoded("%41%41", 0, 2, "AA", "the limit counts decoded bytes");
	is_refused("a%00b", 0, 64, "NUL byte", "%00 is refused");
	is_refused("abc%00", 0, 2, "too long", "too long is said before NUL");
}

static void
test_escape_then_decode_round_trips(void)
{
	char all[256], *esc, *back = NULL;
	const char *why = "";

	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	esc = urlenc_escape(all);
	ok(urlenc_decode(esc, strlen(esc), URLENC_PLUS, 255, &back, &why) == 0 &&
	    strcmp(back, all) == 0, "every byte but NUL round-trips");
	free(back);
	free(esc);
}

static void
test_append_param_escapes_the_value_only(void)
{
	char *url = xstrdup("https://g.test/m?maxResults=5");

	urlenc_append_param(&url, "pageToken", "a/b c&d=\xc3\xa9");
	urlenc_append_param(&url, "q", "");
	is_str(url, "https://g.test/m?maxResults=5&pageToken=a%2Fb%20c%26d%3D%C3%A9&q=",
	    "urlenc_append_param adds &name=escaped value");
	free(url);
}

int
main(void)
{
	test_escape_keeps_only_unreserved_characters();
	test_decode_escapes_and_plus();
	test_decode_reads_only_len_bytes();
	test_decode_refuses_malformed_escapes();
	test_decode_limits_length_and_refuses_nul();
	test_escape_then_decode_round_trips();
	test_append_param_escapes_the_value_only();
	return tap_done();
}
