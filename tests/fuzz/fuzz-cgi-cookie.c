/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi's Cookie header reader (cgi/cookie.c) and its HTML escaping
 * (cgi/html.c) on arbitrary bytes: the input, cut at its first NUL as an
 * environment variable is, is the Cookie header, and also text to escape.
 *
 * Checks besides "no crash": a cookie value found is at most
 * COOKIE_MAX_VALUE bytes of cookie-octets and occurs in the header; the
 * escaped text holds no '<', '>', '"' or '\'' and unescapes to the input.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "fuzz.h"
#include "html.h"

static void
check_cookie(const char *header, const char *name)
{
	char *v = cookie_get(header, name);

	if (v == NULL)
		return;
	if (strlen(v) > COOKIE_MAX_VALUE || strstr(header, v) == NULL)
		abort();
	for (const char *c = v; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f ||
		    strchr("\";,\\", *c) != NULL)
			abort();
	free(v);
}

/* Undoes html_escape(); NULL when out holds anything it cannot write. */
static char *
unescape(const char *s)
{
	static const char *const ent[][2] = {
		{ "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" },
		{ "&quot;", "\"" }, { "&#39;", "'" },
	};
	char *out = malloc(strlen(s) + 1), *o = out;
	size_t i;

	while (*s != '\0') {
		if (strchr("<>\"'", *s) != NULL)
			abort();
		if (*s != '&') {
			*o++ = *s++;
			continue;
		}
		for (i = 0; i < sizeof ent / sizeof ent[0]; i++)
			if (strncmp(s, ent[i][0], strlen(ent[i][0])) == 0)
				break;
		if (i == sizeof ent / sizeof ent[0])
			abort();	/* a bare '&' must have been escaped */
		*o++ = ent[i][1][0];
		s += strlen(ent[i][0]);
	}
	*o = '\0';
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf sb = STRBUF_INIT;
	char *s = malloc(size + 1), *esc, *back;

	memcpy(s, data, size);
	s[size] = '\0';
	check_cookie(s, "rally");
	check_cookie(s, "__Host-rally");
	html_escape(&sb, s);
	esc = strbuf_take(&sb, NULL);
	back = unescape(esc);
	if (strcmp(back, s) != 0)
		abort();
	free(back);
	free(esc);
	free(s);
	return 0;
}
