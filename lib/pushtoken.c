/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>

#include <openssl/evp.h>

#include "log.h"
#include "pushtoken.h"
#include "secretfile.h"

void
pushtoken_free(char *secret)
{
	if (secret != NULL)
		secure_free(secret, PUSH_TOKEN_MAX + 1);
}

/* One line of printable ASCII; a final newline is not part of it. */
static int
check(const char *path, char *secret, size_t *len, char **cause)
{
	if (*len > PUSH_TOKEN_MAX)
		return set_cause(cause, "push token %s is larger than %d bytes",
		    path, PUSH_TOKEN_MAX);
	while (*len > 0 &&
	    (secret[*len - 1] == '\n' || secret[*len - 1] == '\r'))
		(*len)--;
	secret[*len] = '\0';
	if (*len < PUSH_TOKEN_MIN)
		return set_cause(cause, "%s: the secret must be %d to %d bytes",
		    path, PUSH_TOKEN_MIN, PUSH_TOKEN_MAX);
	for (size_t i = 0; i < *len; i++)
		if (secret[i] <= 0x20 || secret[i] >= 0x7f)
			return set_cause(cause, "%s: the secret must be one "
			    "line of printable ASCII without blanks", path);
	return 0;
}

int
pushtoken_read(const char *path, char **secret, size_t *len, char **cause)
{
	*secret = NULL;
	if (secretfile_read("push token", path, SECRETFILE_GROUP_READ,
	    PUSH_TOKEN_MAX, secret, len, NULL, cause) == -1)
		return -1;
	if (check(path, *secret, len, cause) == -1) {
		pushtoken_free(*secret);
		*secret = NULL;
		return -1;
	}
	return 0;
}

void
pushtoken_sha256(const char *secret, size_t len, unsigned char *out)
{
	unsigned int n;

	if (EVP_Digest(secret, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != PUSH_TOKEN_SHA256_LEN)
		fatalx("push token: SHA-256 failed");
}
