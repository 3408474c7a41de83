/* SPDX-License-Identifier: ISC */
/*
 * http: libcurl multi on libevent, against tests/lib/httpd.py (a scripted
 * HTTP/1.1 server over TLS and plain HTTP, with a CA it makes at start) and
 * nghttpd (Debian package nghttp2-server) for HTTP/2.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "http.h"
#include "log.h"
#include "tap.h"

#define NGHTTPD "/usr/sbin/nghttpd"

static struct event_base *base;
static char tmpdir[] = "/tmp/rally-test-http-XXXXXX";
static char ca[PATH_MAX], other_ca[PATH_MAX];
static int tls_port, plain_port, h2_port;
static pid_t httpd_pid = -1, h2_pid = -1;
static int httpd_stdin = -1;

/* Callbacks still expected by run(); the loop stops when it reaches 0. */
static int outstanding;
static bool timed_out;

struct result {
	int calls;
	enum http_err err;
	long status;
	char *body;
	size_t body_len;
	bool nul_terminated;
	char *content_type;
	long retry_after_ms;
	int attempts;
	int http_version;
	char *error;
	uint64_t submitted, done;
};

/* ---- processes ---- */

static int
read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (n + 1 < size) {
		ssize_t r;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		if ((r = read(fd, buf + n, 1)) <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return 0;
}

static int
start_httpd(void)
{
	const char *srcdir = getenv("abs_top_srcdir");
	char script[PATH_MAX], line[128];
	int in[2], out[2];

	snprintf(script, sizeof script, "%s/tests/lib/httpd.py",
	    srcdir != NULL ? srcdir : ".");
	if (pipe(in) != 0 || pipe(out) != 0)
		return -1;
	if ((httpd_pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/usr/bin/python3", "python3", script, "--dir", tmpdir,
		    (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	httpd_stdin = in[1];
	if (read_line(out[0], line, sizeof line, 20000) != 0 ||
	    sscanf(line, "tls=%d http=%d", &tls_port, &plain_port) != 2) {
		close(out[0]);
		return -1;
	}
	close(out[0]);
	snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
	snprintf(other_ca, sizeof other_ca, "%s/other-ca.pem", tmpdir);
	return 0;
}

/* A port nobody listens on (a race only with other tests, briefly). */
static int
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		port = -1;
	else
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool
port_accepts(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool yes;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	yes = connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
	close(fd);
	return yes;
}

static int
start_nghttpd(void)
{
	char root[PATH_MAX], file[PATH_MAX + 16], key[PATH_MAX], cert[PATH_MAX];
	char port[16];
	FILE *f;
	int i;

	if (access(NGHTTPD, X_OK) != 0) {
		printf("# %s missing: apt-get install nghttp2-server\n", NGHTTPD);
		return -1;
	}
	snprintf(root, sizeof root, "%s/h2", tmpdir);
	snprintf(file, sizeof file, "%s/hello.txt", root);
	snprintf(key, sizeof key, "%s/server.key", tmpdir);
	snprintf(cert, sizeof cert, "%s/server.pem", tmpdir);
	if (mkdir(root, 0700) != 0 || (f = fopen(file, "w")) == NULL)
		return -1;
	fputs("hello over h2\n", f);
	fclose(f);
	if ((h2_port = free_port()) < 0)
		return -1;
	snprintf(port, sizeof port, "%d", h2_port);
	if ((h2_pid = fork()) == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(null, 2);
		execl(NGHTTPD, "nghttpd", "-a", "127.0.0.1", "-d", root, port,
		    key, cert, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 250; i++) {
		if (port_accepts(h2_port))
			return 0;
		usleep(20000);
	}
	return -1;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
stop_children(void)
{
	if (h2_pid > 0) {
		kill(h2_pid, SIGTERM);
		waitpid(h2_pid, NULL, 0);
	}
	if (httpd_pid > 0) {
		close(httpd_stdin);
		kill(httpd_pid, SIGTERM);
		waitpid(httpd_pid, NULL, 0);
	}
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the loop ---- */

static void
done_cb(const struct http_response *r, void *arg)
{
	struct result *res = arg;

	if (res->calls++ > 0)
		return;
	res->err = r->err;
	res->status = r->status;
	res->body = xstrndup(r->body, r->body_len);
	res->body_len = r->body_len;
	res->nul_terminated = r->body[r->body_len] == '\0';
	res->content_type = r->content_type ? xstrdup(r->content_type) : NULL;
	res->retry_after_ms = r->retry_after_ms;
	res->attempts = r->attempts;
	res->http_version = r->http_version;
	res->error = r->error ? xstrdup(r->error) : NULL;
	res->done = now_usec();
	if (--outstanding == 0)
		event_base_loopbreak(base);
}

static void
result_clear(struct result *res)
{
	free(res->body);
	free(res->content_type);
	free(res->error);
	memset(res, 0, sizeof *res);
}

static long
elapsed_ms(const struct result *res)
{
	return (long)((res->done - res->submitted) / 1000);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	timed_out = true;
	event_base_loopbreak(base);
}

/* Runs the loop until `expect` callbacks arrived or max_ms passed. */
static bool
run(int expect, long max_ms)
{
	struct event *guard = evtimer_new(base, guard_cb, NULL);
	struct timeval tv = { max_ms / 1000, (max_ms % 1000) * 1000 };

	outstanding = expect;
	timed_out = false;
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
	return !timed_out;
}

static struct http_opts
test_opts(void)
{
	struct http_opts o = {
		.ca_file = ca,
		.connect_timeout_ms = 2000,
		.timeout_ms = 5000,
		.max_response = 1024 * 1024,
		.max_retries = 3,
		.retry_base_ms = 10,
		.retry_max_ms = 100,
		.max_connections = 16,
	};

	return o;
}

static struct http_request *
req_at(const char *method, const char *scheme, int port, const char *path)
{
	char *url = xasprintf("%s://127.0.0.1:%d%s", scheme, port, path);
	struct http_request *req = http_request_new(method, url);

	free(url);
	return req;
}

static void
submit(struct http *h, struct http_request *req, struct result *res)
{
	memset(res, 0, sizeof *res);
	res->submitted = now_usec();
	if (http_submit(h, req, done_cb, res) != 0)
		ok(0, "http_submit accepted the request");
}

/* One request over TLS; runs the loop until its callback. */
static void
fetch_req(struct http *h, struct http_request *req, struct result *res)
{
	submit(h, req, res);
	if (!run(1, 15000))
		printf("# no callback within 15 s\n");
}

static void
fetch(struct http *h, const char *method, const char *path,
    struct result *res)
{
	fetch_req(h, req_at(method, "https", tls_port, path), res);
}

/* ---- tests ---- */

static void
test_get_returns_body_status_and_content_type(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct result r;

	fetch(h, "GET", "/ok", &r);
	ok(r.calls == 1 && r.err == HTTP_OK && r.status == 200,
	    "GET over TLS with the configured CA succeeds");
	is_str(r.body, "ok\n", "the body is delivered");
	ok(r.body_len == 3 && r.nul_terminated, "the body is NUL-terminated");
	is_str(r.content_type, "text/plain", "Content-Type is captured");
	ok(r.attempts == 1 && r.retry_after_ms == -1 && r.error == NULL,
	    "one attempt, no Retry-After, no error");
	ok(r.http_version == 11, "an HTTP/1.1-only server is spoken to in 1.1");
	ok(http_in_flight(h) == 0, "nothing is in flight afterwards");
	result_clear(&r);
	http_free(h);
}

static void
test_request_headers_body_and_bearer_reach_server(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct http_request *req;
	struct result r;

	req = req_at("POST", "https", tls_port, "/echo");
	http_request_header(req, "X-Test", "yes");
	http_request_body(req, "application/x-www-form-urlencoded", "a=b&c=d", 7);
	http_request_bearer(req, "SEKRETBEARER");
	fetch_req(h, req, &r);
	ok(r.status == 200 && strstr(r.body, "method=POST\n") != NULL,
	    "POST is sent as POST");
	ok(strstr(r.body, "\nbody=a=b&c=d\n") != NULL, "the body is sent");
	ok(strstr(r.body, "\ncontent-type=application/x-www-form-urlencoded\n")
	    != NULL, "the body's content type is sent");
	ok(strstr(r.body, "\nauthorization=Bearer SEKRETBEARER\n") != NULL,
	    "the bearer token is sent as Authorization");
	ok(strstr(r.body, "\nx-test=yes\n") != NULL, "a custom header is sent");
	ok(strstr(r.body, "\nexpect=\n") != NULL, "no Expect: 100-continue");
	ok(strstr(r.body, "\naccept-encoding=") != NULL &&
	    strstr(r.body, "gzip") != NULL, "gzip is offered");
	result_clear(&r);

	fetch(h, "PUT", "/echo", &r);
	ok(strstr(r.body, "method=PUT\n") != NULL &&
	    strstr(r.body, "\ncontent-length=0\n") != NULL,
	    "PUT without a body sends Content-Length: 0");
	result_clear(&r);
	fetch(h, "DELETE", "/echo", &r);
	ok(strstr(r.body, "method=DELETE\n") != NULL &&
	    strstr(r.body, "\ncontent-length=\n") != NULL,
	    "DELETE without a body sends none");
	result_clear(&r);
	req = req_at("PATCH", "https", tls_port, "/echo");
	http_request_body(req, "application/json", "{}", 2);
	fetch_req(h, req, &r);
	ok(strstr(r.body, "method=PATCH\n") != NULL &&
	    strstr(r.body, "\nbody={}\n") != NULL, "PATCH carries its body");
	result_clear(&r);
	http_free(h);
}

static void
test_invalid_requests_are_refused_at_submit(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct http_request *req;
	struct result r = { 0 };

	req = req_at("GET", "https", tls_port, "/echo");
	http_request_header(req, "X-Test", "a\r\nInjected: yes");
	ok(http_submit(h, req, done_cb, &r) == -1,
	    "a header value with CR LF is refused");
	req = http_request_new("GET", "not a url");
	ok(http_submit(h, req, done_cb, &r) == -1, "an unparseable URL is refused");
	req = http_request_new("GE T", "https://127.0.0.1/");
	ok(http_submit(h, req, done_cb, &r) == -1, "an invalid method is refused");
	req = http_request_new("GET", "ftp://127.0.0.1/");
	ok(http_submit(h, req, done_cb, &r) == -1, "ftp:// is refused");
	run(1, 100);
	ok(r.calls == 0 && http_in_flight(h) == 0,
	    "refused requests never call back");
	http_free(h);
}

static void
test_http_refused_unless_allow_http(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct result r = { 0 };

	ok(http_submit(h, req_at("GET", "http", plain_port, "/ok"), done_cb,
	    &r) == -1, "http:// is refused by default");
	run(1, 100);
	ok(r.calls == 0, "a refused http:// request never calls back");
	http_free(h);

	o.allow_http = true;
	h = http_new(base, &o);
	fetch_req(h, req_at("GET", "http", plain_port, "/ok"), &r);
	ok(r.err == HTTP_OK && r.status == 200, "allow_http permits http://");
	result_clear(&r);
	fetch(h, "GET", "/ok", &r);
	ok(r.err == HTTP_OK && r.status == 200, "allow_http still speaks https");
	result_clear(&r);
	http_free(h);
}

static void
test_503_is_retried_until_success(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct result r;

	fetch(h, "GET", "/flaky?key=f503&n=2", &r);
	ok(r.err == HTTP_OK && r.status == 200 && r.attempts == 3,
	    "two 503s then 200: delivered once, after 3 attempts");
	is_str(r.body, "ok after 2\n", "the body is the successful attempt's");
	result_clear(&r);
	http_free(h);
}

static void
test_retries_exhausted_return_last_503(void)
{
	struct http_opts o = test_opts();
	struct http *h;
	struct result r;

	o.max_retries = 2;
	h = http_new(base, &o);
	fetch(h, "GET", "/status/503", &r);
	ok(r.err == HTTP_OK && r.status == 503 && r.attempts == 3,
	    "after max_retries the last 503 is delivered, attempts = max_retries+1");
	is_str(r.body, "status 503\n", "with its body");
	result_clear(&r);
	http_free(h);
}

static void
test_no_retry_request_is_tried_once(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct http_request *req;
	struct result r;

	req = req_at("POST", "https", tls_port, "/status/503");
	http_request_no_retry(req);
	fetch_req(h, req, &r);
	ok(r.status == 503 && r.attempts == 1, "a no-retry request is tried once");
	result_clear(&r);
	fetch(h, "GET", "/status/404", &r);
	ok(r.status == 404 && r.attempts == 1, "404 is not retried");
	result_clear(&r);
	http_free(h);
}

static bool
retry_403_cb(const struct http_response *r, void *arg)
{
	return r->status == 403 || http_default_should_retry(r);
}

static void
test_retry_if_callback_decides(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct http_request *req;
	struct result r;

	fetch(h, "GET", "/flaky?key=plain403&n=1&code=403", &r);
	ok(r.status == 403 && r.attempts == 1, "403 is not retried by default");
	result_clear(&r);
	req = req_at("GET", "https", tls_port, "/flaky?key=cb403&n=1&code=403");
	http_request_retry_if(req, retry_403_cb);
	fetch_req(h, req, &r);
	ok(r.status == 200 && r.attempts == 2,
	    "a retry_if callback can retry 403 rateLimitExceeded");
	result_clear(&r);
	http_free(h);
}

static void
test_retry_after_is_honoured(void)
{
	struct http_opts o = test_opts();
	struct http *h;
	struct http_request *req;
	struct result r;

	o.retry_max_ms = 5000;
	h = http_new(base, &o);
	fetch(h, "GET", "/retry-after/1?key=ra1", &r);
	ok(r.status == 200 && r.attempts == 2, "429 with Retry-After is retried");
	ok(elapsed_ms(&r) >= 990 && elapsed_ms(&r) < 4000,
	    "the retry waits for Retry-After: 1 (%ld ms)", elapsed_ms(&r));
	result_clear(&r);

	req = req_at("GET", "https", tls_port, "/retry-after/7?key=ra7");
	http_request_no_retry(req);
	fetch_req(h, req, &r);
	ok(r.status == 429 && r.retry_after_ms == 7000,
	    "Retry-After reaches the caller in milliseconds");
	result_clear(&r);
	http_free(h);

	o.retry_max_ms = 200;
	h = http_new(base, &o);
	fetch(h, "GET", "/retry-after/30?key=ra30", &r);
	ok(r.status == 429 && r.attempts == 1 && r.retry_after_ms == 30000 &&
	    elapsed_ms(&r) < 2000, "a Retry-After past retry_max_ms is not cut "
	    "short: the caller gets it at once (%ld ms)", elapsed_ms(&r));
	result_clear(&r);
	http_free(h);
}

static void
test_body_cap(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct result r;
	char path[64];

	snprintf(path, sizeof path, "/big?n=%zu", o.max_response);
	fetch(h, "GET", path, &r);
	ok(r.err == HTTP_OK && r.body_len == o.max_response,
	    "a body of exactly max_response is delivered");
	result_clear(&r);
	snprintf(path, sizeof path, "/big?n=%zu", o.max_response + 1);
	fetch(h, "GET", path, &r);
	ok(r.err == HTTP_ERR_TOO_LARGE && r.attempts == 1 && r.body_len == 0,
	    "one byte over max_response is HTTP_ERR_TOO_LARGE, not retried");
	result_clear(&r);
	fetch(h, "GET", "/gzip?n=1000", &r);
	ok(r.err == HTTP_OK && r.body_len == 1000 && r.body[999] == 'a',
	    "a gzip body is decoded");
	result_clear(&r);
	snprintf(path, sizeof path, "/gzip?n=%zu", 4 * o.max_response);
	fetch(h, "GET", path, &r);
	ok(r.err == HTTP_ERR_TOO_LARGE,
	    "the cap counts decoded bytes (a small gzip bomb is refused)");
	result_clear(&r);
	http_free(h);
}

static void
test_total_timeout(void)
{
	struct http_opts o = test_opts();
	struct http *h;
	struct result r;

	o.timeout_ms = 300;
	o.max_retries = 1;
	h = http_new(base, &o);
	fetch(h, "GET", "/hang?q=CONFIDENTIALQUERY", &r);
	ok(r.err == HTTP_ERR_TIMEOUT && r.attempts == 2,
	    "a server that never answers is HTTP_ERR_TIMEOUT, after a retry");
	ok(elapsed_ms(&r) >= 550 && elapsed_ms(&r) < 3000,
	    "each attempt stops at timeout_ms (%ld ms for 2)", elapsed_ms(&r));
	ok(r.error != NULL && strstr(r.error, "CONFIDENTIAL") == NULL,
	    "the error message has no query string: %s", r.error ? r.error : "");
	result_clear(&r);
	http_free(h);
}

static void
test_connect_timeout(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof sin;
	struct http_opts o = test_opts();
	struct http *h;
	struct result r;
	int lfd, filler;

	/* A listener whose queue is full drops SYNs: connect hangs. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(lfd, (struct sockaddr *)&sin, sizeof sin);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	listen(lfd, 0);
	filler = socket(AF_INET, SOCK_STREAM, 0);
	connect(filler, (struct sockaddr *)&sin, sizeof sin);

	o.connect_timeout_ms = 300;
	o.max_retries = 0;
	h = http_new(base, &o);
	fetch_req(h, req_at("GET", "https", ntohs(sin.sin_port), "/"), &r);
	ok(r.err == HTTP_ERR_TIMEOUT && elapsed_ms(&r) < 2000,
	    "connect_timeout_ms bounds connecting (%ld ms)", elapsed_ms(&r));
	result_clear(&r);
	http_free(h);
	close(filler);
	close(lfd);
}

static void
test_connect_refused_after_retries(void)
{
	struct http_opts o = test_opts();
	struct http *h;
	struct result r;

	o.max_retries = 2;
	h = http_new(base, &o);
	fetch_req(h, req_at("GET", "https", free_port(), "/ok"), &r);
	ok(r.err == HTTP_ERR_CONNECT && r.attempts == 3 && r.status == 0,
	    "a refused connection is HTTP_ERR_CONNECT after max_retries");
	result_clear(&r);
	fetch(h, "GET", "/reset", &r);
	ok(r.err == HTTP_ERR_CONNECT && r.attempts == 3,
	    "a connection closed without a reply is retried as a connect error");
	result_clear(&r);
	fetch(h, "GET", "/garbage", &r);
	ok(r.err == HTTP_ERR_PROTOCOL && r.attempts == 1,
	    "a reply that is not HTTP is HTTP_ERR_PROTOCOL, not retried");
	result_clear(&r);
	fetch(h, "GET", "/redirect", &r);
	ok(r.err == HTTP_OK && r.status == 302 && r.attempts == 1,
	    "a redirect is delivered, not followed");
	result_clear(&r);
	http_free(h);
}

static void
test_untrusted_certificate_is_tls_error(void)
{
	struct http_opts o = test_opts();
	struct http *h;
	struct result r;

	o.ca_file = other_ca;
	h = http_new(base, &o);
	fetch(h, "GET", "/ok", &r);
	ok(r.err == HTTP_ERR_TLS && r.attempts == 1,
	    "a server cert not signed by the configured CA is HTTP_ERR_TLS");
	result_clear(&r);
	http_free(h);

	o.ca_file = NULL;
	h = http_new(base, &o);
	fetch(h, "GET", "/ok", &r);
	ok(r.err == HTTP_ERR_TLS, "the system store does not trust the test CA");
	result_clear(&r);
	http_free(h);
}

static void
test_100_concurrent_requests_complete_once(void)
{
	struct http_opts o = test_opts();
	struct http *h;
	struct result r[100];
	size_t i, good = 0, once = 0, inflight;
	char path[64];
	uint64_t t0 = now_usec();

	o.max_connections = 8;
	h = http_new(base, &o);
	for (i = 0; i < nitems(r); i++) {
		snprintf(path, sizeof path, i % 4 ? "/ok?i=%zu" : "/slow?ms=50&i=%zu", i);
		submit(h, req_at("GET", "https", tls_port, path), &r[i]);
	}
	inflight = http_in_flight(h);
	ok(inflight == 100, "100 requests are in flight after submitting");
	ok(r[0].calls == 0, "no callback is called from inside http_submit");
	run((int)nitems(r), 15000);
	for (i = 0; i < nitems(r); i++) {
		good += r[i].err == HTTP_OK && r[i].status == 200;
		once += r[i].calls == 1;
		result_clear(&r[i]);
	}
	ok(good == 100 && once == 100, "all 100 complete, each callback once");
	ok(http_in_flight(h) == 0, "none left in flight");
	printf("# 100 requests over <= 8 connections in %llu ms\n",
	    (unsigned long long)((now_usec() - t0) / 1000));
	run(1, 100);
	http_free(h);
}

static int ticks;

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	ticks++;
}

static void
test_loop_not_blocked_during_slow_transfer(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = { 0, 10000 };
	struct result r;

	ticks = 0;
	event_add(tick, &tv);
	fetch(h, "GET", "/slow?ms=600", &r);
	event_free(tick);
	ok(r.status == 200, "the slow transfer completes");
	ok(ticks >= 30, "a 10 ms timer kept firing during it (%d ticks in %ld ms)",
	    ticks, elapsed_ms(&r));
	result_clear(&r);
	http_free(h);
}

static struct http *cancel_h;
static struct http_request *cancel_req;
static int cancel_calls_during;
static struct result *cancel_res;

static void
cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	http_cancel(cancel_h, cancel_req);
	cancel_calls_during = cancel_res->calls;
}

static void
test_cancel_calls_back_with_cancelled(void)
{
	struct http_opts o = test_opts();
	struct event *ev;
	struct timeval tv = { 0, 200000 };
	struct result r, w;

	o.retry_max_ms = 10000;
	cancel_h = http_new(base, &o);
	for (int i = 0; i < 2; i++) {
		/* Once while the transfer runs, once while waiting to retry. */
		cancel_req = req_at("GET", "https", tls_port, i == 0 ? "/hang" :
		    "/retry-after/8?key=cancel");
		cancel_res = &r;
		submit(cancel_h, cancel_req, &r);
		ev = evtimer_new(base, cancel_cb, NULL);
		evtimer_add(ev, &tv);
		run(1, 5000);
		event_free(ev);
		ok(r.calls == 1 && cancel_calls_during == 1 &&
		    r.err == HTTP_ERR_CANCELLED && r.error != NULL,
		    "http_cancel %s calls back once, before returning, with "
		    "HTTP_ERR_CANCELLED", i == 0 ? "a running request" :
		    "a request waiting to retry");
		ok(http_in_flight(cancel_h) == 0, "and nothing is left in flight");
		result_clear(&r);
	}
	/* The cancelled request's connection is gone; a new one still works. */
	fetch_req(cancel_h, req_at("GET", "https", tls_port, "/ok"), &w);
	ok(w.status == 200, "requests still work after a cancel");
	result_clear(&w);
	http_free(cancel_h);
}

static void
test_free_with_requests_in_flight(void)
{
	struct http_opts o = test_opts();
	struct http *h;
	struct result r[5];
	size_t i, calls = 0;

	o.retry_max_ms = 10000;
	h = http_new(base, &o);
	for (i = 0; i < 3; i++)
		submit(h, req_at("GET", "https", tls_port, "/hang"), &r[i]);
	submit(h, req_at("GET", "https", tls_port, "/retry-after/8?key=free"),
	    &r[3]);
	submit(h, req_at("GET", "https", tls_port, "/ok"), &r[4]);
	run(100, 400);
	ok(http_in_flight(h) == 4 && r[4].calls == 1,
	    "three hanging and one waiting to retry are in flight");
	http_free(h);
	run(1, 100);
	for (i = 0; i < 4; i++)
		calls += (size_t)r[i].calls;
	ok(calls == 0, "http_free cancels them without calling back");
	result_clear(&r[4]);
}

static void
test_http2_with_nghttpd(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct result r[10];
	size_t i, h2 = 0;

	for (i = 0; i < nitems(r); i++)
		submit(h, req_at("GET", "https", h2_port, "/hello.txt"), &r[i]);
	run((int)nitems(r), 10000);
	ok(r[0].status == 200 && r[0].http_version == 20,
	    "HTTP/2 is negotiated when the server offers it");
	is_str(r[0].body, "hello over h2\n", "the HTTP/2 body is delivered");
	for (i = 0; i < nitems(r); i++) {
		h2 += r[i].calls == 1 && r[i].status == 200 &&
		    r[i].http_version == 20;
		result_clear(&r[i]);
	}
	ok(h2 == nitems(r), "10 concurrent HTTP/2 requests all complete once");
	http_free(h);
}

static void
test_logs_have_no_query_or_token(void)
{
	struct http_opts o = test_opts();
	struct http *h = http_new(base, &o);
	struct http_request *req;
	struct result r;
	char logpath[PATH_MAX], buf[8192];
	int saved = dup(2), fd;
	ssize_t n;

	snprintf(logpath, sizeof logpath, "%s/log", tmpdir);
	fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	log_set_max_priority(LOG_DEBUG);
	req = req_at("GET", "https", tls_port,
	    "/flaky?key=logs&n=1&q=CONFIDENTIALQUERY");
	http_request_bearer(req, "SEKRETBEARER");
	fetch_req(h, req, &r);
	log_set_max_priority(LOG_WARNING);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	ok(strstr(buf, "/flaky") != NULL && strstr(buf, "retry 1 of 3") != NULL,
	    "the retry and the result are logged with the path");
	ok(strstr(buf, "CONFIDENTIAL") == NULL && strstr(buf, "SEKRET") == NULL,
	    "the logs hold neither the query string nor the bearer token");
	result_clear(&r);
	http_free(h);
}

int
main(void)
{
	alarm(120);
	log_init("test-http", LOG_TARGET_STDERR, LOG_WARNING);
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL || start_httpd() != 0) {
		ok(0, "the test server starts");
		stop_children();
		return tap_done();
	}
	base = event_base_new();
	test_get_returns_body_status_and_content_type();
	test_request_headers_body_and_bearer_reach_server();
	test_invalid_requests_are_refused_at_submit();
	test_http_refused_unless_allow_http();
	test_503_is_retried_until_success();
	test_retries_exhausted_return_last_503();
	test_no_retry_request_is_tried_once();
	test_retry_if_callback_decides();
	test_retry_after_is_honoured();
	test_body_cap();
	test_total_timeout();
	test_connect_timeout();
	test_connect_refused_after_retries();
	test_untrusted_certificate_is_tls_error();
	test_100_concurrent_requests_complete_once();
	test_loop_not_blocked_during_slow_transfer();
	test_cancel_calls_back_with_cancelled();
	test_free_with_requests_in_flight();
	test_logs_have_no_query_or_token();
	if (ok(start_nghttpd() == 0, "nghttpd (HTTP/2 server) starts"))
		test_http2_with_nghttpd();
	event_base_free(base);
	stop_children();
	return tap_done();
}
