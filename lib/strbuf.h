/* SPDX-License-Identifier: ISC */
/*
 * strbuf: a growable byte string, for code that builds text piece by piece
 * (the mail decoder and composer).  Capacity doubles, so appending n bytes
 * in any number of calls costs O(n).  The bytes are always followed by a
 * NUL not counted in len, so p can be handed to string functions when the
 * content holds none.  Out of memory is fatal, as in util.
 */
#ifndef RALLY_STRBUF_H
#define RALLY_STRBUF_H

#include <stddef.h>

#include "util.h"

struct strbuf {
	char *p;	/* NULL until the first append */
	size_t len;
	size_t cap;
};

#define STRBUF_INIT {NULL, 0, 0}

/* Makes room for n more bytes (and the NUL). */
void strbuf_reserve(struct strbuf *, size_t n);
void strbuf_add(struct strbuf *, const void *, size_t);
void strbuf_addc(struct strbuf *, char);
void strbuf_adds(struct strbuf *, const char *);
void strbuf_addf(struct strbuf *, const char *, ...) PRINTFLIKE(2, 3);
/* Empties it, keeping the memory. */
void strbuf_reset(struct strbuf *);
/* Cuts it to len bytes (len <= its length). */
void strbuf_truncate(struct strbuf *, size_t len);
/* The string, NUL-terminated (an empty one when nothing was added); the
 * caller frees it and the buffer is empty again. */
char *strbuf_take(struct strbuf *, size_t *len);
/* NULL-safe; leaves it empty. */
void strbuf_free(struct strbuf *);

#endif
