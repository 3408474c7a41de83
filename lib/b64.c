/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "b64.h"

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Longest input accepted by the decoders: the encoding of the largest data. */
#define B64_MAX_ENCODED ((B64_MAX_DECODED + 2) / 3 * 4)

static char *
encode(const char *alphabet, bool pad, const void *in, size_t len)
{
	const unsigned char *p = in;
	char *out, *o;
	size_t i;

	if (len > B64_MAX_DECODED)
		return NULL;
	o = out = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		*o++ = alphabet[p[i] >> 2];
		*o++ = alphabet[(p[i] & 3) << 4];
		if (pad) {
			*o++ = '=';
			*o++ = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];

		*o++ = alphabet[v >> 10];
		*o++ = alphabet[(v >> 4) & 63];
		*o++ = alphabet[(v & 15) << 2];
		if (pad)
			*o++ = '=';
	}
	*o = '\0';
	return out;
}

char *
b64_encode(const void *in, size_t len)
{
	return encode(std_alphabet, true, in, len);
}

char *
b64url_encode(const void *in, size_t len)
{
	return encode(url_alphabet, false, in, len);
}

/* The value of c in alphabet, or -1; ranges rather than a search, for speed. */
static int
sextet(const char *alphabet, char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == alphabet[62])
		return 62;
	if (c == alphabet[63])
		return 63;
	return -1;
}

/*
 * Strips valid padding from *len.  Padding, when present, makes the
 * length a multiple of 4 and is one or two '=' that replace exactly the
 * characters a short final group lacks.
 */
static int
strip_padding(const char *s, size_t *len)
{
	size_t n = *len, npad = 0;

	while (npad < 2 && n > 0 && s[n - 1] == '=') {
		n--;
		npad++;
	}
	if (npad == 0)
		return 0;
	if (*len % 4 != 0 || n % 4 != 4 - npad)
		return -1;
	*len = n;
	return 0;
}

static int
decode(const char *alphabet, const char *s, size_t len, unsigned char **out,
    size_t *outlen)
{
	unsigned char *buf, *o;
	size_t i, rem, size;
	uint32_t v = 0;
	int c;

	if (len > B64_MAX_ENCODED || strip_padding(s, &len) == -1)
		return -1;
	if ((rem = len % 4) == 1)
		return -1;
	size = len / 4 * 3 + (rem == 0 ? 0 : rem - 1) + 1;
	o = buf = xmalloc(size);
	for (i = 0; i < len; i++) {
		if ((c = sextet(alphabet, s[i])) == -1)
			goto fail;
		v = v << 6 | (uint32_t)c;
		if (i % 4 == 3) {
			*o++ = (unsigned char)(v >> 16);
			*o++ = (unsigned char)(v >> 8);
			*o++ = (unsigned char)v;
			v = 0;
		}
	}
	/* A short final group: its unused low bits must be zero. */
	if (rem == 2) {
		if ((v & 15) != 0)
			goto fail;
		*o++ = (unsigned char)(v >> 4);
	} else if (rem == 3) {
		if ((v & 3) != 0)
			goto fail;
		*o++ = (unsigned char)(v >> 10);
		*o++ = (unsigned char)(v >> 2);
	}
	*o = '\0';
	*outlen = (size_t)(o - buf);
	*out = buf;
	return 0;

fail:
	secure_free(buf, size);	/* it may hold part of a key */
	return -1;
}

int
b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	return decode(std_alphabet, s, len, out, outlen);
}

int
b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	return decode(url_alphabet, s, len, out, outlen);
}
