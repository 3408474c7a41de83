/* SPDX-License-Identifier: ISC */
/* b64: RFC 4648 vectors, base64url, strict decoding and limits. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "tap.h"

static const struct {
	const char *data, *std, *url;
} rfc4648[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

/* Decoding s (as a C string) must succeed and give want. */
static void
expect_decode(int (*dec)(const char *, size_t, unsigned char **, size_t *),
    const char *s, const char *want, const char *name)
{
	unsigned char *out = NULL;
	size_t outlen = 0;
	int rc = dec(s, strlen(s), &out, &outlen);

	ok(rc == 0 && outlen == strlen(want) && memcmp(out, want, outlen) == 0 &&
	    out[outlen] == '\0', "%s (\"%s\")", name, s);
	free(out);
}

static void
expect_reject(int (*dec)(const char *, size_t, unsigned char **, size_t *),
    const char *s, size_t len, const char *name)
{
	unsigned char *out = NULL;
	size_t outlen = 0;

	ok(dec(s, len, &out, &outlen) == -1 && out == NULL, "%s", name);
	free(out);
}

static void
test_rfc4648_vectors(void)
{
	for (size_t i = 0; i < nitems(rfc4648); i++) {
		const char *d = rfc4648[i].data;
		char *s = b64_encode(d, strlen(d)), *u = b64url_encode(d, strlen(d));

		is_str(s, rfc4648[i].std, "base64 encodes the RFC 4648 vector");
		is_str(u, rfc4648[i].url, "base64url encodes it without padding");
		free(s);
		free(u);
		expect_decode(b64_decode, rfc4648[i].std, d,
		    "base64 decodes the padded RFC 4648 vector");
		expect_decode(b64_decode, rfc4648[i].url, d,
		    "base64 decodes the vector without padding");
		expect_decode(b64url_decode, rfc4648[i].url, d,
		    "base64url decodes the vector without padding");
		expect_decode(b64url_decode, rfc4648[i].std, d,
		    "base64url decodes the vector with padding");
	}
}

static void
test_alphabets_differ(void)
{
	static const unsigned char b[] = { 0xfb, 0xff, 0xbf };
	char *s = b64_encode(b, sizeof b), *u = b64url_encode(b, sizeof b);

	is_str(s, "+/+/", "base64 uses + and /");
	is_str(u, "-_-_", "base64url uses - and _");
	free(s);
	free(u);
	expect_reject(b64_decode, "-_-_", 4, "base64 rejects - and _");
	expect_reject(b64url_decode, "+/+/", 4, "base64url rejects + and /");
}

static void
test_invalid_input(void)
{
	expect_reject(b64_decode, "Zm9v!A==", 8, "a character outside the alphabet is rejected");
	expect_reject(b64_decode, "Zm9v\nYg==", 9, "a newline is rejected");
	expect_reject(b64_decode, "Zm 9v", 5, "a blank is rejected");
	expect_reject(b64_decode, "Zm9\0v", 5, "a NUL byte inside the length is rejected");
	expect_reject(b64_decode, "Z", 1, "a single trailing character is rejected");
	expect_reject(b64_decode, "Zm9vY", 5, "five characters cannot be base64");
	expect_reject(b64_decode, "Zg=", 3, "incomplete padding is rejected");
	expect_reject(b64_decode, "Zm8==", 5, "too much padding is rejected");
	expect_reject(b64_decode, "Zg==Zg==", 8, "padding in the middle is rejected");
	expect_reject(b64_decode, "====", 4, "padding alone is rejected");
	expect_reject(b64_decode, "=", 1, "a lone '=' is rejected");
	expect_reject(b64_decode, "Zh==", 4, "non-zero unused bits (1 byte) are rejected");
	expect_reject(b64_decode, "Zm9=", 4, "non-zero unused bits (2 bytes) are rejected");
	expect_reject(b64url_decode, "Zh", 2, "base64url also rejects non-zero unused bits");
	expect_reject(b64url_decode, "Zm9v\r", 5, "base64url rejects a carriage return");
}

static void
test_length_argument(void)
{
	expect_decode(b64_decode, "Zm9v", "foo", "a decoder stops at len");
	{
		unsigned char *out = NULL;
		size_t outlen = 0;

		ok(b64_decode("Zm9vYmFyXXXX", 8, &out, &outlen) == 0 &&
		    outlen == 6 && memcmp(out, "foobar", 6) == 0,
		    "characters after len are not read");
		free(out);
	}
}

static void
test_round_trip_all_bytes(void)
{
	unsigned char data[300];
	int good = 1;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	for (size_t n = 0; n <= sizeof data; n++) {
		char *s = b64_encode(data, n), *u = b64url_encode(data, n);
		unsigned char *a = NULL, *b = NULL;
		size_t alen = 0, blen = 0;

		if (b64_decode(s, strlen(s), &a, &alen) == -1 || alen != n ||
		    memcmp(a, data, n) != 0 ||
		    b64url_decode(u, strlen(u), &b, &blen) == -1 || blen != n ||
		    memcmp(b, data, n) != 0 || strchr(u, '=') != NULL)
			good = 0;
		free(s);
		free(u);
		free(a);
		free(b);
	}
	ok(good, "every length from 0 to 300 round-trips in both alphabets");
}

static void
test_limits(void)
{
	static const char small[4] = "AAAA";
	unsigned char *out = NULL;
	size_t outlen;

	/* The length is checked before the data is read. */
	ok(b64_encode(small, B64_MAX_DECODED + 1) == NULL,
	    "encoding more than B64_MAX_DECODED bytes is refused");
	ok(b64url_encode(small, B64_MAX_DECODED + 1) == NULL,
	    "base64url encoding has the same limit");
	ok(b64_decode(small, SIZE_MAX, &out, &outlen) == -1 && out == NULL,
	    "decoding an input longer than the limit is refused");
}

int
main(void)
{
	test_rfc4648_vectors();
	test_alphabets_differ();
	test_invalid_input();
	test_length_argument();
	test_round_trip_all_bytes();
	test_limits();
	return tap_done();
}
