/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "log.h"
#include "util.h"

/* RFC 6265 cookie-octet: printable ASCII but space, '"', ',', ';', '\'. */
static bool
cookie_octet(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' &&
	    c != '\\';
}

char *
cookie_get(const char *header, const char *name)
{
	size_t nlen = strlen(name);
	const char *p, *v, *end;

	if (header == NULL || strlen(header) > COOKIE_MAX_HEADER)
		return NULL;
	for (p = header; *p != '\0'; p = *end == ';' ? end + 1 : end) {
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, ";");
		if ((size_t)(end - p) <= nlen || strncmp(p, name, nlen) != 0 ||
		    p[nlen] != '=')
			continue;
		v = p + nlen + 1;
		/* Trailing blanks belong to the separator, not the value. */
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - v >= 2 && *v == '"' && end[-1] == '"') {
			v++;
			end--;
		}
		if ((size_t)(end - v) > COOKIE_MAX_VALUE)
			return NULL;
		for (const char *c = v; c < end; c++)
			if (!cookie_octet((unsigned char)*c))
				return NULL;
		return xstrndup(v, (size_t)(end - v));
	}
	return NULL;
}

char *
cookie_format(const char *name, const char *value, long max_age, bool secure)
{
	char age[40] = "";

	for (const char *c = value; *c != '\0'; c++)
		if (!cookie_octet((unsigned char)*c))
			fatalx("cookie_format: value of %s is not cookie-octets",
			    name);
	if (max_age >= 0)
		snprintf(age, sizeof age, "; Max-Age=%ld", max_age);
	return xasprintf("%s=%s; Path=/%s; HttpOnly; SameSite=Lax%s", name,
	    value, age, secure ? "; Secure" : "");
}
