/* SPDX-License-Identifier: ISC */
/*
 * The backup reader (lib/backup-read.c) on arbitrary bytes with a fixed
 * keyring, fed in two pieces split where the first byte says; and two
 * properties on every input: the input written as a backup reads back to
 * itself, and that file with one bit flipped does not open.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "backup-format.h"
#include "fuzz.h"

static const char ring_text[] =
    "1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
    "2 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n";

struct buf {
	unsigned char *p;
	size_t len;
};

static const struct keyring *
ring(void)
{
	static struct keyring *kr;	/* one for the whole run */

	if (kr == NULL &&
	    (kr = keyring_parse(ring_text, strlen(ring_text), "fuzz", NULL)) == NULL)
		abort();
	return kr;
}

static int
collect(void *arg, const void *data, size_t len, char **cause)
{
	struct buf *b = arg;

	(void)cause;
	b->p = xreallocarray(b->p, b->len + len + 1, 1);
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* 0 and the plaintext in *out, or -1 with a message (never both). */
static int
read_all(const uint8_t *data, size_t size, size_t split, struct buf *out)
{
	struct backup_reader *r = backup_reader_new(ring(), collect, out);
	char *cause = NULL;
	int rc;

	if (split > size)
		split = size;
	rc = backup_reader_feed(r, data, split, &cause);
	if (rc == 0)
		rc = backup_reader_feed(r, data + split, size - split, &cause);
	if (rc == 0)
		rc = backup_reader_end(r, &cause);
	if ((rc == 0) != (cause == NULL))
		abort();
	free(cause);
	backup_reader_free(r);
	return rc;
}

static void
round_trip(const uint8_t *data, size_t size)
{
	struct buf file = { NULL, 0 }, got = { NULL, 0 };
	struct backup_writer *w;
	size_t bit;

	w = backup_writer_new(ring(), BACKUP_MIN_CHUNK, 1, collect, &file, NULL);
	if (w == NULL || backup_writer_write(w, data, size, NULL) == -1 ||
	    backup_writer_finish(w, NULL) == -1)
		abort();
	backup_writer_free(w);
	if (read_all(file.p, file.len, size, &got) == -1 || got.len != size ||
	    (size > 0 && memcmp(got.p, data, size) != 0))
		abort();
	free(got.p);
	got = (struct buf){ NULL, 0 };
	bit = size == 0 ? 0 : (data[0] * 131u + size) % (file.len * 8);
	file.p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	if (read_all(file.p, file.len, file.len / 2, &got) == 0)
		abort();
	free(got.p);
	free(file.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf got = { NULL, 0 };

	(void)read_all(data, size, size > 0 ? data[0] * 64u : 0, &got);
	free(got.p);
	round_trip(data, size);
	return 0;
}
