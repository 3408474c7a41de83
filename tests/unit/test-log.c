/* SPDX-License-Identifier: ISC */
/* log: redaction of secrets and the plain stderr format. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static void
redacts(const char *in, const char *want, const char *name)
{
	char *got = log_redact(in);

	is_str(got, want, name);
	free(got);
}

static void
sanitizes(const char *in, const char *want, const char *name)
{
	char *got = log_sanitize(in);

	is_str(got, want, name);
	free(got);
}

/* The shapes the security review found passing through unmasked. */
static void
test_redaction_shapes(void)
{
	redacts("{\"refresh_token\":\"1//0gabc\",\"x\":1}",
	    "{\"refresh_token\":\"[REDACTED]\",\"x\":1}",
	    "JSON without a space after the colon");
	redacts("{\"access_token\" : \"opaque-value\"}",
	    "{\"access_token\" : \"[REDACTED]\"}",
	    "JSON with blanks around the colon, a value of no known shape");
	redacts("{\\\"refresh_token\\\":\\\"opaque\\\"}",
	    "{\\\"refresh_token\\\":\\\"[REDACTED]\\\"}",
	    "JSON quoted inside a JSON string");
	redacts("{\"password\": \"a \\\"quoted\\\" word, and more\"}",
	    "{\"password\": \"[REDACTED]\"}",
	    "a JSON string value is masked to its closing quote");
	redacts("refreshToken: opaque", "refreshToken: [REDACTED]",
	    "a camelCase key");
	redacts("{\"clientSecret\":\"abc\"}", "{\"clientSecret\":\"[REDACTED]\"}",
	    "a camelCase key in JSON");
	redacts("token\t=value rest", "token\t=[REDACTED]",
	    "a tab before the equals sign");
	redacts("REFRESH_TOKEN=abc&x=1", "REFRESH_TOKEN=[REDACTED]&x=1",
	    "an upper-case key");
	redacts("body=grant_type%3Drefresh%26refresh_token%3D1%2F%2Fabc%26x%3D1",
	    "body=grant_type%3Drefresh%26refresh_token%3D[REDACTED]%26x%3D1",
	    "a URL-encoded form (%3D)");
	redacts("refresh_token%3dopaque", "refresh_token%3d[REDACTED]",
	    "a URL-encoded form (%3d)");
	redacts("{\"code\": \"4/0AbcDef\", \"state\": \"s\"}",
	    "{\"code\": \"[REDACTED]\", \"state\": \"s\"}",
	    "an OAuth code in JSON");
	redacts("{\"error\": {\"code\": 400}}", "{\"error\": {\"code\": 400}}",
	    "a numeric error code in JSON is not a secret");
	redacts("sessionid=abc; path=/", "sessionid=[REDACTED]; path=/",
	    "sessionid");
	redacts("password: correct horse battery", "password: [REDACTED]",
	    "key: value is masked to the end of the line, not the first word");
	redacts("password: correct horse\nnext line", "password: [REDACTED]\nnext line",
	    "key: value stops at the end of its line");
	redacts("password: correct horse, user: bob", "password: [REDACTED], user: bob",
	    "key: value stops at a comma");
	redacts("password = correct horse", "password = [REDACTED]",
	    "key = value with blanks runs like key: value");
	redacts("Cookie: a=1; b=2\nHost: x", "Cookie: [REDACTED]\nHost: x",
	    "a Cookie header is masked to the end of its line");
	redacts("authorization=Bearer abc def", "authorization=[REDACTED] def",
	    "a bearer credential in a query");
}

/* scheme://user:password@host: the password goes, the rest stays. */
static void
test_uri_userinfo(void)
{
	redacts("postgresql://rally:hunter2pass@db.example/rally",
	    "postgresql://rally:[REDACTED]@db.example/rally",
	    "a URI's password is masked, scheme, user and host kept");
	redacts("conninfo postgres://rally:hunter%40pass%21@db:5432/rally?x=1",
	    "conninfo postgres://rally:[REDACTED]@db:5432/rally?x=1",
	    "a percent-encoded password");
	redacts("postgresql://rally:Hunter2@Secret@127.0.0.1:1/rally",
	    "postgresql://rally:[REDACTED]@127.0.0.1:1/rally",
	    "a raw '@' in the password: masked to the last '@'");
	redacts("postgresql://bob%40example.com:pw1@db/x",
	    "postgresql://bob%40example.com:[REDACTED]@db/x",
	    "an encoded '@' in the user name");
	redacts("smtp://:s3cret@mail.example",
	    "smtp://:[REDACTED]@mail.example", "an empty user name");
	redacts("next=https%3A%2F%2Fbob%3As3cret%40example.com%2Fa&y=2",
	    "next=https%3A%2F%2Fbob%3A[REDACTED]%40example.com%2Fa&y=2",
	    "a URL percent-encoded in a query");
	redacts("\"postgresql://u:p4ss@h/d\"", "\"postgresql://u:[REDACTED]@h/d\"",
	    "a quoted URI");
	redacts("postgresql://rally@db.example:5432/rally",
	    "postgresql://rally@db.example:5432/rally", "no password: unchanged");
	redacts("https://example.com:8443/p?mail=a@b.example",
	    "https://example.com:8443/p?mail=a@b.example",
	    "a port and an '@' after the path are not a password");
	redacts("see http://host:80 and x@y", "see http://host:80 and x@y",
	    "the authority ends at a blank");
}

/* Control bytes cannot forge a log line or reach a terminal. */
static void
test_escaping(void)
{
	sanitizes("job failed: x\nrallyd[1]: info: forged",
	    "job failed: x\\nrallyd[1]: info: forged", "a newline is shown as \\n");
	sanitizes("a\tb\rc", "a\\tb\\rc", "tab and carriage return");
	sanitizes("\x1b[31mred\x7f", "\\x1b[31mred\\x7f", "ESC and DEL as \\xNN");
	sanitizes("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac",
	    "UTF-8 text is kept");
	sanitizes("c1 \xc2\x9b", "c1 \\xc2\\x9b", "a C1 control (CSI) is escaped");
	sanitizes("bad \xff\xc3", "bad \\xff\\xc3", "bytes that are not UTF-8 are escaped");
	sanitizes("password: a\nb", "password: [REDACTED]\\nb",
	    "masking comes before escaping");
	redacts("a\nb", "a\nb", "log_redact itself leaves control bytes");
}

/* What one log_emit() through target writes to stderr, in buf. */
static void
logged(enum log_target target, char *buf, size_t size)
{
	char path[] = "/tmp/rally-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct log_ctx ctx = { "t\n1", NULL, "j\x1b" };
	ssize_t n;

	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_init("test", target, LOG_INFO);
	log_emit(LOG_WARNING, NULL, &ctx, "job failed: %s",
	    "boom\nrallyd[1]: crit: forged token=abc");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

static void
test_log_lines_are_one_line(void)
{
	char buf[1024];

	logged(LOG_TARGET_STDERR, buf, sizeof buf);
	ok(strchr(buf, '\n') == buf + strlen(buf) - 1 &&
	    strstr(buf, "boom\\nrallyd[1]: crit: forged token=[REDACTED]") !=
	    NULL && strstr(buf, "tenant=t\\n1") != NULL &&
	    strstr(buf, "job=j\\x1b") != NULL,
	    "on stderr a message and its context are one line, escaped");
	/* Without journald, the journal path falls back to stderr. */
	logged(LOG_TARGET_JOURNAL, buf, sizeof buf);
	if (buf[0] == '\0')
		ok(1, "# SKIP journald took the entry");
	else
		ok(strchr(buf, '\n') == buf + strlen(buf) - 1 &&
		    strstr(buf, "boom\\nrallyd") != NULL,
		    "the journal's fallback line is escaped too");
}

static void
test_length_limit(void)
{
	char *in = xmalloc(3 * LOG_REDACT_MAX), *out;

	memset(in, '\n', 3 * LOG_REDACT_MAX - 1);
	in[3 * LOG_REDACT_MAX - 1] = '\0';
	out = log_sanitize(in);
	ok(strlen(out) <= LOG_REDACT_MAX && strstr(out, "[truncated]") != NULL,
	    "escaped output is cut at LOG_REDACT_MAX and says so");
	free(out);
	for (size_t i = 0; i + 2 < 3 * LOG_REDACT_MAX; i += 2)
		memcpy(in + i, "\xc3\xa9", 2);
	out = log_redact(in);
	ok(strlen(out) <= LOG_REDACT_MAX &&
	    ((unsigned char)out[strlen(out) - 12] & 0xc0) != 0xc0,
	    "a cut does not leave half a UTF-8 sequence");
	free(out);
	free(in);
}

int
main(void)
{
	redacts("refresh failed: access_token=ya29.abc&x=1",
	    "refresh failed: access_token=[REDACTED]&x=1", "a token in a query string");
	redacts("{\"refresh_token\": \"1//0gabc\", \"expires_in\": 3599}",
	    "{\"refresh_token\": \"[REDACTED]\", \"expires_in\": 3599}",
	    "a token in JSON");
	redacts("Authorization: Bearer abc.def", "Authorization: [REDACTED]",
	    "an Authorization header with its scheme");
	redacts("got ya29.a0AfH6 from cache", "got ya29.[REDACTED] from cache",
	    "a Google access token anywhere");
	redacts("password=hunter2 user=bob", "password=[REDACTED] user=bob",
	    "a password");
	redacts("session_id: 7f3a9c", "session_id: [REDACTED]", "a session id");
	redacts("callback code=4/0Abc&state=xyz", "callback code=[REDACTED]&state=xyz",
	    "an OAuth code parameter");
	redacts("exit code: 78", "exit code: 78", "an exit code is not a secret");
	redacts("client_secret=GOCSPX-abc", "client_secret=[REDACTED]",
	    "a client secret");
	redacts("job 42 failed: timeout", "job 42 failed: timeout",
	    "ordinary text is untouched");
	redacts("my_token=", "my_token=", "an empty value stays empty");
	redacts("", "", "empty input");
	{
		/* Worst case growth: many one-byte secrets. */
		char in[400] = "", *out;
		for (int i = 0; i < 40; i++)
			strcat(in, "token=x ");
		out = log_redact(in);
		ok(strstr(out, "token=x") == NULL && strlen(out) > strlen(in),
		    "many short secrets are all masked");
		free(out);
	}
	test_redaction_shapes();
	test_uri_userinfo();
	test_escaping();
	test_length_limit();
	test_log_lines_are_one_line();
	ok(log_priority_from_name("debug") == LOG_DEBUG, "debug priority");
	ok(log_priority_from_name("warning") == LOG_WARNING, "warning priority");
	ok(log_priority_from_name("loud") == -1, "unknown priority");
	return tap_done();
}
