/* SPDX-License-Identifier: ISC */
/*
 * backup-format: the encrypted, compressed stream every backup file is
 * (docs/backup-format.md; DESIGN section 7).  backup-format.c holds the
 * header and the keys, backup-write.c the writer, backup-read.c the
 * reader.  Used by lib/backup-run.c (rallyctl backup now, rallyd's backup
 * job) and lib/backup-restore.c; the reader is fuzzed (tests/fuzz).
 *
 *	header (BACKUP_HEADER_LEN bytes, authenticated by its last 32)
 *	chunk 0 | chunk 1 | ... | chunk n (the last, flagged as last)
 *
 * Each chunk is AES-256-GCM of chunk_size bytes of a zstd stream (the last
 * chunk 0..chunk_size bytes) under a per-file key HKDF-SHA-256(master key,
 * salt, header fields), with nonce = prefix(7) | counter(u32) | last(1):
 * a chunk moved, repeated, dropped or cut fails to open, and so does a file
 * whose last chunk is missing.  Nothing is handed on before its chunk
 * authenticated; nothing at all before the header did.
 */
#ifndef RALLY_BACKUP_FORMAT_H
#define RALLY_BACKUP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "keyring.h"
#include "util.h"

#define BACKUP_MAGIC "\x89RBK\r\n\x1a\n"
#define BACKUP_MAGIC_LEN 8
#define BACKUP_VERSION 1
#define BACKUP_COMPRESSION_ZSTD 1
#define BACKUP_CIPHER_AES256GCM_HKDF 1
#define BACKUP_SALT_LEN 32
#define BACKUP_PREFIX_LEN 7
#define BACKUP_MAC_LEN 32
#define BACKUP_FIELDS_LEN 60	/* the header before its MAC */
#define BACKUP_HEADER_LEN (BACKUP_FIELDS_LEN + BACKUP_MAC_LEN)
#define BACKUP_TAG_LEN 16
#define BACKUP_NONCE_LEN 12
#define BACKUP_MIN_CHUNK (64 * 1024)
#define BACKUP_MAX_CHUNK (1024 * 1024)
#define BACKUP_DEFAULT_CHUNK (256 * 1024)
#define BACKUP_MAX_CHUNKS UINT32_MAX
/* The reader refuses zstd frames that need a larger window (memory bound). */
#define BACKUP_MAX_WINDOW_LOG 24

/* The header's fields, decoded. */
struct backup_header {
	uint32_t key_id;
	uint32_t chunk_size;
	unsigned char salt[BACKUP_SALT_LEN];
	unsigned char prefix[BACKUP_PREFIX_LEN];
};

/* The keys of one file, derived from the master key and the header. */
struct backup_keys {
	unsigned char aead[32];
	unsigned char mac[32];
};

/*
 * Receives the bytes a writer produces or the plaintext a reader opened;
 * 0, or -1 with *cause set (the writer or reader then fails with it).
 */
typedef int (*backup_sink_fn)(void *arg, const void *buf, size_t len,
    char **cause);

/* backup-format.c */
/* Encodes h into out (BACKUP_HEADER_LEN bytes), MAC included. */
void backup_header_encode(const struct backup_header *,
    const struct backup_keys *, unsigned char *out);
/*
 * Decodes the unauthenticated fields of buf (BACKUP_HEADER_LEN bytes):
 * magic, version, algorithms, chunk size and key id in range; 0 or -1.
 */
int backup_header_decode(const unsigned char *buf, struct backup_header *,
    char **cause) MUST_CHECK;
/* Checks the header's MAC in constant time; 0 or -1. */
int backup_header_check(const unsigned char *buf, const struct backup_keys *,
    char **cause) MUST_CHECK;
int backup_derive_keys(const unsigned char master[KEYRING_KEY_LEN],
    const unsigned char fields[BACKUP_FIELDS_LEN], struct backup_keys *,
    char **cause) MUST_CHECK;
void backup_nonce(const struct backup_header *, uint32_t counter, int last,
    unsigned char out[BACKUP_NONCE_LEN]);
void backup_keys_wipe(struct backup_keys *);

/* backup-write.c: plaintext in, a backup file's bytes out to a sink. */
struct backup_writer;

/*
 * A writer under keyring's newest key; chunk_size in
 * [BACKUP_MIN_CHUNK, BACKUP_MAX_CHUNK], zstd at level.  The header goes to
 * the sink at once.  NULL with *cause on error.
 */
struct backup_writer *backup_writer_new(const struct keyring *,
    uint32_t chunk_size, int level, backup_sink_fn, void *arg, char **cause);
int backup_writer_write(struct backup_writer *, const void *, size_t,
    char **cause) MUST_CHECK;
/* Ends the zstd stream and writes the last chunk; 0 or -1. */
int backup_writer_finish(struct backup_writer *, char **cause) MUST_CHECK;
uint32_t backup_writer_key_id(const struct backup_writer *);
void backup_writer_free(struct backup_writer *);

/* backup-read.c: a backup file's bytes in, checked plaintext out. */
struct backup_reader;

struct backup_reader_stats {
	uint32_t key_id;
	uint64_t chunks;
	uint64_t file_bytes;
	uint64_t compressed_bytes;
	uint64_t plain_bytes;
};

/* sink may be NULL (verify: every chunk opened and decompressed, nothing kept). */
struct backup_reader *backup_reader_new(const struct keyring *,
    backup_sink_fn, void *arg);
/* Feeds bytes of the file in order; 0 or -1 with *cause naming the fault. */
int backup_reader_feed(struct backup_reader *, const void *, size_t,
    char **cause) MUST_CHECK;
/* The end of the file: opens the last chunk, checks the stream ended. */
int backup_reader_end(struct backup_reader *, char **cause) MUST_CHECK;
const struct backup_reader_stats *backup_reader_stats(
    const struct backup_reader *);
void backup_reader_free(struct backup_reader *);

#endif
