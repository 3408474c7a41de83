/* SPDX-License-Identifier: ISC */
/*
 * json-scan: the scanner under json_scan_members() (lib/json.c) and
 * json_keep_item_members() (lib/json-keep.c), private to those two.  It
 * finds where strings, values and members end without building anything
 * and without recursion (nesting is a counter); it checks no more than
 * that brackets balance and strings close, so a span it finds is only as
 * valid as the document.  Each takes len bytes of buf and an index into it.
 */
#ifndef RALLY_JSON_SCAN_H
#define RALLY_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

/* The index just past the string that opens at buf[i], or SIZE_MAX. */
size_t jscan_string(const char *buf, size_t len, size_t i);
/* The index just past the value that starts at buf[i], or SIZE_MAX. */
size_t jscan_value(const char *buf, size_t len, size_t i);
/* The first index from i that is not JSON whitespace (or len). */
size_t jscan_ws(const char *buf, size_t len, size_t i);
/*
 * The key of the member at buf[*i]: its raw text (between the quotes,
 * escapes as written) in key; *i moves past the ':' and whitespace, onto
 * the value.  -1 when there is no string or no ':'.
 */
int jscan_key(const char *buf, size_t len, size_t *i, struct json_span *key);
/*
 * After a value ending at buf[i]: the index of the next member or element
 * (past the ',' and whitespace) or of close ('}' or ']'), or SIZE_MAX when
 * neither follows.  strict refuses a ',' that close follows.
 */
size_t jscan_next(const char *buf, size_t len, size_t i, char close,
    bool strict);

#endif
