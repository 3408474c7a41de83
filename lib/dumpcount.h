/* SPDX-License-Identifier: ISC */
/*
 * dumpcount: counts the rows of each table in the plain SQL that pg_dump
 * writes, as it streams by ("COPY <table> (...) FROM stdin;", one line per
 * row, then "\."; a row's newlines are escaped, so lines are rows).  The
 * counts are those of pg_dump's own snapshot, which is what a backup holds
 * and what a restore must give back (lib/backup-run.c records them,
 * lib/backup-restore.c compares).  Lines outside COPY data may be of any
 * length; only their first DUMPCOUNT_MAX_NAME bytes are looked at.
 */
#ifndef RALLY_DUMPCOUNT_H
#define RALLY_DUMPCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define DUMPCOUNT_MAX_NAME 200
#define DUMPCOUNT_MAX_TABLES 10000

struct dumpcount {
	int in_copy;
	size_t linelen;			/* bytes of the current line so far */
	char head[DUMPCOUNT_MAX_NAME + 8];	/* its first bytes */
	char table[DUMPCOUNT_MAX_NAME + 1];
	int64_t rows;
	json_object *tables;		/* table name -> rows */
};

void dumpcount_init(struct dumpcount *);
void dumpcount_feed(struct dumpcount *, const char *, size_t);
/* The counts so far ({"rally.users": 3, ...}); borrowed. */
json_object *dumpcount_tables(const struct dumpcount *);
void dumpcount_clear(struct dumpcount *);

#endif
