/* SPDX-License-Identifier: ISC */
/*
 * The base64 and base64url decoders on arbitrary bytes.  Decoding is
 * canonical, so whatever decodes must encode back to the same text (less
 * any padding), and the input as data must round-trip.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "fuzz.h"

/* Length of s without trailing '=' (at most two). */
static size_t
unpadded(const char *s, size_t len)
{
	for (int i = 0; i < 2 && len > 0 && s[len - 1] == '='; i++)
		len--;
	return len;
}

static void
canonical(int (*dec)(const char *, size_t, unsigned char **, size_t *),
    char *(*enc)(const void *, size_t), const char *s, size_t len)
{
	unsigned char *out;
	size_t outlen, n;
	char *again;

	if (dec(s, len, &out, &outlen) == -1)
		return;
	if (out[outlen] != '\0' || (again = enc(out, outlen)) == NULL)
		abort();
	n = unpadded(again, strlen(again));
	if (n != unpadded(s, len) || memcmp(again, s, n) != 0)
		abort();
	free(again);
	free(out);
}

static void
round_trip(int (*dec)(const char *, size_t, unsigned char **, size_t *),
    char *(*enc)(const void *, size_t), const uint8_t *data, size_t size)
{
	char *s = enc(data, size);
	unsigned char *out;
	size_t outlen;

	if (s == NULL || dec(s, strlen(s), &out, &outlen) == -1 ||
	    outlen != size || memcmp(out, data, size) != 0)
		abort();
	free(out);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	canonical(b64_decode, b64_encode, (const char *)data, size);
	canonical(b64url_decode, b64url_encode, (const char *)data, size);
	round_trip(b64_decode, b64_encode, data, size);
	round_trip(b64url_decode, b64url_encode, data, size);
	return 0;
}
