/* SPDX-License-Identifier: ISC */
/*
 * addr: RFC 5322 address lists (section 3.4), for the decoder's From, To,
 * Cc, Bcc and Reply-To and the composer's recipients.
 *
 * A list splits at the commas that are not inside a quoted string, a
 * comment or an angle-addr; a group's name and its ':' and ';' go, its
 * members stay.  Gmail hands header values with encoded-words already
 * decoded, so a display name such as "Doe, John" may arrive unquoted:
 * a piece holding neither '@' nor '<' is therefore joined to the piece
 * after it instead of standing as an address of its own.
 */
#ifndef RALLY_MAIL_ADDR_H
#define RALLY_MAIL_ADDR_H

#include <stddef.h>

struct strbuf;
struct charset_counts;

typedef void (*mail_addr_cb)(void *arg, const char *mailbox, size_t len);

/*
 * Calls cb for each of the first max mailboxes of the len bytes of list
 * (trimmed, never empty) and returns how many the list holds in all.
 */
size_t mail_addr_split(const char *list, size_t len, size_t max,
    mail_addr_cb cb, void *arg);

/*
 * The display name (quotes and quoted-pairs undone, blanks folded; a
 * comment stands in for it when there is no angle-addr) and the addr-spec
 * (without comments, blanks or a route) of one mailbox, appended to name
 * and addr as they are written: encoded-words are left alone.
 */
void mail_addr_parse(const char *mailbox, size_t len, struct strbuf *name,
    struct strbuf *addr);

/*
 * Appends one mailbox as "Display Name <local@domain>", or "local@domain"
 * when it has no name (or the name alone when it has no address), with
 * the name's encoded-words decoded: valid UTF-8 without NUL.
 */
void mail_addr_format(const char *mailbox, size_t len, struct strbuf *out,
    struct charset_counts *);

#endif
