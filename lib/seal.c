/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "seal.h"

#define SEAL_DOMAIN "rally-seal-v1"
/* Domain, version, key id and three fields, each length-prefixed. */
#define SEAL_MAX_AD (4 + sizeof SEAL_DOMAIN + 1 + 4 + 3 * (4 + SEAL_MAX_AD_FIELD))

static size_t
put_field(unsigned char *p, const void *v, size_t n)
{
	put_be32(p, (uint32_t)n);
	memcpy(p + 4, v, n);
	return 4 + n;
}

static int
check_ad_field(const char *what, const char *v, char **cause)
{
	if (v == NULL || *v == '\0')
		return set_cause(cause, "seal: %s is not set", what);
	if (strlen(v) > SEAL_MAX_AD_FIELD)
		return set_cause(cause, "seal: %s is longer than %d bytes",
		    what, SEAL_MAX_AD_FIELD);
	return 0;
}

/* Builds the associated data into buf (SEAL_MAX_AD bytes); its length or 0. */
static size_t
build_ad(const struct seal_ad *ad, uint32_t key_id, unsigned char *buf,
    char **cause)
{
	unsigned char *p = buf;

	if (check_ad_field("tenant id", ad->tenant_id, cause) == -1 ||
	    check_ad_field("row id", ad->row_id, cause) == -1 ||
	    check_ad_field("column", ad->column, cause) == -1)
		return 0;
	p += put_field(p, SEAL_DOMAIN, strlen(SEAL_DOMAIN));
	*p++ = SEAL_VERSION;
	put_be32(p, key_id);
	p += 4;
	p += put_field(p, ad->tenant_id, strlen(ad->tenant_id));
	p += put_field(p, ad->row_id, strlen(ad->row_id));
	p += put_field(p, ad->column, strlen(ad->column));
	return (size_t)(p - buf);
}

/* ct and tag receive ptlen and SEAL_TAG_LEN bytes. */
static int
gcm_encrypt(const unsigned char *key, const unsigned char *nonce,
    const unsigned char *ad, size_t adlen, const unsigned char *pt,
    size_t ptlen, unsigned char *ct, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx;
	int n, good;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	good = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)adlen) == 1 &&
	    (ptlen == 0 || EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) == 1) &&
	    EVP_EncryptFinal_ex(ctx, ct + ptlen, &n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return good ? 0 : -1;
}

/* pt receives ctlen bytes; -1 when the tag does not verify. */
static int
gcm_decrypt(const unsigned char *key, const unsigned char *nonce,
    const unsigned char *ad, size_t adlen, const unsigned char *ct,
    size_t ctlen, const unsigned char *tag, unsigned char *pt)
{
	unsigned char t[SEAL_TAG_LEN];
	EVP_CIPHER_CTX *ctx;
	int n, good;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	memcpy(t, tag, sizeof t);
	good = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)adlen) == 1 &&
	    (ctlen == 0 || EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ctlen) == 1) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof t, t) == 1 &&
	    EVP_DecryptFinal_ex(ctx, pt + ctlen, &n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return good ? 0 : -1;
}

int
seal_seal(const struct keyring *kr, const struct seal_ad *ad, const void *pt,
    size_t ptlen, unsigned char **out, size_t *outlen, char **cause)
{
	unsigned char adbuf[SEAL_MAX_AD], *buf;
	uint32_t id = keyring_newest_id(kr);
	size_t adlen;

	if (ptlen > SEAL_MAX_PLAINTEXT)
		return set_cause(cause, "seal: plaintext of %zu bytes is longer "
		    "than %d", ptlen, SEAL_MAX_PLAINTEXT);
	if ((adlen = build_ad(ad, id, adbuf, cause)) == 0)
		return -1;
	buf = xmalloc(SEAL_OVERHEAD + ptlen);
	buf[0] = SEAL_VERSION;
	put_be32(buf + 1, id);
	random_bytes(buf + 5, SEAL_NONCE_LEN);
	if (gcm_encrypt(keyring_find(kr, id), buf + 5, adbuf, adlen, pt, ptlen,
	    buf + SEAL_HEADER_LEN, buf + SEAL_HEADER_LEN + ptlen) == -1) {
		free(buf);
		return set_cause(cause, "seal: AES-256-GCM encryption failed");
	}
	*out = buf;
	*outlen = SEAL_OVERHEAD + ptlen;
	return 0;
}

int
seal_key_id(const unsigned char *in, size_t inlen, uint32_t *id)
{
	if (inlen < SEAL_OVERHEAD || inlen > SEAL_OVERHEAD + SEAL_MAX_PLAINTEXT ||
	    in[0] != SEAL_VERSION)
		return -1;
	*id = get_be32(in + 1);
	return 0;
}

/* Checks the frame of a sealed value; its key or NULL. */
static const unsigned char *
open_key(const struct keyring *kr, const unsigned char *in, size_t inlen,
    char **cause)
{
	const unsigned char *key;
	uint32_t id;

	if (inlen < SEAL_OVERHEAD) {
		set_cause(cause, "sealed value is truncated (%zu bytes)", inlen);
		return NULL;
	}
	if (inlen > SEAL_OVERHEAD + SEAL_MAX_PLAINTEXT) {
		set_cause(cause, "sealed value is too long (%zu bytes)", inlen);
		return NULL;
	}
	if (in[0] != SEAL_VERSION) {
		set_cause(cause, "sealed value has unknown version %u", in[0]);
		return NULL;
	}
	id = get_be32(in + 1);
	if ((key = keyring_find(kr, id)) == NULL)
		set_cause(cause, "sealed value's key id %u is not in the keyring",
		    id);
	return key;
}

int
seal_open(const struct keyring *kr, const struct seal_ad *ad,
    const unsigned char *in, size_t inlen, unsigned char **pt, size_t *ptlen,
    char **cause)
{
	unsigned char adbuf[SEAL_MAX_AD], *buf;
	const unsigned char *key;
	size_t adlen, ctlen;

	if ((key = open_key(kr, in, inlen, cause)) == NULL)
		return -1;
	if ((adlen = build_ad(ad, get_be32(in + 1), adbuf, cause)) == 0)
		return -1;
	ctlen = inlen - SEAL_OVERHEAD;
	buf = xmalloc(ctlen + 1);
	if (gcm_decrypt(key, in + 5, adbuf, adlen, in + SEAL_HEADER_LEN, ctlen,
	    in + SEAL_HEADER_LEN + ctlen, buf) == -1) {
		secure_free(buf, ctlen + 1);
		return set_cause(cause, "sealed value does not open: it is "
		    "corrupt or belongs to another tenant, row or column");
	}
	buf[ctlen] = '\0';
	*pt = buf;
	*ptlen = ctlen;
	return 0;
}
