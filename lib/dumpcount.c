/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <string.h>

#include "dumpcount.h"

void
dumpcount_init(struct dumpcount *dc)
{
	memset(dc, 0, sizeof *dc);
	dc->tables = json_object_new_object();
}

void
dumpcount_clear(struct dumpcount *dc)
{
	json_object_put(dc->tables);
	memset(dc, 0, sizeof *dc);
}

json_object *
dumpcount_tables(const struct dumpcount *dc)
{
	return dc->tables;
}

/* "COPY name (" or "COPY name FROM stdin;": the name, up to a blank. */
static void
copy_start(struct dumpcount *dc, size_t n)
{
	const char *s = dc->head + 5, *e = dc->head + n;
	size_t len = 0;

	while (s + len < e && s[len] != ' ')
		len++;
	if (len == 0 || len > DUMPCOUNT_MAX_NAME)
		return;
	memcpy(dc->table, s, len);
	dc->table[len] = '\0';
	dc->in_copy = 1;
	dc->rows = 0;
}

static void
line_end(struct dumpcount *dc)
{
	size_t n = dc->linelen < sizeof dc->head ? dc->linelen : sizeof dc->head;

	if (dc->in_copy) {
		if (dc->linelen == 2 && memcmp(dc->head, "\\.", 2) == 0) {
			dc->in_copy = 0;
			if (json_object_object_length(dc->tables) <
			    DUMPCOUNT_MAX_TABLES)
				json_object_object_add(dc->tables, dc->table,
				    json_object_new_int64(dc->rows));
		} else
			dc->rows++;
	} else if (n > 5 && memcmp(dc->head, "COPY ", 5) == 0)
		copy_start(dc, n);
	dc->linelen = 0;
}

void
dumpcount_feed(struct dumpcount *dc, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t seg, keep;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		seg = (size_t)((nl != NULL ? nl : end) - p);
		if (dc->linelen < sizeof dc->head) {
			keep = sizeof dc->head - dc->linelen;
			memcpy(dc->head + dc->linelen, p, seg < keep ? seg : keep);
		}
		dc->linelen += seg;
		if (nl == NULL)
			return;
		line_end(dc);
		p = nl + 1;
	}
}
