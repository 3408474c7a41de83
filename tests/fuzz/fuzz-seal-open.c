/* SPDX-License-Identifier: ISC */
/*
 * seal_open on arbitrary bytes with a fixed keyring, plus two properties
 * checked on every input: the input sealed opens back to itself, and the
 * same sealed value with one bit flipped does not open.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "seal.h"

static const char ring_text[] =
    "1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
    "2 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n";
static const struct seal_ad ad = {
	"8f14e45f-ceea-467f-a0e6-5b0d0f3e4a11", "42", "refresh_token"
};

static const struct keyring *
ring(void)
{
	static struct keyring *kr;	/* one for the whole run */

	if (kr == NULL &&
	    (kr = keyring_parse(ring_text, strlen(ring_text), "fuzz", NULL)) == NULL)
		abort();
	return kr;
}

static void
open_arbitrary(const uint8_t *data, size_t size)
{
	unsigned char *pt = NULL;
	size_t ptlen = 0;
	char *cause = NULL;

	if (seal_open(ring(), &ad, data, size, &pt, &ptlen, &cause) == 0) {
		if (pt[ptlen] != '\0')
			abort();
		secure_free(pt, ptlen);
	} else
		free(cause);
}

static void
round_trip(const uint8_t *data, size_t size)
{
	unsigned char *s, *pt;
	size_t n, ptlen, bit;
	char *cause = NULL;

	if (size > SEAL_MAX_PLAINTEXT)
		return;
	if (seal_seal(ring(), &ad, data, size, &s, &n, NULL) == -1)
		abort();
	if (seal_open(ring(), &ad, s, n, &pt, &ptlen, NULL) == -1 ||
	    ptlen != size || memcmp(pt, data, size) != 0)
		abort();
	secure_free(pt, ptlen);
	bit = size == 0 ? 0 : (data[0] * 131u + size) % (n * 8);
	s[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	if (seal_open(ring(), &ad, s, n, &pt, &ptlen, &cause) == 0)
		abort();
	free(cause);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	open_arbitrary(data, size);
	round_trip(data, size);
	return 0;
}
