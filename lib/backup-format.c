/* SPDX-License-Identifier: ISC */
/* The header of a backup file and the keys derived from it. */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "backup-format.h"
#include "log.h"

#define BACKUP_HKDF_INFO "rally-backup-v1"

/* The fields before the MAC; see docs/backup-format.md for the layout. */
static void
encode_fields(const struct backup_header *h, unsigned char *out)
{
	memset(out, 0, BACKUP_FIELDS_LEN);
	memcpy(out, BACKUP_MAGIC, BACKUP_MAGIC_LEN);
	out[8] = BACKUP_VERSION;
	out[9] = BACKUP_COMPRESSION_ZSTD;
	out[10] = BACKUP_CIPHER_AES256GCM_HKDF;
	put_be32(out + 12, h->key_id);
	put_be32(out + 16, h->chunk_size);
	memcpy(out + 20, h->salt, BACKUP_SALT_LEN);
	memcpy(out + 52, h->prefix, BACKUP_PREFIX_LEN);
}

static void
header_mac(const unsigned char *fields, const struct backup_keys *k,
    unsigned char out[BACKUP_MAC_LEN])
{
	unsigned int len = BACKUP_MAC_LEN;

	if (HMAC(EVP_sha256(), k->mac, sizeof k->mac, fields,
	    BACKUP_FIELDS_LEN, out, &len) == NULL)
		fatalx("backup: HMAC-SHA-256 failed");
}

void
backup_header_encode(const struct backup_header *h,
    const struct backup_keys *k, unsigned char *out)
{
	encode_fields(h, out);
	header_mac(out, k, out + BACKUP_FIELDS_LEN);
}

int
backup_header_decode(const unsigned char *buf, struct backup_header *h,
    char **cause)
{
	if (memcmp(buf, BACKUP_MAGIC, BACKUP_MAGIC_LEN) != 0)
		return set_cause(cause, "not a Rally backup file (no magic "
		    "number)");
	if (buf[8] != BACKUP_VERSION)
		return set_cause(cause, "backup format version %u is not "
		    "supported (this Rally reads version %d)", buf[8],
		    BACKUP_VERSION);
	if (buf[9] != BACKUP_COMPRESSION_ZSTD ||
	    buf[10] != BACKUP_CIPHER_AES256GCM_HKDF || buf[11] != 0 ||
	    buf[59] != 0)
		return set_cause(cause, "header names an unknown compression "
		    "or cipher: damaged header");
	h->key_id = get_be32(buf + 12);
	h->chunk_size = get_be32(buf + 16);
	if (h->key_id == 0 || h->key_id > KEYRING_MAX_ID)
		return set_cause(cause, "header key id %u is out of range: "
		    "damaged header", h->key_id);
	if (h->chunk_size < BACKUP_MIN_CHUNK || h->chunk_size > BACKUP_MAX_CHUNK)
		return set_cause(cause, "header chunk size %u is out of range "
		    "(%d to %d): damaged header", h->chunk_size,
		    BACKUP_MIN_CHUNK, BACKUP_MAX_CHUNK);
	memcpy(h->salt, buf + 20, BACKUP_SALT_LEN);
	memcpy(h->prefix, buf + 52, BACKUP_PREFIX_LEN);
	return 0;
}

int
backup_header_check(const unsigned char *buf, const struct backup_keys *k,
    char **cause)
{
	unsigned char mac[BACKUP_MAC_LEN];
	bool ok;

	header_mac(buf, k, mac);
	ok = secret_equal(mac, buf + BACKUP_FIELDS_LEN, BACKUP_MAC_LEN);
	OPENSSL_cleanse(mac, sizeof mac);
	if (!ok)
		return set_cause(cause, "header does not authenticate under "
		    "key %u: wrong key, or the header is damaged",
		    get_be32(buf + 12));
	return 0;
}

/*
 * HKDF-SHA-256 with the salt as salt and the header fields (key id, chunk
 * size and nonce prefix included) in the info, so that the keys of a file
 * belong to its exact header.
 */
int
backup_derive_keys(const unsigned char master[KEYRING_KEY_LEN],
    const unsigned char fields[BACKUP_FIELDS_LEN], struct backup_keys *k,
    char **cause)
{
	unsigned char info[sizeof BACKUP_HKDF_INFO - 1 + BACKUP_FIELDS_LEN];
	unsigned char out[sizeof k->aead + sizeof k->mac];
	OSSL_PARAM params[5];
	EVP_KDF_CTX *ctx;
	EVP_KDF *kdf;
	int rc = 0;

	memcpy(info, BACKUP_HKDF_INFO, sizeof BACKUP_HKDF_INFO - 1);
	memcpy(info + sizeof BACKUP_HKDF_INFO - 1, fields, BACKUP_FIELDS_LEN);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)master, KEYRING_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)(fields + 20), BACKUP_SALT_LEN);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    info, sizeof info);
	params[4] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		EVP_KDF_free(kdf);
		return set_cause(cause, "backup: HKDF is not available");
	}
	if (EVP_KDF_derive(ctx, out, sizeof out, params) != 1)
		rc = set_cause(cause, "backup: HKDF failed");
	else {
		memcpy(k->aead, out, sizeof k->aead);
		memcpy(k->mac, out + sizeof k->aead, sizeof k->mac);
	}
	OPENSSL_cleanse(out, sizeof out);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

void
backup_nonce(const struct backup_header *h, uint32_t counter, int last,
    unsigned char out[BACKUP_NONCE_LEN])
{
	memcpy(out, h->prefix, BACKUP_PREFIX_LEN);
	put_be32(out + BACKUP_PREFIX_LEN, counter);
	out[BACKUP_NONCE_LEN - 1] = last ? 1 : 0;
}

void
backup_keys_wipe(struct backup_keys *k)
{
	OPENSSL_cleanse(k, sizeof *k);
}
