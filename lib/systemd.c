/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif

#include "log.h"
#include "systemd.h"

#ifdef HAVE_SYSTEMD

bool
systemd_built_in(void)
{
	return true;
}

void
systemd_notify(const char *fmt, ...)
{
	va_list ap;
	char *state;
	int rc;

	va_start(ap, fmt);
	state = xvasprintf(fmt, ap);
	va_end(ap);
	if ((rc = sd_notify(0, state)) < 0)
		log_debug("sd_notify %.*s: %s", (int)strcspn(state, "=\n"), state,
		    strerror(-rc));
	free(state);
}

uint64_t
systemd_watchdog_usec(void)
{
	uint64_t usec;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}

int
systemd_journal_sendv(const struct iovec *iov, int n)
{
	return sd_journal_sendv(iov, n) < 0 ? -1 : 0;
}

#else /* !HAVE_SYSTEMD */

bool
systemd_built_in(void)
{
	return false;
}

void
systemd_notify(const char *fmt, ...)
{
}

uint64_t
systemd_watchdog_usec(void)
{
	return 0;
}

int
systemd_journal_sendv(const struct iovec *iov, int n)
{
	return -1;
}

#endif
