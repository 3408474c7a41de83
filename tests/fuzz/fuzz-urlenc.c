/* SPDX-License-Identifier: ISC */
/*
 * urlenc_decode() and urlenc_escape() (lib/urlenc.c) on arbitrary bytes.
 * The first byte picks the flags (bit 0: URLENC_PLUS), the second the
 * limit (255: none); the rest is the input, NULs and all.
 *
 * Checks besides "no crash": a result or a reason, never both; a result
 * within the limit, without NUL, shorter by two bytes per escape; what is
 * refused is refused for one of the three documented reasons; escaping
 * then decoding gives back the input, and the result.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "urlenc.h"

static size_t
count(const char *s, size_t len, char c)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

static void
round_trip(const char *s, int flags)
{
	char *esc = urlenc_escape(s), *back = NULL;
	const char *why = NULL;

	if (urlenc_decode(esc, strlen(esc), flags, strlen(s), &back, &why) == -1 ||
	    strcmp(back, s) != 0)
		abort();
	free(back);
	free(esc);
}

static void
check_refusal(const char *why)
{
	if (why == NULL || (strcmp(why, "malformed %-escape") != 0 &&
	    strcmp(why, "too long") != 0 && strcmp(why, "NUL byte") != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 2, *why = NULL;
	size_t len, max;
	char *out = (char *)"unset", *prefix;
	int flags;

	if (size < 2)
		return 0;
	flags = data[0] & 1 ? URLENC_PLUS : 0;
	max = data[1] == 255 ? SIZE_MAX : data[1];
	len = size - 2;
	if (urlenc_decode(s, len, flags, max, &out, &why) == -1) {
		if (out != NULL)
			abort();
		check_refusal(why);
	} else {
		if (out == NULL || strlen(out) > max ||
		    strlen(out) != len - 2 * count(s, len, '%'))
			abort();
		round_trip(out, flags);
		free(out);
	}
	prefix = strndup(s, len);
	if (prefix == NULL)
		return 0;
	round_trip(prefix, 0);
	round_trip(prefix, URLENC_PLUS);
	free(prefix);
	return 0;
}
