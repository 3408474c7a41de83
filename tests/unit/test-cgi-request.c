/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi's request parser (cgi/request.c) and response writer
 * (cgi/response.c): percent-decoding, limits, malformed input.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "request.h"
#include "utf8.h"
#include "response.h"
#include "tap.h"

/* A fake CGI environment: NULL-terminated name/value pairs. */
static const char *const *fake_env;

static const char *
env_cb(const char *name, void *arg)
{
	(void)arg;
	for (size_t i = 0; fake_env[i] != NULL; i += 2)
		if (strcmp(fake_env[i], name) == 0)
			return fake_env[i + 1];
	return NULL;
}

/* Parses a request from env; returns its status (0 when accepted). */
static int
parse_env(const char *const *env, struct request **out)
{
	struct request *req;
	char *cause = NULL;
	int status;

	fake_env = env;
	req = request_new(env_cb, NULL);
	status = request_parse(req, &cause);
	if ((status == 0) != (cause == NULL))
		printf("# status %d but cause %s\n", status, cause ? cause : "(none)");
	free(cause);
	if (out != NULL)
		*out = req;
	else
		request_free(req);
	return status;
}

static int
params_status(const char *s, size_t len, struct req_params *p)
{
	char *cause = NULL;
	int rc;

	memset(p, 0, sizeof *p);
	rc = req_params_parse(p, s, len, &cause);
	if (rc == -1 && (cause == NULL || p->n != 0 || p->v != NULL))
		printf("# failed without a cause or left parameters\n");
	free(cause);
	return rc;
}

/* s must fail to parse. */
static void
params_bad(const char *s, const char *name)
{
	struct req_params p;

	ok(params_status(s, strlen(s), &p) == -1, "%s", name);
	req_params_clear(&p);
}

static void
test_percent_decoding(void)
{
	struct req_params p;
	const char *q = "a=1&b=x%20y+z&c=%41%42&d=%c3%a9t%C3%A9&flag&e=&"
	    "f=caf\xc3\xa9&g=a%2Bb%26c%3Dd";

	ok(params_status(q, strlen(q), &p) == 0, "a well-formed query parses");
	ok(p.n == 8, "every pair is a parameter");
	is_str(req_params_get(&p, "a"), "1", "a plain value");
	is_str(req_params_get(&p, "b"), "x y z", "%20 and '+' are spaces");
	is_str(req_params_get(&p, "c"), "AB", "upper-case escapes decode");
	is_str(req_params_get(&p, "d"), "\xc3\xa9t\xc3\xa9",
	    "escaped UTF-8 decodes, either case of hex");
	is_str(req_params_get(&p, "flag"), "", "a name alone has an empty value");
	is_str(req_params_get(&p, "e"), "", "name= has an empty value");
	is_str(req_params_get(&p, "f"), "caf\xc3\xa9", "raw UTF-8 is kept");
	is_str(req_params_get(&p, "g"), "a+b&c=d",
	    "escaped separators are data, not separators");
	ok(req_params_get(&p, "zzz") == NULL, "an absent name is NULL");
	req_params_clear(&p);

	ok(params_status("&&a=1&&", 7, &p) == 0 && p.n == 1,
	    "empty pairs are skipped");
	req_params_clear(&p);
	ok(params_status("", 0, &p) == 0 && p.n == 0, "an empty query is empty");
	req_params_clear(&p);
	ok(params_status("a=1&a=2&b=3", 11, &p) == 0 &&
	    req_params_get(&p, "a") == NULL && req_params_get(&p, "b") != NULL,
	    "a repeated name is ambiguous and yields NULL");
	req_params_clear(&p);
	ok(params_status("a=1\0b=2", 7, &p) == -1,
	    "a raw NUL byte in a body is refused");
	req_params_clear(&p);
	ok(params_status("a=xyz", 3, &p) == 0 &&
	    strcmp(req_params_get(&p, "a"), "x") == 0,
	    "only len bytes are read");
	req_params_clear(&p);
}

static void
test_malformed_params(void)
{
	params_bad("=x", "an empty name is refused");
	params_bad("a=%4", "a truncated escape is refused");
	params_bad("a=%", "a lone % is refused");
	params_bad("a=%zz", "a non-hex escape is refused");
	params_bad("a=%0g", "a half-hex escape is refused");
	params_bad("a=%00", "an escaped NUL is refused");
	params_bad("a%00=1", "an escaped NUL in a name is refused");
	params_bad("a=%ff", "a byte that is never UTF-8 is refused");
	params_bad("a=%c3", "a truncated UTF-8 sequence is refused");
	params_bad("a=%c0%af", "an overlong encoding is refused");
	params_bad("a=%ed%a0%80", "a UTF-16 surrogate is refused");
	params_bad("a=%f4%90%80%80", "a code point above U+10FFFF is refused");
	params_bad("a=\xe9t\xe9", "raw Latin-1 is refused");
	params_bad("ok=1&a=%", "an error in a later pair fails the whole query");
}

/* A query of n pairs "p0=1&p1=1...". */
static char *
many_params(size_t n)
{
	char *s = xstrdup(""), *t;

	for (size_t i = 0; i < n; i++) {
		t = xasprintf("%s%sp%zu=1", s, i ? "&" : "", i);
		free(s);
		s = t;
	}
	return s;
}

/* "name=value" with a name of nlen and a value of vlen bytes. */
static char *
sized_param(size_t nlen, size_t vlen)
{
	char *s = xmalloc(nlen + vlen + 2);

	memset(s, 'n', nlen);
	s[nlen] = '=';
	memset(s + nlen + 1, 'v', vlen);
	s[nlen + vlen + 1] = '\0';
	return s;
}

static void
test_param_limits(void)
{
	struct req_params p;
	char *s;

	s = many_params(REQ_MAX_PARAMS);
	ok(params_status(s, strlen(s), &p) == 0 && p.n == REQ_MAX_PARAMS,
	    "REQ_MAX_PARAMS parameters are accepted");
	req_params_clear(&p);
	free(s);
	s = many_params(REQ_MAX_PARAMS + 1);
	ok(params_status(s, strlen(s), &p) == -1,
	    "one parameter more is refused");
	free(s);

	s = sized_param(REQ_MAX_NAME, 1);
	ok(params_status(s, strlen(s), &p) == 0, "a name of REQ_MAX_NAME bytes");
	req_params_clear(&p);
	free(s);
	s = sized_param(REQ_MAX_NAME + 1, 1);
	ok(params_status(s, strlen(s), &p) == -1, "a longer name is refused");
	free(s);

	s = sized_param(1, REQ_MAX_VALUE);
	ok(params_status(s, strlen(s), &p) == 0,
	    "a value of REQ_MAX_VALUE bytes");
	req_params_clear(&p);
	free(s);
	s = sized_param(1, REQ_MAX_VALUE + 1);
	ok(params_status(s, strlen(s), &p) == -1, "a longer value is refused");
	free(s);
}

static void
test_utf8(void)
{
	ok(utf8_valid("", 0), "empty is UTF-8");
	ok(utf8_valid("\xf4\x8f\xbf\xbf", 4), "U+10FFFF is UTF-8");
	ok(utf8_valid("\xf0\x9f\x98\x80", 4), "an emoji is UTF-8");
	ok(utf8_valid("\xee\x80\x80", 3), "U+E000 after the surrogates");
	ok(!utf8_valid("\xe2\x82", 2), "a truncated sequence is not");
	ok(!utf8_valid("\x80", 1), "a lone continuation byte is not");
	ok(!utf8_valid("\xe0\x80\xaf", 3), "a 3-byte overlong is not");
	ok(!utf8_valid("\xf0\x80\x80\xaf", 4), "a 4-byte overlong is not");
	ok(!utf8_valid("\xf8\x88\x80\x80\x80", 5), "a 5-byte form is not");
	ok(!utf8_valid("\xe2\x28\xa1", 3), "a bad continuation is not");
}

static void
test_request_line(void)
{
	struct request *req;

	{
		const char *env[] = { "REQUEST_METHOD", "POST", "PATH_INFO",
		    "/hooks/google/gmail", "QUERY_STRING", "token=a%2Fb",
		    "CONTENT_TYPE", "Application/JSON ; charset=UTF-8",
		    "CONTENT_LENGTH", "42", NULL };

		ok(parse_env(env, &req) == 0, "a full request parses");
		is_str(req->method, "POST", "the method");
		is_str(req->path, "/hooks/google/gmail", "the path from PATH_INFO");
		is_str(req->query, "token=a%2Fb", "the raw query string");
		is_str(req_params_get(&req->params, "token"), "a/b",
		    "query parameters are decoded");
		is_str(req->content_type, "application/json",
		    "the media type, lower case, without parameters");
		ok(req->content_length == 42, "the content length");
		request_free(req);
	}
	{
		const char *env[] = { "REQUEST_METHOD", "GET", NULL };

		ok(parse_env(env, &req) == 0, "a bare GET parses");
		is_str(req->path, "/", "no path is /");
		is_str(req->query, "", "no query is empty");
		is_str(req->content_type, "", "no content type is empty");
		ok(req->content_length == 0, "no length is 0");
		request_free(req);
	}
	{
		const char *env[] = { NULL };

		ok(parse_env(env, NULL) == 400, "no REQUEST_METHOD is 400");
	}
	{
		const char *env[] = { "REQUEST_METHOD", "post", NULL };

		ok(parse_env(env, NULL) == 400, "a lower-case method is 400");
	}
	{
		const char *env[] = { "REQUEST_METHOD", "GETGETGETGETGETGET", NULL };

		ok(parse_env(env, NULL) == 400, "an overlong method is 400");
	}
}

/* The path parsed from env; NULL when parsing failed. */
static char *
path_of(const char *path_info, const char *script_name, const char *uri)
{
	const char *env[] = { "REQUEST_METHOD", "GET",
	    "PATH_INFO", path_info, "SCRIPT_NAME", script_name,
	    "REQUEST_URI", uri, NULL };
	const char *compact[9];
	struct request *req;
	char *path = NULL;
	size_t n = 0;

	/* A NULL value would end the list early: keep the pairs that are set. */
	for (size_t i = 0; env[i] != NULL; i += 2)
		if (env[i + 1] != NULL) {
			compact[n++] = env[i];
			compact[n++] = env[i + 1];
		}
	compact[n] = NULL;
	if (parse_env(compact, &req) == 0)
		path = xstrdup(req->path);
	request_free(req);
	return path;
}

static void
test_paths(void)
{
	char *p, long_path[REQ_MAX_PATH + 2];
	struct request *req;

#define PATH_IS(got, want, name) do {		\
	p = (got);				\
	is_str(p, want, name);			\
	free(p);				\
} while (0)
	PATH_IS(path_of("/a/b", "/rally.cgi", "/rally.cgi/x"), "/a/b",
	    "PATH_INFO wins over REQUEST_URI");
	PATH_IS(path_of(NULL, "/rally.cgi", "/rally.cgi/hooks/a%20b?x=1"),
	    "/hooks/a b",
	    "without PATH_INFO: REQUEST_URI decoded, less script and query");
	PATH_IS(path_of("", "/rally.cgi", "/rally.cgi"), "/",
	    "the script itself is /");
	PATH_IS(path_of(NULL, "/rally.cgi", "/rally.cgix/y"), "/rally.cgix/y",
	    "the script name is stripped only as a whole segment");
	PATH_IS(path_of(NULL, NULL, "/hooks/google/gmail?token=a"),
	    "/hooks/google/gmail", "a server mapping the location: REQUEST_URI");
	PATH_IS(path_of(NULL, "/hooks/google/gmail", "/hooks/google/gmail"),
	    "/", "a script named as the path is /");
	PATH_IS(path_of(NULL, NULL, "/a+b"), "/a+b", "'+' in a path is a '+'");
	PATH_IS(path_of("hooks", NULL, NULL), NULL,
	    "PATH_INFO without a leading / is refused");
	PATH_IS(path_of(NULL, NULL, "http://x/y"), NULL,
	    "an absolute REQUEST_URI is refused");
	PATH_IS(path_of(NULL, NULL, "/a%00b"), NULL, "an escaped NUL is refused");
	PATH_IS(path_of(NULL, NULL, "/a%e9"), NULL, "non-UTF-8 is refused");
	PATH_IS(path_of("/caf\xe9", NULL, NULL), NULL,
	    "a PATH_INFO that is not UTF-8 is refused");
#undef PATH_IS

	memset(long_path, 'a', sizeof long_path - 1);
	long_path[0] = '/';
	long_path[sizeof long_path - 1] = '\0';
	{
		const char *env[] = { "REQUEST_METHOD", "GET", "PATH_INFO",
		    long_path, NULL };

		ok(parse_env(env, NULL) == 414, "a path over REQ_MAX_PATH is 414");
	}
	{
		const char *env[] = { "REQUEST_METHOD", "GET", "REQUEST_URI",
		    long_path, NULL };

		ok(parse_env(env, NULL) == 414, "so is a REQUEST_URI path");
	}
	long_path[REQ_MAX_PATH] = '\0';
	{
		const char *env[] = { "REQUEST_METHOD", "GET", "PATH_INFO",
		    long_path, NULL };

		ok(parse_env(env, &req) == 0 && strlen(req->path) == REQ_MAX_PATH,
		    "a path of REQ_MAX_PATH bytes is accepted");
		request_free(req);
	}
}

static void
test_query_limits(void)
{
	char *q = xmalloc(REQ_MAX_QUERY + 2);
	const char *env[] = { "REQUEST_METHOD", "GET", "QUERY_STRING", q, NULL };

	memset(q, 'a', REQ_MAX_QUERY);
	q[REQ_MAX_QUERY] = '\0';
	ok(parse_env(env, NULL) == 400, "a query of REQ_MAX_QUERY bytes is "
	    "read (and its over-long name refused)");
	q[0] = 'a';
	q[1] = '=';
	ok(parse_env(env, NULL) == 0, "a query of REQ_MAX_QUERY bytes parses");
	q[REQ_MAX_QUERY] = 'a';
	q[REQ_MAX_QUERY + 1] = '\0';
	ok(parse_env(env, NULL) == 414, "a longer query is 414");
	free(q);
	{
		const char *bad[] = { "REQUEST_METHOD", "GET", "QUERY_STRING",
		    "a=%zz", NULL };

		ok(parse_env(bad, NULL) == 400, "a malformed query is 400");
	}
}

static int
length_status(const char *cl, size_t *len)
{
	const char *env[] = { "REQUEST_METHOD", "POST", "CONTENT_LENGTH", cl,
	    NULL };
	struct request *req;
	int status = parse_env(env, &req);

	*len = req->content_length;
	request_free(req);
	return status;
}

static void
test_content_length(void)
{
	size_t len;

	ok(length_status("", &len) == 0 && len == 0, "an empty length is 0");
	ok(length_status("0", &len) == 0 && len == 0, "0");
	ok(length_status("1048576", &len) == 0 && len == REQ_MAX_BODY,
	    "REQ_MAX_BODY is accepted");
	ok(length_status("1048577", &len) == 413, "one byte more is 413");
	ok(length_status("99999999999999999999999999", &len) == 413,
	    "a length past 64 bits is 413");
	ok(length_status("0000000000000000000000000007", &len) == 0 && len == 7,
	    "leading zeros do not count against the limit");
	ok(length_status("-1", &len) == 400, "a negative length is 400");
	ok(length_status("+5", &len) == 400, "a signed length is 400");
	ok(length_status(" 5", &len) == 400, "a blank in the length is 400");
	ok(length_status("1e3", &len) == 400, "an exponent is 400");
}

static const char *
type_of(const char *ct, int *status)
{
	static char buf[REQ_MAX_CONTENT_TYPE + 1];
	const char *env[] = { "REQUEST_METHOD", "POST", "CONTENT_TYPE", ct,
	    NULL };
	struct request *req;

	*status = parse_env(env, &req);
	snprintf(buf, sizeof buf, "%s",
	    req->content_type != NULL ? req->content_type : "(null)");
	request_free(req);
	return buf;
}

static void
test_content_type(void)
{
	char longtype[REQ_MAX_CONTENT_TYPE + 2];
	int status;

	is_str(type_of("application/x-www-form-urlencoded", &status),
	    "application/x-www-form-urlencoded", "a bare media type");
	is_str(type_of("  Text/Plain;charset=utf-8", &status), "text/plain",
	    "blanks, case and parameters go");
	ok(type_of("text", &status) != NULL && status == 400,
	    "a type without a subtype is 400");
	ok(type_of("text/", &status) != NULL && status == 400,
	    "an empty subtype is 400");
	ok(type_of("/plain", &status) != NULL && status == 400,
	    "an empty type is 400");
	ok(type_of("text/pl ain", &status) != NULL && status == 400,
	    "a blank inside is 400");
	ok(type_of("a/b/c", &status) != NULL && status == 400,
	    "two slashes is 400");
	memset(longtype, 'a', sizeof longtype - 1);
	longtype[1] = '/';
	longtype[sizeof longtype - 1] = '\0';
	ok(type_of(longtype, &status) != NULL && status == 400,
	    "a type over REQ_MAX_CONTENT_TYPE is 400");
}

/* A request with the given type and length reading body through a pipe. */
static int
read_body(const char *ct, const char *cl, const char *body,
    struct request **out, int *rest_fd)
{
	const char *env[] = { "REQUEST_METHOD", "POST", "CONTENT_TYPE", ct,
	    "CONTENT_LENGTH", cl, NULL };
	char *cause = NULL;
	int fds[2], status;

	if (pipe(fds) == -1 || parse_env(env, out) != 0)
		return -1;
	if (write(fds[1], body, strlen(body)) != (ssize_t)strlen(body))
		return -1;
	close(fds[1]);
	status = request_read_body(*out, fds[0], &cause);
	if ((status == 0) != (cause == NULL))
		printf("# status %d but cause %s\n", status, cause ? cause : "(none)");
	free(cause);
	if (rest_fd != NULL)
		*rest_fd = fds[0];
	else
		close(fds[0]);
	return status;
}

static void
test_body(void)
{
	struct request *req;
	char rest[16];
	ssize_t n;
	int fd;

	ok(read_body("application/json", "3", "abcdef", &req, &fd) == 0 &&
	    req->body_len == 3 && strcmp((char *)req->body, "abc") == 0,
	    "the body is CONTENT_LENGTH bytes, NUL-terminated");
	n = read(fd, rest, sizeof rest);
	ok(n == 3 && memcmp(rest, "def", 3) == 0,
	    "nothing past CONTENT_LENGTH is read");
	close(fd);
	request_free(req);

	ok(read_body("application/json", "10", "short", &req, NULL) == 400,
	    "a body shorter than CONTENT_LENGTH is 400");
	request_free(req);

	ok(read_body("application/x-www-form-urlencoded; charset=utf-8", "13",
	    "a=1&b=%C3%A9+", &req, NULL) == 0 &&
	    strcmp(req_params_get(&req->form, "b"), "\xc3\xa9 ") == 0,
	    "a urlencoded body is parsed into form");
	request_free(req);

	ok(read_body("application/x-www-form-urlencoded", "5", "a=%zz", &req,
	    NULL) == 400, "a malformed form is 400");
	request_free(req);

	ok(read_body("application/json", "5", "a=%zz", &req, NULL) == 0 &&
	    req->form.n == 0, "another type's body is not parsed as a form");
	request_free(req);

	ok(read_body("", "0", "", &req, NULL) == 0 && req->body_len == 0 &&
	    req->body != NULL && req->body[0] == '\0', "an empty body");
	request_free(req);
}

/* An unread body is drained, never past CONTENT_LENGTH, and never when read. */
static void
test_drain_body(void)
{
	const char *env[] = { "REQUEST_METHOD", "POST", "CONTENT_TYPE",
	    "application/json", "CONTENT_LENGTH", "6", NULL };
	struct request *req;
	char rest[16];
	int fds[2];
	ssize_t n;

	if (pipe(fds) == -1 || parse_env(env, &req) != 0 ||
	    write(fds[1], "abcdefXY", 8) != 8)
		abort();
	close(fds[1]);
	request_drain_body(req, fds[0], 1000);
	n = read(fds[0], rest, sizeof rest);
	ok(n == 2 && memcmp(rest, "XY", 2) == 0,
	    "an unread body is drained up to CONTENT_LENGTH");
	close(fds[0]);
	request_free(req);

	ok(read_body("application/json", "3", "abcdef", &req, &fds[0]) == 0,
	    "a body read");
	request_drain_body(req, fds[0], 1000);
	n = read(fds[0], rest, sizeof rest);
	ok(n == 3 && memcmp(rest, "def", 3) == 0, "a read body is not drained");
	close(fds[0]);
	request_free(req);

	/* A client that never sends the body it announced costs the timeout. */
	if (pipe(fds) == -1 || parse_env(env, &req) != 0)
		abort();
	request_drain_body(req, fds[0], 50);
	ok(1, "a body that never comes ends the drain at the timeout");
	close(fds[0]);
	close(fds[1]);
	request_free(req);
}

static void
test_headers(void)
{
	const char *env[] = { "REQUEST_METHOD", "POST",
	    "HTTP_X_GOOG_CHANNEL_ID", "chan-1",
	    "HTTP_X_GOOG_CHANNEL_TOKEN", "secret-value\x01",
	    "HTTP_X_EMPTY", "",
	    "HTTP_X_LONG", "0123456789", NULL };
	struct request *req;
	const char *v = NULL;
	char *cause = NULL;

	ok(parse_env(env, &req) == 0, "a request with headers parses");
	ok(request_header(req, "X-Goog-Channel-ID", 64, &v, &cause) == 0 &&
	    strcmp(v, "chan-1") == 0, "a header is found as HTTP_NAME");
	ok(request_header(req, "x-goog-channel-id", 64, &v, &cause) == 0,
	    "names are case-insensitive");
	ok(request_header(req, "X-Missing", 64, &v, &cause) == -1 &&
	    strstr(cause, "missing") != NULL, "a missing header fails");
	free(cause);
	ok(request_header(req, "X-Empty", 64, &v, &cause) == -1,
	    "an empty header counts as missing");
	free(cause);
	ok(request_header(req, "X-Long", 10, &v, &cause) == 0,
	    "a header of max bytes is accepted");
	ok(request_header(req, "X-Long", 9, &v, &cause) == -1 &&
	    strstr(cause, "longer") != NULL, "a longer header fails");
	free(cause);
	ok(request_header(req, "X-Goog-Channel-Token", 64, &v, &cause) == -1 &&
	    strstr(cause, "secret") == NULL,
	    "a control byte fails, and the message does not quote the value");
	free(cause);
	request_free(req);
}

static void
test_response(void)
{
	struct response *r = response_new();
	const char *tail;
	char *out;
	size_t len;

	response_plain(r, 405, NULL);
	response_set_header(r, "Allow", "GET");
	response_set_header(r, "allow", "POST");
	out = response_format(r, &len);
	ok(strncmp(out, "Status: 405 Method Not Allowed\r\n", 32) == 0,
	    "the CGI status line comes first");
	ok(strstr(out, "\r\nCache-Control: no-store\r\n") != NULL,
	    "Cache-Control: no-store");
	ok(strstr(out, "\r\nX-Content-Type-Options: nosniff\r\n") != NULL,
	    "X-Content-Type-Options: nosniff");
	ok(strstr(out, "\r\nAllow: POST\r\n") != NULL &&
	    strstr(out, "GET") == NULL, "a header set twice is replaced");
	ok(strstr(out, "\r\nContent-Type: text/plain; charset=utf-8\r\n") != NULL,
	    "a plain page says so");
	tail = "\r\n\r\n405 Method Not Allowed\n";
	ok(len > strlen(tail) && strcmp(out + len - strlen(tail), tail) == 0,
	    "a blank line, then the body, and nothing after");
	free(out);

	response_plain(r, 204, "ignored");
	out = response_format(r, &len);
	if (!ok(strstr(out, "\r\nContent-Type:") == NULL &&
	    strcmp(out + len - 4, "\r\n\r\n") == 0, "a 204 has no body"))
		printf("# %s\n", out);
	free(out);
	response_free(r);
	response_free(NULL);
	ok(1, "response_free(NULL) is safe");
	request_free(NULL);
	ok(1, "request_free(NULL) is safe");
}

int
main(void)
{
	test_percent_decoding();
	test_malformed_params();
	test_param_limits();
	test_utf8();
	test_request_line();
	test_paths();
	test_query_limits();
	test_content_length();
	test_content_type();
	test_body();
	test_drain_body();
	test_headers();
	test_response();
	return tap_done();
}
