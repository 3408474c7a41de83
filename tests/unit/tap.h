/* SPDX-License-Identifier: ISC */
/*
 * tap.h: the smallest TAP producer that serves automake's tap-driver.sh.
 * Each test program calls ok() per check and returns tap_done().
 */
#ifndef RALLY_TAP_H
#define RALLY_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3))) static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

#define is_str(got, want, name)                                                      \
	do {                                                                         \
		const char *g_ = (got), *w_ = (want);                                \
		if (!ok(g_ != NULL && w_ != NULL ? strcmp(g_, w_) == 0 : g_ == w_,  \
			"%s", name))                                                 \
			printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)",    \
			    w_ ? w_ : "(null)");                                     \
	} while (0)

static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
