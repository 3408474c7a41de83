/* SPDX-License-Identifier: ISC */
/*
 * backup-format: the writer and the reader agree on every split of the
 * input, and the reader refuses every bit flipped and every truncation of
 * a file; dumpcount counts COPY rows across any split.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup-format.h"
#include "dumpcount.h"
#include "tap.h"

static const char ring1[] =
    "1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";
static const char ring2[] =
    "1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
    "2 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n";
static const char ring_other1[] =
    "1 AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n";

struct buf {
	unsigned char *p;
	size_t len;
};

static int
buf_sink(void *arg, const void *data, size_t len, char **cause)
{
	struct buf *b = arg;

	(void)cause;
	b->p = realloc(b->p, b->len + len + 1);
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static struct keyring *
ring(const char *text)
{
	return keyring_parse(text, strlen(text), "test", NULL);
}

/* A backup of pt under kr, written in pieces of step bytes. */
static struct buf
make(const struct keyring *kr, const unsigned char *pt, size_t len, size_t step)
{
	struct buf out = { NULL, 0 };
	struct backup_writer *w;
	int rc = 0;

	w = backup_writer_new(kr, BACKUP_MIN_CHUNK, 3, buf_sink, &out, NULL);
	for (size_t off = 0; w != NULL && rc == 0 && off < len; off += step)
		rc = backup_writer_write(w, pt + off,
		    len - off < step ? len - off : step, NULL);
	if (w == NULL || rc == -1 || backup_writer_finish(w, NULL) == -1)
		abort();
	backup_writer_free(w);
	return out;
}

/* Reads file in pieces of step; 0 with the plaintext in *pt, or -1. */
static int
open_file(const struct keyring *kr, const unsigned char *file, size_t len,
    size_t step, struct buf *pt, char **cause)
{
	struct backup_reader *r = backup_reader_new(kr, buf_sink, pt);
	int rc = 0;

	for (size_t off = 0; rc == 0 && off < len; off += step)
		rc = backup_reader_feed(r, file + off,
		    len - off < step ? len - off : step, cause);
	if (rc == 0)
		rc = backup_reader_end(r, cause);
	backup_reader_free(r);
	return rc;
}

static unsigned char *
noise(size_t len)
{
	unsigned char *p = malloc(len);

	random_bytes(p, len);
	return p;
}

static void
test_round_trips(void)
{
	struct keyring *kr = ring(ring1);
	size_t sizes[] = { 0, 1, 1000, 3 * BACKUP_MIN_CHUNK + 17 };
	size_t steps[] = { 1, 7, 65536, 1 << 22 };

	for (size_t i = 0; i < nitems(sizes); i++) {
		unsigned char *pt = noise(sizes[i] + 1);
		struct buf file = make(kr, pt, sizes[i], 4096);

		for (size_t j = 0; j < nitems(steps); j++) {
			struct buf got = { NULL, 0 };
			char *cause = NULL;

			if (sizes[i] > 1000 && steps[j] == 1)
				continue;	/* slow, and 7 covers it */
			ok(open_file(kr, file.p, file.len, steps[j], &got,
			    &cause) == 0 && got.len == sizes[i] &&
			    (sizes[i] == 0 || memcmp(got.p, pt, sizes[i]) == 0),
			    "%zu bytes read back in pieces of %zu", sizes[i],
			    steps[j]);
			free(cause);
			free(got.p);
		}
		free(file.p);
		free(pt);
	}
	keyring_free(kr);
}

/* Every bit of the header and of the edges of each chunk is covered. */
static void
test_every_flip_fails(void)
{
	struct keyring *kr = ring(ring1);
	unsigned char *pt = noise(2 * BACKUP_MIN_CHUNK);
	struct buf file = make(kr, pt, 2 * BACKUP_MIN_CHUNK, 100000);
	size_t opened = 0, tried = 0;

	for (size_t pos = 0; pos < file.len; pos++) {
		size_t in_chunk = (pos - BACKUP_HEADER_LEN) %
		    (BACKUP_MIN_CHUNK + BACKUP_TAG_LEN);

		if (pos >= BACKUP_HEADER_LEN && in_chunk > 2 &&
		    in_chunk < BACKUP_MIN_CHUNK + BACKUP_TAG_LEN - 17 &&
		    pos < file.len - 20 && pos % 4099 != 0)
			continue;
		for (int bit = 0; bit < 8; bit++) {
			struct buf got = { NULL, 0 };
			char *cause = NULL;

			file.p[pos] ^= (unsigned char)(1 << bit);
			if (open_file(kr, file.p, file.len, 65536, &got,
			    &cause) == 0)
				opened++;
			file.p[pos] ^= (unsigned char)(1 << bit);
			tried++;
			free(cause);
			free(got.p);
		}
	}
	ok(opened == 0, "none of %zu single-bit flips opens (%zu did)", tried,
	    opened);
	free(file.p);
	free(pt);
	keyring_free(kr);
}

static void
test_every_truncation_fails(void)
{
	struct keyring *kr = ring(ring1);
	unsigned char *pt = noise(BACKUP_MIN_CHUNK + 5000);
	struct buf file = make(kr, pt, BACKUP_MIN_CHUNK + 5000, 100000);
	size_t opened = 0;

	for (size_t len = 0; len < file.len; len += len < 200 ? 1 : 997) {
		struct buf got = { NULL, 0 };
		char *cause = NULL;

		if (open_file(kr, file.p, len, 65536, &got, &cause) == 0)
			opened++;
		free(cause);
		free(got.p);
	}
	ok(opened == 0, "no truncated file opens (%zu did)", opened);
	free(file.p);
	free(pt);
	keyring_free(kr);
}

static void
expect_failure(const struct keyring *kr, const struct buf *file,
    const char *want, const char *name)
{
	struct buf got = { NULL, 0 };
	char *cause = NULL;
	int rc = open_file(kr, file->p, file->len, 65536, &got, &cause);

	ok(rc == -1 && cause != NULL && strstr(cause, want) != NULL, "%s: %s",
	    name, cause != NULL ? cause : "opened");
	free(cause);
	free(got.p);
}

static void
test_keys(void)
{
	struct keyring *k1 = ring(ring1), *k2 = ring(ring2);
	struct keyring *other = ring(ring_other1);
	unsigned char pt[] = "some rows";
	struct buf f1 = make(k1, pt, sizeof pt, 4), f2 = make(k2, pt, sizeof pt, 4);
	struct buf got = { NULL, 0 };

	ok(open_file(k2, f1.p, f1.len, 1000, &got, NULL) == 0 &&
	    got.len == sizeof pt, "a file of key 1 opens after rotation");
	expect_failure(k1, &f2, "backup key 2, which is not in", "key 2 missing");
	expect_failure(other, &f1, "wrong key", "wrong key 1");
	free(got.p);
	free(f1.p);
	free(f2.p);
	keyring_free(k1);
	keyring_free(k2);
	keyring_free(other);
}

static void
count(const char *dump, size_t step, const char *want, const char *name)
{
	struct dumpcount dc;
	size_t len = strlen(dump);

	dumpcount_init(&dc);
	for (size_t off = 0; off < len; off += step)
		dumpcount_feed(&dc, dump + off, len - off < step ? len - off : step);
	is_str(json_object_to_json_string_ext(dumpcount_tables(&dc),
	    JSON_C_TO_STRING_PLAIN), want, name);
	dumpcount_clear(&dc);
}

static void
test_dumpcount(void)
{
	static const char dump[] =
	    "SET x = 1;\n"
	    "COPY rally.tenants (tenant_id, name) FROM stdin;\n"
	    "1\tAcme\n2\tCOPY rally.fake (a) FROM stdin;\n"
	    "\\.\n"
	    "COPY rally.users (id) FROM stdin;\n"
	    "\\.\n"
	    "-- \\.\n"
	    "COPY rally.activities (id, description) FROM stdin;\n"
	    "1\tline\\nwith an escaped newline\n2\t\\\\.\n3\t.\n"
	    "\\.\n";
	static const char want[] =
	    "{\"rally.tenants\":2,\"rally.users\":0,\"rally.activities\":3}";

	count(dump, 1, want, "COPY rows counted one byte at a time");
	count(dump, 5, want, "COPY rows counted five bytes at a time");
	count(dump, sizeof dump, want, "COPY rows counted in one piece");
}

int
main(void)
{
	test_round_trips();
	test_every_flip_fails();
	test_every_truncation_fails();
	test_keys();
	test_dumpcount();
	return tap_done();
}
