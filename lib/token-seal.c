/* SPDX-License-Identifier: ISC */
/*
 * token-seal: see token-seal.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "seal.h"
#include "token-seal.h"
#include "util.h"

/* "\x" and the hex digits of buf: a bytea query parameter; caller frees. */
static char *
bytea_hex(const unsigned char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *out = xmalloc(2 + 2 * len + 1), *p = out;

	*p++ = '\\';
	*p++ = 'x';
	for (size_t i = 0; i < len; i++) {
		*p++ = hex[buf[i] >> 4];
		*p++ = hex[buf[i] & 0xf];
	}
	*p = '\0';
	return out;
}

int
token_seal(const struct keyring *kr, const char *tenant_id,
    const char *row_id, const char *column, const char *token, char **bytea,
    char **cause)
{
	struct seal_ad ad = { tenant_id, row_id, column };
	unsigned char *sealed;
	size_t len;

	if (kr == NULL)
		return set_cause(cause, "no keyring");
	if (seal_seal(kr, &ad, token, strlen(token), &sealed, &len,
	    cause) == -1)
		return -1;
	*bytea = bytea_hex(sealed, len);
	free(sealed);
	return 0;
}

int
token_open(const struct keyring *kr, const char *tenant_id,
    const char *row_id, const char *column, const char *bytea, char **token,
    size_t *len, char **cause)
{
	struct seal_ad ad = { tenant_id, row_id, column };
	unsigned char *raw, *pt;
	size_t rawlen, ptlen;
	int rc;

	if (kr == NULL)
		return set_cause(cause, "no keyring");
	raw = PQunescapeBytea((const unsigned char *)bytea, &rawlen);
	if (raw == NULL)
		return set_cause(cause, "%s: not a bytea value", column);
	rc = seal_open(kr, &ad, raw, rawlen, &pt, &ptlen, cause);
	PQfreemem(raw);
	if (rc == -1)
		return -1;
	if (ptlen == 0 || memchr(pt, '\0', ptlen) != NULL) {
		secure_free(pt, ptlen);
		return set_cause(cause, "%s: not a token", column);
	}
	*token = (char *)pt;
	*len = ptlen;
	return 0;
}

bool
token_key_missing(const struct keyring *kr, const char *bytea)
{
	unsigned char *raw;
	size_t rawlen;
	uint32_t id;
	bool missing;

	if (kr == NULL || bytea == NULL)
		return false;
	raw = PQunescapeBytea((const unsigned char *)bytea, &rawlen);
	if (raw == NULL)
		return false;
	missing = seal_key_id(raw, rawlen, &id) == 0 && !keyring_has(kr, id);
	PQfreemem(raw);
	return missing;
}
