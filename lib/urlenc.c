/* SPDX-License-Identifier: ISC */
/*
 * urlenc: percent-encoding and decoding; see urlenc.h.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "urlenc.h"

static bool
urlenc_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static size_t
urlenc_escaped_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += urlenc_unreserved((unsigned char)*s) ? 1 : 3;
	return n;
}

/* Writes the escaped form of s at out; returns the end. */
static char *
urlenc_escape_into(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (urlenc_unreserved(c))
			*out++ = (char)c;
		else {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 0xf];
		}
	}
	*out = '\0';
	return out;
}

char *
urlenc_escape(const char *s)
{
	char *out = xreallocarray(NULL, strlen(s) + 1, 3);

	urlenc_escape_into(out, s);
	return out;
}

void
urlenc_append_param(char **url, const char *name, const char *value)
{
	size_t have = strlen(*url), nlen = strlen(name);
	char *out = xmalloc(have + nlen + strlen(value) * 3 + 3);

	memcpy(out, *url, have);
	out[have] = '&';
	memcpy(out + have + 1, name, nlen);
	out[have + 1 + nlen] = '=';
	urlenc_escape_into(out + have + nlen + 2, value);
	free(*url);
	*url = out;
}

char *
urlenc_form_encode(const char *const *kv)
{
	const char *const *p;
	size_t n = 1;
	char *out, *w;

	for (p = kv; p[0] != NULL && p[1] != NULL; p += 2)
		n += urlenc_escaped_len(p[0]) + urlenc_escaped_len(p[1]) + 2;
	out = w = xmalloc(n);
	*w = '\0';
	for (p = kv; p[0] != NULL && p[1] != NULL; p += 2) {
		if (p != kv)
			*w++ = '&';
		w = urlenc_escape_into(w, p[0]);
		*w++ = '=';
		w = urlenc_escape_into(w, p[1]);
	}
	return out;
}

int
urlenc_decode(const char *s, size_t len, int flags, size_t max, char **out,
    const char **why)
{
	char *buf = xmalloc(len + 1);
	size_t o = 0;
	int hi, lo;

	*out = NULL;
	/*
	 * Decoded in full before the length is judged, so that a bad escape
	 * is reported as such wherever it stands.
	 */
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (len - i < 3 || (hi = hex_value(s[i + 1])) == -1 ||
			    (lo = hex_value(s[i + 2])) == -1) {
				*why = "malformed %-escape";
				goto fail;
			}
			buf[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && (flags & URLENC_PLUS))
			buf[o++] = ' ';
		else
			buf[o++] = s[i];
	}
	buf[o] = '\0';
	if (o > max)
		*why = "too long";
	else if (memchr(buf, '\0', o) != NULL)
		*why = "NUL byte";
	else {
		*out = buf;
		return 0;
	}
fail:
	free(buf);
	return -1;
}
