/* SPDX-License-Identifier: ISC */
/*
 * systemd: everything Rally asks of libsystemd, and the only file that
 * includes it.  rallyd's notifications (daemon/main.c) and the journal
 * output of lib/log.c go through here.  Built with configure
 * --without-systemd, notifications are no-ops, there is no watchdog and the
 * journal cannot be written: the programs then link no libsystemd at all.
 */
#ifndef RALLY_SYSTEMD_H
#define RALLY_SYSTEMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util.h"

/* false when configured --without-systemd. */
bool systemd_built_in(void);

/*
 * sd_notify(3) of a formatted state such as "READY=1" or "STATUS=...":
 * nothing when NOTIFY_SOCKET is unset, or without systemd.  A failure to
 * send is logged at debug level and otherwise ignored: the service manager
 * is not ours to fix.
 */
void systemd_notify(const char *fmt, ...) PRINTFLIKE(1, 2);

/* The watchdog interval the manager asks for (WATCHDOG_USEC), or 0. */
uint64_t systemd_watchdog_usec(void);

/*
 * Sends one journal entry of n "FIELD=value" iovecs over the native
 * protocol: 0, or -1 when journald cannot take it (or without systemd).
 */
int systemd_journal_sendv(const struct iovec *, int n);

#endif
