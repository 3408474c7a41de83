/* SPDX-License-Identifier: ISC */
/*
 * secretfile: reads a small file that holds a secret (the keyring, the
 * Google client secret, the Gmail push token).  The file must be regular,
 * not readable by others and not writable by group or others; errors name
 * it and the fix ("keyring /etc/rally/keyring is readable by group: chmod
 * 600 /etc/rally/keyring").
 *
 * Group read is refused unless the caller passes SECRETFILE_GROUP_READ: the
 * web server is in group rally (docs/operations.md), so a group-readable
 * keyring or client secret would be readable by the web tier.  Only the
 * push token, which rally.cgi itself reads as the web server user, is
 * read with that flag.  A file directly in $CREDENTIALS_DIRECTORY may show
 * group read (0440): that is systemd's ACL granting the service alone.
 */
#ifndef RALLY_SECRETFILE_H
#define RALLY_SECRETFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "util.h"

/* Flags for secretfile_read(). */
#define SECRETFILE_GROUP_READ 0x1 /* the file's group may read it */

/*
 * Reads at most max + 1 bytes of path, so a caller sees when the file is
 * too large.  *buf holds max + 1 bytes, NUL-terminated after *len when
 * *len <= max; free it with secure_free(*buf, max + 1).  mode (may be
 * NULL) receives the file's permission bits.  what names the file in
 * errors; flags is 0 or SECRETFILE_GROUP_READ.
 */
int secretfile_read(const char *what, const char *path, int flags,
    size_t max, char **buf, size_t *len, mode_t *mode, char **cause)
    MUST_CHECK;

#endif
