/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "uuid.h"

static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

bool
uuid_canonical(const char *s, char out[UUID_STR_LEN])
{
	out[0] = '\0';
	if (s == NULL || strnlen(s, UUID_STR_LEN) != UUID_STR_LEN - 1)
		return false;
	for (size_t i = 0; i < UUID_STR_LEN - 1; i++) {
		if (shape[i] == '-' ? s[i] != '-' :
		    !isxdigit((unsigned char)s[i])) {
			out[0] = '\0';
			return false;
		}
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[UUID_STR_LEN - 1] = '\0';
	return true;
}

bool
uuid_is_canonical(const char *s)
{
	char c[UUID_STR_LEN];

	return uuid_canonical(s, c) && strcmp(c, s) == 0;
}
