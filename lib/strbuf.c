/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void
strbuf_reserve(struct strbuf *b, size_t n)
{
	size_t cap;

	if (b->p != NULL && b->cap - b->len > n)
		return;
	if (n >= SIZE_MAX / 4 - b->len)
		abort();	/* no caller comes near: a bug */
	cap = b->cap < 64 ? 64 : b->cap;
	while (cap - b->len <= n)
		cap *= 2;
	b->p = xreallocarray(b->p, cap, 1);
	b->cap = cap;
	b->p[b->len] = '\0';
}

void
strbuf_add(struct strbuf *b, const void *s, size_t n)
{
	strbuf_reserve(b, n);
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
strbuf_addc(struct strbuf *b, char c)
{
	strbuf_reserve(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

void
strbuf_adds(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

void
strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	strbuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
strbuf_reset(struct strbuf *b)
{
	strbuf_truncate(b, 0);
}

void
strbuf_truncate(struct strbuf *b, size_t len)
{
	if (b->p == NULL || len > b->len)
		return;
	b->len = len;
	b->p[len] = '\0';
}

char *
strbuf_take(struct strbuf *b, size_t *len)
{
	char *p;

	strbuf_reserve(b, 0);
	p = b->p;
	if (len != NULL)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
strbuf_free(struct strbuf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
