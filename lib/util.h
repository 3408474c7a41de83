/* SPDX-License-Identifier: ISC */
/*
 * util: allocation that cannot fail quietly, formatted strings, and the few
 * small helpers every module needs.  Out-of-memory is fatal: a daemon that
 * cannot allocate a few bytes has nothing better to do than exit and let
 * systemd restart it.
 */
#ifndef RALLY_UTIL_H
#define RALLY_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#define MUST_CHECK __attribute__((warn_unused_result))
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
char *xasprintf(const char *, ...) PRINTFLIKE(1, 2);
char *xvasprintf(const char *, va_list) PRINTFLIKE(1, 0);

/* Sets *cause (when cause is not NULL) to a formatted message; returns -1. */
int set_cause(char **cause, const char *, ...) PRINTFLIKE(2, 3);

/* Overwrites memory the compiler may not optimise away; then frees. */
void secure_free(void *, size_t);
/*
 * No core file of this process, and no ptrace or /proc/PID/mem for other
 * processes of its user: called first thing in main().
 */
void process_no_core(void);

/* Random bytes from the kernel; fatal if the kernel cannot provide them. */
void random_bytes(void *, size_t);
/* Uniform double in [0, 1). */
double random_unit(void);

/* Monotonic clock in microseconds. */
uint64_t now_usec(void);

/* Parses a whole decimal integer in [min, max]; 0 or -1. */
int parse_int64(const char *, int64_t min, int64_t max, int64_t *out);

/* The value of hexadecimal digit c (either case), or -1. */
int hex_value(char c);

/* Days since 1970-01-01 of a proleptic Gregorian date; the days of month
 * m (1..12) of year y. */
int64_t days_from_civil(int64_t y, int m, int d);
int days_in_month(int64_t y, int m);

/* Constant-time comparison of secrets. */
bool secret_equal(const void *, const void *, size_t);

/* Big-endian 32-bit integers in byte formats (sealed values, backups). */
void put_be32(unsigned char *, uint32_t);
uint32_t get_be32(const unsigned char *);
/* n bytes as 2n lowercase hex digits and a NUL into out. */
void hex_encode(const unsigned char *, size_t n, char *out);
/* Writes all of buf, retrying on EINTR; 0, or -1 with errno set. */
int write_full(int fd, const void *buf, size_t len) MUST_CHECK;
/* Makes a rename or creation in dir durable; 0 or -1 with *cause. */
int fsync_dir(const char *dir, char **cause) MUST_CHECK;
/* Writes all of buf to fd, syncs and closes it; -1 with *cause naming path. */
int write_sync_close(int fd, const char *path, const void *buf, size_t len,
    char **cause) MUST_CHECK;

#endif
