/* SPDX-License-Identifier: ISC */
/*
 * log_redact() and log_sanitize() (lib/log-redact.c) on arbitrary text.
 * Whatever the input: the output is at most LOG_REDACT_MAX bytes;
 * log_sanitize()'s holds no control byte (C0, DEL, C1) and is UTF-8; and a
 * secret planted in each shape a log line can carry it, between a prefix
 * and a suffix taken from the input, never comes out.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"

#define SECRET "Pl4nted0Secret7Value"
#define PREFIX_MAX 512	/* escaped, still far below LOG_REDACT_MAX */

static const char *const forms[] = {
	"refresh_token=" SECRET "&x=1",
	"{\"refresh_token\":\"" SECRET "\"}",
	"{\"access_token\": \"" SECRET "\", \"expires_in\": 3599}",
	"{\\\"id_token\\\":\\\"" SECRET "\\\"}",
	"refreshToken: " SECRET,
	"token\t=" SECRET,
	"grant_type=refresh_token%26refresh_token%3D" SECRET "%26",
	"refresh_token%3d" SECRET,
	"{\"code\": \"" SECRET "\"}",
	"callback?code=" SECRET "&state=s",
	"sessionid=" SECRET "; path=/",
	"password: correct " SECRET " horse",
	"client_secret = " SECRET,
	"Authorization: Bearer " SECRET,
	"Cookie: a=1; b=" SECRET,
	"postgresql://rally:" SECRET "@db.example/rally",
	"postgres://bob%40x:p%40" SECRET "@Secret@127.0.0.1:1/db",
	"next=https%3A%2F%2Fbob%3A" SECRET "%40example.com%2F",
};
/* Between the prefix and the shape: a key starts at a word boundary. */
static const char *const seps[] = { " ", "\n", "&", ", ", "\t", "; ", "{" };

static bool
is_utf8_clean(const unsigned char *s)
{
	while (*s != '\0') {
		size_t n = *s < 0x80 ? 0 : *s >= 0xf0 ? 3 : *s >= 0xe0 ? 2 : 1;

		if (*s < 0x20 || *s == 0x7f || (*s >= 0x80 && *s < 0xc2) ||
		    *s > 0xf4 || (s[0] == 0xc2 && s[1] < 0xa0))
			return false;
		for (size_t i = 1; i <= n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return false;
		s += n + 1;
	}
	return true;
}

static void
check_output(const char *in)
{
	char *r = log_redact(in), *z = log_sanitize(in);

	if (strlen(r) > LOG_REDACT_MAX || strlen(z) > LOG_REDACT_MAX)
		abort();
	if (!is_utf8_clean((const unsigned char *)z))
		abort();
	free(r);
	free(z);
}

static void
check_planted(const char *prefix, const char *sep, const char *form,
    const char *suffix)
{
	size_t n = strlen(prefix) + strlen(sep) + strlen(form) + strlen(suffix);
	char *in = malloc(n + 1), *r, *z;

	if (in == NULL)
		abort();
	snprintf(in, n + 1, "%s%s%s%s", prefix, sep, form, suffix);
	r = log_redact(in);
	z = log_sanitize(in);
	if (strstr(r, SECRET) != NULL || strstr(z, SECRET) != NULL) {
		fprintf(stderr, "secret survived in: %s\n", z);
		abort();
	}
	free(r);
	free(z);
	free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *prefix;
	size_t len, cut;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_output(text);
	/* Up to the first NUL: the prefix, then the suffix. */
	len = strlen(text);
	if (strstr(text, SECRET) != NULL) {
		/* Not planted: the input says it in plain words. */
		free(text);
		return 0;
	}
	cut = len / 2 < PREFIX_MAX ? len / 2 : PREFIX_MAX;
	if ((prefix = strndup(text, cut)) == NULL)
		abort();
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
		check_planted(prefix, seps[(size + i) % (sizeof seps /
		    sizeof seps[0])], forms[i], text + cut);
	free(prefix);
	free(text);
	return 0;
}
