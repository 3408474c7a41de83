/*
 * secretfile: reads a small file that holds a secret (the keyring, the
 * Google client secret, the Gmail push token).  The file must be regular,
 * not readable by others and not writable by group or others; errors name
 * it ("keyring /etc/rally/keyring is readable by others: chmod 600").
 * Group read is allowed, for systemd credentials and files shared with the
 * service's group; anything that lets others read the secret, or lets
 * someone other than the owner replace it, is refused.
 */
#ifndef RALLY_SECRETFILE_H
#define RALLY_SECRETFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "util.h"

/*
 * Reads at most max + 1 bytes of path, so a caller sees when the file is
 * too large.  *buf holds max + 1 bytes, NUL-terminated after *len when
 * *len <= max; free it with secure_free(*buf, max + 1).  mode (may be
 * NULL) receives the file's permission bits.  what names the file in
 * errors.
 */
int secretfile_read(const char *what, const char *path, size_t max,
    char **buf, size_t *len, mode_t *mode, char **cause) MUST_CHECK;

#endif
