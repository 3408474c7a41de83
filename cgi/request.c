/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "request.h"
#include "utf8.h"
#include "urlenc.h"

struct request *
request_new(request_env_fn env, void *arg)
{
	struct request *req = xcalloc(1, sizeof *req);

	req->env = env;
	req->env_arg = arg;
	return req;
}

void
request_free(struct request *req)
{
	if (req == NULL)
		return;
	free(req->method);
	free(req->path);
	free(req->query);
	free(req->content_type);
	req_params_clear(&req->params);
	req_params_clear(&req->form);
	free(req->body);
	free(req);
}

const char *
request_env(const struct request *req, const char *name)
{
	return req->env(name, req->env_arg);
}

/* --- UTF-8 and percent-decoding ----------------------------------------- */

/*
 * Decodes len bytes of s (%XX escapes; '+' as a space when plus) into a new
 * string.  NULL with *why set (a constant) when urlenc_decode() refuses it
 * (a malformed escape, longer than max bytes, a NUL) or it is not UTF-8.
 */
static char *
pct_decode(const char *s, size_t len, bool plus, size_t max, const char **why)
{
	char *out;

	if (urlenc_decode(s, len, plus ? URLENC_PLUS : 0, max, &out, why) == -1)
		return NULL;
	if (!utf8_valid(out, strlen(out))) {
		*why = "not UTF-8";
		free(out);
		return NULL;
	}
	return out;
}

/* --- parameters --------------------------------------------------------- */

void
req_params_clear(struct req_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* Adds the pair in s[0..len) (len > 0) to p. */
static int
params_add(struct req_params *p, const char *s, size_t len, char **cause)
{
	const char *eq = memchr(s, '=', len), *why = NULL;
	size_t nlen = eq != NULL ? (size_t)(eq - s) : len;
	char *name, *value;

	if (p->n == REQ_MAX_PARAMS)
		return set_cause(cause, "more than %d parameters",
		    REQ_MAX_PARAMS);
	if (nlen == 0)
		return set_cause(cause, "parameter %zu: empty name", p->n + 1);
	if ((name = pct_decode(s, nlen, true, REQ_MAX_NAME, &why)) == NULL)
		return set_cause(cause, "parameter %zu: name: %s", p->n + 1,
		    why);
	if (eq == NULL)
		value = xstrdup("");
	else if ((value = pct_decode(eq + 1, len - nlen - 1, true,
	    REQ_MAX_VALUE, &why)) == NULL) {
		free(name);
		return set_cause(cause, "parameter %zu: value: %s", p->n + 1,
		    why);
	}
	p->v = xreallocarray(p->v, p->n + 1, sizeof *p->v);
	p->v[p->n].name = name;
	p->v[p->n].value = value;
	p->n++;
	return 0;
}

int
req_params_parse(struct req_params *p, const char *s, size_t len,
    char **cause)
{
	const char *end = s + len, *amp;

	while (s < end) {
		if ((amp = memchr(s, '&', (size_t)(end - s))) == NULL)
			amp = end;
		if (amp > s &&
		    params_add(p, s, (size_t)(amp - s), cause) == -1) {
			req_params_clear(p);
			return -1;
		}
		s = amp + 1;
	}
	return 0;
}

const char *
req_params_get(const struct req_params *p, const char *name)
{
	const char *found = NULL;

	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].name, name) != 0)
			continue;
		/* Ambiguous: which one did the sender mean? */
		if (found != NULL)
			return NULL;
		found = p->v[i].value;
	}
	return found;
}

/* --- the request line --------------------------------------------------- */

static int
parse_method(struct request *req, char **cause)
{
	const char *m = request_env(req, "REQUEST_METHOD");
	size_t n;

	if (m == NULL || *m == '\0') {
		set_cause(cause, "REQUEST_METHOD is not set: not run by a "
		    "web server?");
		return 400;
	}
	n = strlen(m);
	if (n > REQ_MAX_METHOD ||
	    strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n) {
		set_cause(cause, "malformed request method");
		return 400;
	}
	req->method = xstrdup(m);
	return 0;
}

/* The path from PATH_INFO, which the server has already decoded. */
static int
path_from_path_info(struct request *req, const char *pi, char **cause)
{
	size_t n = strlen(pi);

	if (n > REQ_MAX_PATH) {
		set_cause(cause, "path longer than %d bytes", REQ_MAX_PATH);
		return 414;
	}
	if (pi[0] != '/' || !utf8_valid(pi, n)) {
		set_cause(cause, "malformed PATH_INFO");
		return 400;
	}
	req->path = xstrdup(pi);
	return 0;
}

/*
 * Without PATH_INFO (servers that map a location to the script, as nginx
 * with fcgiwrap may), the path is REQUEST_URI without its query, decoded,
 * less the SCRIPT_NAME prefix when it is there.
 */
static int
path_from_request_uri(struct request *req, const char *uri, char **cause)
{
	const char *sn = request_env(req, "SCRIPT_NAME"), *why;
	size_t n = strcspn(uri, "?"), sl;
	char *path;

	if (n > REQ_MAX_PATH) {
		set_cause(cause, "path longer than %d bytes", REQ_MAX_PATH);
		return 414;
	}
	if (uri[0] != '/' ||
	    (path = pct_decode(uri, n, false, REQ_MAX_PATH, &why)) == NULL) {
		set_cause(cause, "malformed REQUEST_URI");
		return 400;
	}
	sl = sn != NULL ? strlen(sn) : 0;
	if (sl > 1 && strncmp(path, sn, sl) == 0 &&
	    (path[sl] == '\0' || path[sl] == '/')) {
		req->path = xasprintf("/%s", path + sl + (path[sl] == '/'));
		free(path);
	} else
		req->path = path;
	return 0;
}

static int
parse_path(struct request *req, char **cause)
{
	const char *pi = request_env(req, "PATH_INFO");
	const char *uri = request_env(req, "REQUEST_URI");

	if (pi != NULL && *pi != '\0')
		return path_from_path_info(req, pi, cause);
	if (uri != NULL && *uri != '\0')
		return path_from_request_uri(req, uri, cause);
	req->path = xstrdup("/");
	return 0;
}

static int
parse_query(struct request *req, char **cause)
{
	const char *q = request_env(req, "QUERY_STRING");
	size_t n;

	if (q == NULL)
		q = "";
	if ((n = strlen(q)) > REQ_MAX_QUERY) {
		set_cause(cause, "query string longer than %d bytes",
		    REQ_MAX_QUERY);
		return 414;
	}
	req->query = xstrdup(q);
	if (req_params_parse(&req->params, q, n, cause) == -1)
		return 400;
	return 0;
}

/* An RFC 9110 token character: what a type or subtype may hold. */
static bool
is_tchar(char c)
{
	return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c);
}

static int
parse_content_type(struct request *req, char **cause)
{
	const char *ct = request_env(req, "CONTENT_TYPE");
	size_t n, slash = 0;
	char *t;

	if (ct == NULL)
		ct = "";
	if (strlen(ct) > REQ_MAX_CONTENT_TYPE) {
		set_cause(cause, "CONTENT_TYPE longer than %d bytes",
		    REQ_MAX_CONTENT_TYPE);
		return 400;
	}
	ct += strspn(ct, " \t");
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	t = xstrndup(ct, n);
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '/' && slash == 0 && i > 0)
			slash = i;
		else if (!is_tchar(t[i]))
			slash = SIZE_MAX;
		t[i] = (char)tolower((unsigned char)t[i]);
	}
	if (n > 0 && (slash == 0 || slash >= n - 1)) {
		free(t);
		set_cause(cause, "malformed CONTENT_TYPE");
		return 400;
	}
	req->content_type = t;
	return 0;
}

static int
parse_content_length(struct request *req, char **cause)
{
	const char *cl = request_env(req, "CONTENT_LENGTH");
	int64_t v = 0;

	req->content_length = 0;
	if (cl == NULL || *cl == '\0')
		return 0;
	if (strspn(cl, "0123456789") != strlen(cl)) {
		set_cause(cause, "malformed CONTENT_LENGTH");
		return 400;
	}
	cl += strspn(cl, "0");
	/*
	 * Digits alone: past the leading zeros, more than eighteen is surely
	 * too many, and parse_int64 can fail only above the limit.
	 */
	if (strlen(cl) > 18 || (*cl != '\0' &&
	    parse_int64(cl, 0, REQ_MAX_BODY, &v) == -1)) {
		set_cause(cause, "body larger than %d bytes", REQ_MAX_BODY);
		return 413;
	}
	req->content_length = (size_t)v;
	return 0;
}

int
request_parse(struct request *req, char **cause)
{
	int status;

	if ((status = parse_method(req, cause)) != 0 ||
	    (status = parse_path(req, cause)) != 0 ||
	    (status = parse_content_length(req, cause)) != 0 ||
	    (status = parse_content_type(req, cause)) != 0 ||
	    (status = parse_query(req, cause)) != 0)
		return status;
	return 0;
}

/* --- body and headers --------------------------------------------------- */

int
request_read_body(struct request *req, int fd, char **cause)
{
	size_t have = 0, want = req->content_length;
	ssize_t n;

	if (req->body != NULL)
		return 0;
	req->body = xmalloc(want + 1);
	/* RFC 3875 4.2: never read more than CONTENT_LENGTH. */
	while (have < want) {
		n = read(fd, req->body + have, want - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			set_cause(cause, "body: %s after %zu of %zu bytes",
			    n == 0 ? "end of input" : strerror(errno), have,
			    want);
			return 400;
		}
		have += (size_t)n;
	}
	req->body[have] = '\0';
	req->body_len = have;
	if (strcmp(req->content_type,
	    "application/x-www-form-urlencoded") == 0 &&
	    req_params_parse(&req->form, (const char *)req->body, have,
	    cause) == -1)
		return 400;
	return 0;
}

void
request_drain_body(struct request *req, int fd, int timeout_ms)
{
	char buf[16384];
	size_t left = req->content_length;
	struct timespec start, now;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long spent;
	ssize_t n;
	int ready;

	if (req->body != NULL || left == 0 || left > REQ_MAX_BODY)
		return;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (left > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		spent = (now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= timeout_ms)
			break;
		ready = poll(&pfd, 1, (int)(timeout_ms - spent));
		if (ready == -1 && errno == EINTR)
			continue;
		if (ready <= 0)
			break;
		n = read(fd, buf, left < sizeof buf ? left : sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		left -= (size_t)n;
	}
}

int
request_header(const struct request *req, const char *name, size_t max,
    const char **value, char **cause)
{
	char var[128];
	const char *v;
	size_t n = strlen(name);

	if (n + 6 > sizeof var)
		fatalx("%s: header name too long", __func__);
	memcpy(var, "HTTP_", 5);
	for (size_t i = 0; i <= n; i++)
		var[5 + i] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	if ((v = request_env(req, var)) == NULL || *v == '\0')
		return set_cause(cause, "%s header missing", name);
	if (strlen(v) > max)
		return set_cause(cause, "%s header longer than %zu bytes",
		    name, max);
	for (const char *p = v; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return set_cause(cause, "%s header not printable ASCII",
			    name);
	*value = v;
	return 0;
}
