/* SPDX-License-Identifier: ISC */
/*
 * The reader of backup files, fed in pieces of any size.  Limits: the
 * header's chunk size (BACKUP_MIN_CHUNK..BACKUP_MAX_CHUNK) bounds the
 * memory it holds, BACKUP_MAX_WINDOW_LOG the zstd window, and the counter
 * the number of chunks.  A full chunk is opened only once a byte after it
 * arrives (it is then not the last), or at the end (it must be the last).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "backup-format.h"

struct backup_reader {
	const struct keyring *kr;
	backup_sink_fn sink;
	void *arg;
	struct backup_header h;
	struct backup_keys k;
	unsigned char head[BACKUP_HEADER_LEN];
	size_t head_fill;
	EVP_CIPHER_CTX *gcm;
	ZSTD_DCtx *zd;
	unsigned char *chunk;	/* chunk_size + BACKUP_TAG_LEN, sealed */
	unsigned char *plain;	/* chunk_size, opened */
	size_t fill;
	unsigned char *zout;
	size_t zout_len;
	size_t zleft;		/* 0 once a zstd frame is complete */
	int failed;		/* a fault was reported: refuse more */
	int ended;
	struct backup_reader_stats st;
};

struct backup_reader *
backup_reader_new(const struct keyring *kr, backup_sink_fn sink, void *arg)
{
	struct backup_reader *r = xcalloc(1, sizeof *r);

	r->kr = kr;
	r->sink = sink;
	r->arg = arg;
	r->zleft = 1;
	return r;
}

/* Keys, cipher and buffers once the header is in and authenticates. */
static int
reader_start(struct backup_reader *r, char **cause)
{
	const unsigned char *master;

	if (backup_header_decode(r->head, &r->h, cause) == -1)
		return -1;
	r->st.key_id = r->h.key_id;
	if ((master = keyring_find(r->kr, r->h.key_id)) == NULL)
		return set_cause(cause, "written with backup key %u, which is "
		    "not in the backup keyring", r->h.key_id);
	if (backup_derive_keys(master, r->head, &r->k, cause) == -1 ||
	    backup_header_check(r->head, &r->k, cause) == -1)
		return -1;
	if ((r->gcm = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(r->gcm, EVP_aes_256_gcm(), NULL, r->k.aead,
	    NULL) != 1)
		return set_cause(cause, "backup: AES-256-GCM is not available");
	if ((r->zd = ZSTD_createDCtx()) == NULL ||
	    ZSTD_isError(ZSTD_DCtx_setParameter(r->zd, ZSTD_d_windowLogMax,
	    BACKUP_MAX_WINDOW_LOG)))
		return set_cause(cause, "backup: zstd: out of memory");
	r->chunk = xmalloc((size_t)r->h.chunk_size + BACKUP_TAG_LEN);
	r->plain = xmalloc(r->h.chunk_size);
	r->zout_len = ZSTD_DStreamOutSize();
	r->zout = xmalloc(r->zout_len);
	return 0;
}

/* Decompresses one opened chunk and hands the plaintext to the sink. */
static int
inflate(struct backup_reader *r, size_t len, char **cause)
{
	ZSTD_inBuffer in = { r->plain, len, 0 };
	ZSTD_outBuffer out;

	/* Until the input is used up and zstd holds nothing back. */
	do {
		if (r->zleft == 0) {
			if (in.pos < in.size)
				return set_cause(cause, "chunk %llu: data after "
				    "the end of the compressed stream",
				    (unsigned long long)r->st.chunks - 1);
			break;
		}
		out = (ZSTD_outBuffer){ r->zout, r->zout_len, 0 };
		r->zleft = ZSTD_decompressStream(r->zd, &out, &in);
		if (ZSTD_isError(r->zleft))
			return set_cause(cause, "chunk %llu: zstd: %s",
			    (unsigned long long)r->st.chunks - 1,
			    ZSTD_getErrorName(r->zleft));
		r->st.plain_bytes += out.pos;
		if (out.pos > 0 && r->sink != NULL &&
		    r->sink(r->arg, r->zout, out.pos, cause) == -1)
			return -1;
	} while (in.pos < in.size || out.pos == out.size);
	return 0;
}

static int
open_chunk(struct backup_reader *r, int last, char **cause)
{
	unsigned char nonce[BACKUP_NONCE_LEN];
	size_t len = r->fill - BACKUP_TAG_LEN;
	int n = 0;

	if (r->st.chunks >= BACKUP_MAX_CHUNKS)
		return set_cause(cause, "more than %u chunks", BACKUP_MAX_CHUNKS);
	backup_nonce(&r->h, (uint32_t)r->st.chunks, last, nonce);
	if (EVP_DecryptInit_ex(r->gcm, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(r->gcm, EVP_CTRL_GCM_SET_TAG, BACKUP_TAG_LEN,
	    r->chunk + len) != 1 ||
	    (len > 0 && EVP_DecryptUpdate(r->gcm, r->plain, &n, r->chunk,
	    (int)len) != 1) ||
	    EVP_DecryptFinal_ex(r->gcm, r->plain + n, &n) != 1) {
		if (last)
			return set_cause(cause, "chunk %llu does not authenticate "
			    "as the last chunk: the file is truncated or "
			    "damaged", (unsigned long long)r->st.chunks);
		return set_cause(cause, "chunk %llu does not authenticate: "
		    "damaged, reordered or duplicated chunk",
		    (unsigned long long)r->st.chunks);
	}
	r->st.chunks++;
	r->st.compressed_bytes += len;
	r->fill = 0;
	return inflate(r, len, cause);
}

static int
feed_header(struct backup_reader *r, const unsigned char **p, size_t *n,
    char **cause)
{
	size_t take = BACKUP_HEADER_LEN - r->head_fill;

	if (take > *n)
		take = *n;
	memcpy(r->head + r->head_fill, *p, take);
	r->head_fill += take;
	*p += take;
	*n -= take;
	if (r->head_fill == BACKUP_HEADER_LEN)
		return reader_start(r, cause);
	return 0;
}

static int
feed(struct backup_reader *r, const unsigned char *p, size_t n, char **cause)
{
	size_t whole, take;

	if (r->head_fill < BACKUP_HEADER_LEN &&
	    feed_header(r, &p, &n, cause) == -1)
		return -1;
	whole = (size_t)r->h.chunk_size + BACKUP_TAG_LEN;
	while (n > 0) {
		/* A byte follows this full chunk: it is not the last one. */
		if (r->fill == whole && open_chunk(r, 0, cause) == -1)
			return -1;
		take = whole - r->fill;
		if (take > n)
			take = n;
		memcpy(r->chunk + r->fill, p, take);
		r->fill += take;
		p += take;
		n -= take;
	}
	return 0;
}

int
backup_reader_feed(struct backup_reader *r, const void *buf, size_t len,
    char **cause)
{
	if (r->failed || r->ended)
		return set_cause(cause, "backup reader: used after %s",
		    r->failed ? "a failure" : "the end");
	r->st.file_bytes += len;
	if (feed(r, buf, len, cause) == -1) {
		r->failed = 1;
		return -1;
	}
	return 0;
}

static int
finish(struct backup_reader *r, char **cause)
{
	if (r->head_fill < BACKUP_HEADER_LEN)
		return set_cause(cause, "truncated: %zu bytes, shorter than a "
		    "header", r->head_fill);
	if (r->fill < BACKUP_TAG_LEN)
		return set_cause(cause, "truncated after chunk %llu: no last "
		    "chunk", (unsigned long long)r->st.chunks);
	if (open_chunk(r, 1, cause) == -1)
		return -1;
	if (r->zleft != 0)
		return set_cause(cause, "the compressed stream is incomplete "
		    "after its last chunk");
	return 0;
}

int
backup_reader_end(struct backup_reader *r, char **cause)
{
	if (r->failed || r->ended)
		return set_cause(cause, "backup reader: used after %s",
		    r->failed ? "a failure" : "the end");
	r->ended = 1;
	if (finish(r, cause) == -1) {
		r->failed = 1;
		return -1;
	}
	return 0;
}

const struct backup_reader_stats *
backup_reader_stats(const struct backup_reader *r)
{
	return &r->st;
}

void
backup_reader_free(struct backup_reader *r)
{
	if (r == NULL)
		return;
	backup_keys_wipe(&r->k);
	EVP_CIPHER_CTX_free(r->gcm);
	ZSTD_freeDCtx(r->zd);
	free(r->chunk);
	if (r->plain != NULL)
		secure_free(r->plain, r->h.chunk_size);
	free(r->zout);
	free(r);
}
