/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <argon2.h>
#include <openssl/crypto.h>

#include "b64.h"
#include "passwd.h"

#define SALT_MIN 8
#define SALT_MAX 64
#define HASH_MIN 16
#define HASH_MAX 64

/* A PHC string taken apart. */
struct phc {
	argon2_type type;
	uint32_t m, t, p;
	unsigned char *salt;
	size_t saltlen;
	unsigned char *hash;
	size_t hashlen;
};

static void
phc_clear(struct phc *h)
{
	free(h->salt);
	if (h->hash != NULL)
		secure_free(h->hash, h->hashlen);
	memset(h, 0, sizeof *h);
}

/* Advances *s past prefix if it is there. */
static bool
skip(const char **s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(*s, prefix, n) != 0)
		return false;
	*s += n;
	return true;
}

/* A decimal uint32 without sign or leading zero, then the byte end. */
static int
parse_u32(const char **s, char end, uint32_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p == '0' && p[1] != end)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (p == *s || *p != end)
		return -1;
	*out = (uint32_t)v;
	*s = p + 1;
	return 0;
}

/* Unpadded standard base64 of len characters, decoded size in [min, max]. */
static int
parse_b64(const char *s, size_t len, size_t min, size_t max,
    unsigned char **out, size_t *outlen)
{
	if (memchr(s, '=', len) != NULL)
		return -1;
	if (b64_decode(s, len, out, outlen) == -1)
		return -1;
	if (*outlen < min || *outlen > max) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int
parse_params(const char **s, struct phc *h)
{
	if (!skip(s, "m=") || parse_u32(s, ',', &h->m) == -1 ||
	    !skip(s, "t=") || parse_u32(s, ',', &h->t) == -1 ||
	    !skip(s, "p=") || parse_u32(s, '$', &h->p) == -1)
		return -1;
	/* libargon2 needs m >= 8p; the ceilings bound the work a string asks for. */
	if (h->p < 1 || h->p > PASSWD_MAX_P || h->t < 1 ||
	    h->t > PASSWD_MAX_T || h->m > PASSWD_MAX_M_KIB || h->m < 8 * h->p)
		return -1;
	return 0;
}

static int
phc_parse(const char *s, struct phc *h)
{
	const char *dollar;

	memset(h, 0, sizeof *h);
	if (s == NULL || strnlen(s, PASSWD_MAX_PHC + 1) > PASSWD_MAX_PHC)
		return -1;
	if (skip(&s, "$argon2id$"))
		h->type = Argon2_id;
	else if (skip(&s, "$argon2i$"))
		h->type = Argon2_i;
	else
		return -1;
	if (!skip(&s, "v=19$") || parse_params(&s, h) == -1)
		return -1;
	if ((dollar = strchr(s, '$')) == NULL ||
	    parse_b64(s, (size_t)(dollar - s), SALT_MIN, SALT_MAX, &h->salt,
	    &h->saltlen) == -1)
		return -1;
	s = dollar + 1;
	if (strchr(s, '$') != NULL ||
	    parse_b64(s, strlen(s), HASH_MIN, HASH_MAX, &h->hash,
	    &h->hashlen) == -1) {
		phc_clear(h);
		return -1;
	}
	return 0;
}

/* Length of password, or -1 when longer than PASSWD_MAX_LEN. */
static ssize_t
password_len(const char *password)
{
	size_t n = strnlen(password, PASSWD_MAX_LEN + 1);

	return n > PASSWD_MAX_LEN ? -1 : (ssize_t)n;
}

/* Unpadded base64, as PHC strings use it. */
static char *
b64_nopad(const void *p, size_t len)
{
	char *s = b64_encode(p, len), *eq;

	if ((eq = strchr(s, '=')) != NULL)
		*eq = '\0';
	return s;
}

static int
check_params(const struct passwd_params *pp, char **cause)
{
	if (pp->m_kib < PASSWD_MIN_M_KIB || pp->m_kib > PASSWD_MAX_M_KIB ||
	    pp->t_cost < PASSWD_MIN_T || pp->t_cost > PASSWD_MAX_T ||
	    pp->parallelism < PASSWD_MIN_P || pp->parallelism > PASSWD_MAX_P ||
	    pp->m_kib < 8 * pp->parallelism)
		return set_cause(cause, "argon2id parameters m=%u,t=%u,p=%u are "
		    "outside m=%d..%d KiB, t=%d..%d, p=%d..%d", pp->m_kib,
		    pp->t_cost, pp->parallelism, PASSWD_MIN_M_KIB,
		    PASSWD_MAX_M_KIB, PASSWD_MIN_T, PASSWD_MAX_T, PASSWD_MIN_P,
		    PASSWD_MAX_P);
	return 0;
}

int
passwd_hash(const char *password, const struct passwd_params *pp, char **phc,
    char **cause)
{
	unsigned char salt[PASSWD_SALT_LEN], hash[PASSWD_HASH_LEN];
	char *salt64, *hash64;
	ssize_t len;
	int rc;

	if (check_params(pp, cause) == -1)
		return -1;
	if (password == NULL || (len = password_len(password)) == -1)
		return set_cause(cause, "password is longer than %d bytes",
		    PASSWD_MAX_LEN);
	random_bytes(salt, sizeof salt);
	rc = argon2_hash(pp->t_cost, pp->m_kib, pp->parallelism, password,
	    (size_t)len, salt, sizeof salt, hash, sizeof hash, NULL, 0,
	    Argon2_id, ARGON2_VERSION_13);
	if (rc != ARGON2_OK) {
		OPENSSL_cleanse(hash, sizeof hash);
		return set_cause(cause, "argon2id: %s", argon2_error_message(rc));
	}
	salt64 = b64_nopad(salt, sizeof salt);
	hash64 = b64_nopad(hash, sizeof hash);
	OPENSSL_cleanse(hash, sizeof hash);
	*phc = xasprintf("$argon2id$v=19$m=%u,t=%u,p=%u$%s$%s", pp->m_kib,
	    pp->t_cost, pp->parallelism, salt64, hash64);
	free(salt64);
	secure_free(hash64, strlen(hash64));
	return 0;
}

int
passwd_verify(const char *phc, const char *password)
{
	unsigned char got[HASH_MAX];
	struct phc h;
	ssize_t len;
	int rc;

	if (password == NULL || (len = password_len(password)) == -1)
		return -1;
	if (phc_parse(phc, &h) == -1)
		return -1;
	rc = argon2_hash(h.t, h.m, h.p, password, (size_t)len, h.salt,
	    h.saltlen, got, h.hashlen, NULL, 0, h.type, ARGON2_VERSION_13);
	if (rc == ARGON2_OK)
		rc = secret_equal(got, h.hash, h.hashlen) ? 1 : 0;
	else
		rc = -1;
	OPENSSL_cleanse(got, sizeof got);
	phc_clear(&h);
	return rc;
}

bool
passwd_needs_rehash(const char *phc, const struct passwd_params *pp)
{
	struct phc h;
	bool stale;

	if (phc_parse(phc, &h) == -1)
		return true;
	stale = h.type != Argon2_id || h.m < pp->m_kib || h.t < pp->t_cost ||
	    h.p < pp->parallelism;
	phc_clear(&h);
	return stale;
}
