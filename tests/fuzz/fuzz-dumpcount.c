/* SPDX-License-Identifier: ISC */
/*
 * dumpcount_feed() (lib/dumpcount.c) on arbitrary bytes as pg_dump's plain
 * SQL stream: the input less its first byte, fed in one piece, one byte at
 * a time, and in pieces the first byte chooses (bit 7 clear: all of the
 * size of its low bits plus one; set: sizes from 0 up to that, some empty,
 * drawn from a generator it seeds).
 *
 * Checks besides "no crash, no leak": however the stream is cut, the
 * counts and the state left (inside a COPY or not, its table and rows so
 * far, the length of the unfinished line) are the same; every table has a
 * name of at most DUMPCOUNT_MAX_NAME bytes without blank or newline (empty
 * or shorter when a NUL, which pg_dump never writes, cuts it) and a count
 * of rows between 0 and the number of lines; at most DUMPCOUNT_MAX_TABLES
 * tables.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dumpcount.h"
#include "fuzz.h"

static void
feed_pieces(struct dumpcount *dc, const char *s, size_t n, uint8_t how)
{
	size_t max = (size_t)(how & 0x7f) + 1, piece;
	uint32_t x = how * 2654435761u + 1;

	while (n > 0) {
		piece = max;
		if (how & 0x80) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			piece = x % (max + 1);
		}
		if (piece > n)
			piece = n;
		dumpcount_feed(dc, s, piece);
		s += piece;
		n -= piece;
	}
}

static void
check_tables(const struct dumpcount *dc, const char *s, size_t n)
{
	json_object *t = dumpcount_tables(dc);
	size_t lines = 0;

	for (const char *p = s; (p = memchr(p, '\n', n - (size_t)(p - s))) != NULL;
	    p++)
		lines++;
	if (!json_object_is_type(t, json_type_object) ||
	    json_object_object_length(t) > DUMPCOUNT_MAX_TABLES)
		abort();
	json_object_object_foreach(t, name, rows) {
		size_t len = strlen(name);

		if (len > DUMPCOUNT_MAX_NAME ||
		    strpbrk(name, " \n") != NULL)
			abort();
		if (!json_object_is_type(rows, json_type_int) ||
		    json_object_get_int64(rows) < 0 ||
		    (uint64_t)json_object_get_int64(rows) > lines)
			abort();
	}
}

static void
check_same(const struct dumpcount *a, const struct dumpcount *b)
{
	if (!json_object_equal(dumpcount_tables(a), dumpcount_tables(b)))
		abort();
	if (a->in_copy != b->in_copy || a->linelen != b->linelen)
		abort();
	if (a->in_copy && (a->rows != b->rows || strcmp(a->table, b->table) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dumpcount whole, bytes, pieces;
	const char *s = (const char *)data + 1;
	size_t n;

	if (size == 0)
		return 0;
	n = size - 1;
	dumpcount_init(&whole);
	dumpcount_init(&bytes);
	dumpcount_init(&pieces);
	dumpcount_feed(&whole, s, n);
	for (size_t i = 0; i < n; i++)
		dumpcount_feed(&bytes, s + i, 1);
	feed_pieces(&pieces, s, n, data[0]);
	check_tables(&whole, s, n);
	check_same(&whole, &bytes);
	check_same(&whole, &pieces);
	dumpcount_clear(&whole);
	dumpcount_clear(&bytes);
	dumpcount_clear(&pieces);
	return 0;
}
