/* SPDX-License-Identifier: ISC */
/*
 * mimeparam: the value and parameters of a Content-Type or
 * Content-Disposition header (RFC 2045 5.1, RFC 2183), with RFC 2231's
 * extended parameters: continuations (name*0=, name*1*=...), and
 * charset'language'percent-encoded values.  For the decoder's charsets
 * and attachment names.
 */
#ifndef RALLY_MAIL_MIMEPARAM_H
#define RALLY_MAIL_MIMEPARAM_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;
struct charset_counts;

/* Continuations beyond this many are not read. */
#define MIMEPARAM_MAX_SECTIONS 64

/* The value before the first ';' ("text/plain", "attachment"), trimmed:
 * its length; *v points into hv. */
size_t mimeparam_value(const char *hv, size_t len, const char **v);

/*
 * The parameter name (ASCII, matched without regard to case) of the len
 * bytes of header value hv, appended to out as UTF-8 without NUL: an
 * extended value (name*= or continuations) is preferred to a plain one;
 * a plain one has its encoded-words decoded (mailers write them there,
 * against RFC 2047).  false, out untouched, when hv has no such
 * parameter.
 */
bool mimeparam_get(const char *hv, size_t len, const char *name,
    struct strbuf *out, struct charset_counts *);

/* The raw text of a plain parameter, unquoted into out (for charset=,
 * which is ASCII): false when absent. */
bool mimeparam_raw(const char *hv, size_t len, const char *name,
    struct strbuf *out);

#endif
