/* SPDX-License-Identifier: ISC */
/*
 * The writer of backup files: zstd, then AES-256-GCM chunks.  A full chunk
 * is sealed only once more bytes follow it, so that whichever chunk ends
 * the file is the one sealed as last.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "backup-format.h"
#include "log.h"

struct backup_writer {
	struct backup_header h;
	struct backup_keys k;
	EVP_CIPHER_CTX *gcm;
	ZSTD_CCtx *zc;
	backup_sink_fn sink;
	void *arg;
	unsigned char *chunk;	/* chunk_size bytes of compressed stream */
	size_t fill;
	unsigned char *sealed;	/* chunk_size + BACKUP_TAG_LEN */
	unsigned char *zout;	/* ZSTD_CStreamOutSize() */
	size_t zout_len;
	uint64_t counter;
};

static int
seal_chunk(struct backup_writer *w, int last, char **cause)
{
	unsigned char nonce[BACKUP_NONCE_LEN];
	int len = 0;

	if (w->counter > BACKUP_MAX_CHUNKS - 1 ||
	    (!last && w->counter == BACKUP_MAX_CHUNKS - 1))
		return set_cause(cause, "backup: more than %u chunks",
		    BACKUP_MAX_CHUNKS);
	backup_nonce(&w->h, (uint32_t)w->counter, last, nonce);
	if (EVP_EncryptInit_ex(w->gcm, NULL, NULL, NULL, nonce) != 1 ||
	    (w->fill > 0 && EVP_EncryptUpdate(w->gcm, w->sealed, &len,
	    w->chunk, (int)w->fill) != 1) ||
	    EVP_EncryptFinal_ex(w->gcm, w->sealed + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(w->gcm, EVP_CTRL_GCM_GET_TAG, BACKUP_TAG_LEN,
	    w->sealed + w->fill) != 1)
		return set_cause(cause, "backup: AES-256-GCM failed");
	w->counter++;
	len = (int)(w->fill + BACKUP_TAG_LEN);
	w->fill = 0;
	return w->sink(w->arg, w->sealed, (size_t)len, cause);
}

/* Appends compressed bytes, sealing each chunk that more bytes follow. */
static int
append(struct backup_writer *w, const unsigned char *p, size_t n,
    char **cause)
{
	size_t take;

	while (n > 0) {
		if (w->fill == w->h.chunk_size &&
		    seal_chunk(w, 0, cause) == -1)
			return -1;
		take = w->h.chunk_size - w->fill;
		if (take > n)
			take = n;
		memcpy(w->chunk + w->fill, p, take);
		w->fill += take;
		p += take;
		n -= take;
	}
	return 0;
}

static int
writer_keys(struct backup_writer *w, const struct keyring *kr, char **cause)
{
	unsigned char header[BACKUP_HEADER_LEN];

	w->h.key_id = keyring_newest_id(kr);
	random_bytes(w->h.salt, sizeof w->h.salt);
	random_bytes(w->h.prefix, sizeof w->h.prefix);
	/* The keys are derived from the fields, the MAC is over them. */
	backup_header_encode(&w->h, &w->k, header);
	if (backup_derive_keys(keyring_find(kr, w->h.key_id), header, &w->k,
	    cause) == -1)
		return -1;
	backup_header_encode(&w->h, &w->k, header);
	if ((w->gcm = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(w->gcm, EVP_aes_256_gcm(), NULL, w->k.aead,
	    NULL) != 1)
		return set_cause(cause, "backup: AES-256-GCM is not available");
	return w->sink(w->arg, header, sizeof header, cause);
}

static int
writer_zstd(struct backup_writer *w, int level, char **cause)
{
	size_t r;

	if ((w->zc = ZSTD_createCCtx()) == NULL)
		return set_cause(cause, "backup: zstd: out of memory");
	r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
	/* A window the reader accepts, whatever the level. */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_windowLog,
		    level >= 19 ? BACKUP_MAX_WINDOW_LOG : 0);
	if (ZSTD_isError(r))
		return set_cause(cause, "backup: zstd: %s",
		    ZSTD_getErrorName(r));
	/*
	 * Compress on a thread of zstd's own, so that reading the dump and
	 * sealing chunks go on meanwhile; a libzstd built without threads
	 * refuses, and compresses in line.
	 */
	(void)ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers, 1);
	w->zout_len = ZSTD_CStreamOutSize();
	w->zout = xmalloc(w->zout_len);
	return 0;
}

struct backup_writer *
backup_writer_new(const struct keyring *kr, uint32_t chunk_size, int level,
    backup_sink_fn sink, void *arg, char **cause)
{
	struct backup_writer *w;

	if (chunk_size < BACKUP_MIN_CHUNK || chunk_size > BACKUP_MAX_CHUNK) {
		set_cause(cause, "backup: chunk size %u out of range (%d to %d)",
		    chunk_size, BACKUP_MIN_CHUNK, BACKUP_MAX_CHUNK);
		return NULL;
	}
	w = xcalloc(1, sizeof *w);
	w->h.chunk_size = chunk_size;
	w->sink = sink;
	w->arg = arg;
	w->chunk = xmalloc(chunk_size);
	w->sealed = xmalloc((size_t)chunk_size + BACKUP_TAG_LEN);
	if (writer_zstd(w, level, cause) == -1 ||
	    writer_keys(w, kr, cause) == -1) {
		backup_writer_free(w);
		return NULL;
	}
	return w;
}

/* Runs zstd over in (NULL: end the frame) and appends what it produced. */
static int
compress(struct backup_writer *w, const void *buf, size_t len,
    ZSTD_EndDirective mode, char **cause)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	ZSTD_outBuffer out;
	size_t left;

	do {
		out = (ZSTD_outBuffer){ w->zout, w->zout_len, 0 };
		left = ZSTD_compressStream2(w->zc, &out, &in, mode);
		if (ZSTD_isError(left))
			return set_cause(cause, "backup: zstd: %s",
			    ZSTD_getErrorName(left));
		if (append(w, w->zout, out.pos, cause) == -1)
			return -1;
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

int
backup_writer_write(struct backup_writer *w, const void *buf, size_t len,
    char **cause)
{
	return compress(w, buf, len, ZSTD_e_continue, cause);
}

int
backup_writer_finish(struct backup_writer *w, char **cause)
{
	if (compress(w, NULL, 0, ZSTD_e_end, cause) == -1)
		return -1;
	return seal_chunk(w, 1, cause);
}

uint32_t
backup_writer_key_id(const struct backup_writer *w)
{
	return w->h.key_id;
}

void
backup_writer_free(struct backup_writer *w)
{
	if (w == NULL)
		return;
	backup_keys_wipe(&w->k);
	EVP_CIPHER_CTX_free(w->gcm);
	ZSTD_freeCCtx(w->zc);
	free(w->chunk);
	free(w->sealed);
	free(w->zout);
	free(w);
}
