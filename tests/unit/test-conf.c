/* SPDX-License-Identifier: ISC */
/* conf: the rally.conf parser, its errors and its limits. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

static char path[] = "/tmp/rally-test-conf-XXXXXX";

static int
load_text(const char *text, struct conf *c, char **cause)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	*cause = NULL;
	return conf_load(path, c, cause);
}

/* Loading text must fail with a message containing want. */
static void
expect_error(const char *text, const char *want, const char *name)
{
	struct conf c;
	char *cause;
	int rc = load_text(text, &c, &cause);

	if (!ok(rc == -1 && cause != NULL && strstr(cause, want) != NULL,
		"%s", name))
		printf("#   cause: %s\n#   want:  %s\n", cause ? cause : "(none)", want);
	if (rc == 0)
		conf_clear(&c);
	free(cause);
}

static void
test_valid_file(void)
{
	struct conf c;
	char *cause;
	int rc = load_text("# comment\n; also a comment\n\n"
			   "[database]\nconninfo = host=/tmp dbname=x # not a comment\n"
			   "[daemon]\n  lease = 2m\nconcurrency=4\n"
			   "[http]\nmax_response = 64K\n"
			   "[log]\nlevel = \"debug\"\n",
	    &c, &cause);

	ok(rc == 0, "a valid file loads");
	if (rc != 0)
		return;
	is_str(c.db_conninfo, "host=/tmp dbname=x # not a comment",
	    "a value keeps everything after '='");
	ok(c.lease_sec == 120, "a duration in minutes is converted to seconds");
	ok(c.concurrency == 4, "an integer without blanks around '=' parses");
	ok(c.http_max_response == 65536, "a size in K is in bytes");
	is_str(c.log_level, "debug", "quotes around a value are removed");
	ok(c.max_attempts == 8, "an absent key keeps its default");
	conf_clear(&c);
}

static void
test_errors(void)
{
	expect_error("[daemon]\nbogus = 1\n", ":2: unknown key \"bogus\" in [daemon]",
	    "an unknown key names file, line and key");
	expect_error("[nope]\n", ":1: unknown section [nope]",
	    "an unknown section is an error");
	expect_error("conninfo = x\n", ":1: key outside any [section]",
	    "a key before any section is an error");
	expect_error("[daemon]\nlease\n", ":2: expected \"key = value\"",
	    "a line without '=' is an error");
	expect_error("[daemon]\nlease = soon\n", "daemon.lease must be a duration",
	    "a malformed duration says what is expected");
	expect_error("[daemon]\nconcurrency = 0\n", "out of range",
	    "a value out of range is an error");
	expect_error("[daemon]\nconcurrency = 2\nconcurrency = 3\n", ":3: daemon.concurrency is set twice",
	    "a duplicate key is an error");
	expect_error("[daemon\n", ":1: malformed section header",
	    "an unclosed section header is an error");
	expect_error("[log]\nlevel = \"debug\n", ":2: unterminated quoted value",
	    "an unterminated quote is an error");
	expect_error("[log]\nlevel = loud\n", "log.level \"loud\"",
	    "an unknown log level is an error");
	expect_error("[mail]\nfetch = all\n", "mail.fetch \"all\" is not one of",
	    "an unknown mail.fetch is an error");
	expect_error("[daemon]\nretry_base = 2h\nretry_max = 1h\n",
	    "retry_base is longer than daemon.retry_max",
	    "inconsistent retry bounds are an error");
}

static void
test_limits(void)
{
	size_t n = CONF_MAX_LINE + 100;
	char *big = malloc(n + 32);
	struct conf c;
	char *cause = NULL;

	strcpy(big, "[database]\nconninfo = ");
	memset(big + strlen(big), 'x', n);
	big[n + 20] = '\0';
	expect_error(big, ":2: line longer than", "an overlong line is an error");
	free(big);
	ok(conf_load("/nonexistent/rally.conf", &c, &cause) == -1 && cause &&
	    strstr(cause, "/nonexistent/rally.conf: No such file") != NULL,
	    "a missing file names the path and the reason");
	free(cause);
}

static void
test_units(void)
{
	int64_t v;

	ok(conf_parse_duration("90", &v) == 0 && v == 90, "plain seconds");
	ok(conf_parse_duration("7d", &v) == 0 && v == 7 * 86400, "days");
	ok(conf_parse_duration("", &v) == -1, "empty duration is rejected");
	ok(conf_parse_duration("5ms", &v) == -1, "only one unit letter is read");
	ok(conf_parse_duration("-5s", &v) == -1, "negative duration is rejected");
	ok(conf_parse_duration("99999999999999999999d", &v) == -1, "overflow is rejected");
	ok(conf_parse_size("1G", &v) == 0 && v == (INT64_C(1) << 30), "gigabytes");
	ok(conf_parse_size("12X", &v) == -1, "unknown size unit is rejected");
}

int
main(void)
{
	int fd = mkstemp(path);

	close(fd);
	test_valid_file();
	test_errors();
	test_limits();
	test_units();
	unlink(path);
	return tap_done();
}
