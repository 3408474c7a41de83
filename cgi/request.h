/* SPDX-License-Identifier: ISC */
/*
 * request: the CGI/1.1 request (RFC 3875) as rally.cgi's pages see it.
 *
 * Everything here comes from outside: the web server copies it from the
 * client's request line, headers and body.  The parser takes the
 * environment through a lookup function, so tests and the fuzz target can
 * feed it without touching the process environment, and applies a limit to
 * every field.  Errors are answered with the HTTP status the request
 * deserves (400, 413, 414, 415), never by reading more than the limits.
 */
#ifndef RALLY_CGI_REQUEST_H
#define RALLY_CGI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Largest request body read; CONTENT_LENGTH above it is answered 413. */
#define REQ_MAX_BODY (1024 * 1024)
/* Longest path (PATH_INFO, or REQUEST_URI without the query) and query. */
#define REQ_MAX_PATH 2048
#define REQ_MAX_QUERY 8192
/* Longest REQUEST_METHOD and CONTENT_TYPE accepted. */
#define REQ_MAX_METHOD 16
#define REQ_MAX_CONTENT_TYPE 256
/* Parameters (query string or form body): how many, and decoded sizes. */
#define REQ_MAX_PARAMS 256
#define REQ_MAX_NAME 256
#define REQ_MAX_VALUE (256 * 1024)

/* Looks a variable up in the CGI environment; NULL when unset. */
typedef const char *(*request_env_fn)(const char *name, void *arg);

struct req_param {
	char *name;	/* decoded, valid UTF-8, no NUL */
	char *value;	/* the same; "" for "name" or "name=" */
};

struct req_params {
	struct req_param *v;
	size_t n;
};

struct request {
	char *method;		/* "GET", "POST", ... */
	char *path;		/* decoded, starts with '/' */
	char *query;		/* QUERY_STRING as sent, "" when none */
	char *content_type;	/* media type in lower case, no parameters */
	size_t content_length;
	struct req_params params;	/* from the query string */
	struct req_params form;	/* from an urlencoded body, once read */
	unsigned char *body;	/* content_length bytes and a NUL, once read */
	size_t body_len;

	request_env_fn env;
	void *env_arg;
};

/* A request reading its environment through env. */
struct request *request_new(request_env_fn env, void *arg);
void request_free(struct request *);

/*
 * Reads method, path, query string, content type and length from the
 * environment.  Returns 0, or the HTTP status to answer with (*cause set):
 * 400 malformed, 413 body too large, 414 path or query too long.
 */
int request_parse(struct request *, char **cause) MUST_CHECK;

/*
 * Reads exactly content_length bytes from fd (standard input under CGI)
 * and, for application/x-www-form-urlencoded, parses them into form.
 * Returns 0, or 400 with *cause set (short body, malformed form).
 */
int request_read_body(struct request *, int fd, char **cause) MUST_CHECK;

/*
 * Reads and discards the body a handler left unread (up to REQ_MAX_BODY,
 * for at most timeout_ms), before the answer is written.  Under Apache's
 * mod_cgid standard input is a socket: a CGI that exits with bytes unread
 * there has its answer reset and lost, and one that writes a large answer
 * first can deadlock with a server still writing the body.
 */
void request_drain_body(struct request *, int fd, int timeout_ms);

/* The CGI variable name ("HTTP_COOKIE", "REMOTE_ADDR"), NULL when unset. */
const char *request_env(const struct request *, const char *name);

/*
 * The request header name ("X-Goog-Channel-ID", found as
 * HTTP_X_GOOG_CHANNEL_ID).  0 with *value borrowed from the environment,
 * or -1 with *cause set when it is missing, empty, longer than max bytes,
 * or holds a byte outside printable ASCII.  The message never quotes the
 * value: a header may carry a secret.
 */
int request_header(const struct request *, const char *name, size_t max,
    const char **value, char **cause) MUST_CHECK;

/*
 * Parses len bytes of "a=1&b=x%20y+z" (query string or form body) into p,
 * which must be empty: '+' is a space, %XX a byte, empty pairs are skipped.
 * -1 with *cause set on a malformed escape, an empty name, a name or value
 * that decodes to a NUL byte or invalid UTF-8, or more than the limits.
 */
int req_params_parse(struct req_params *p, const char *s, size_t len,
    char **cause) MUST_CHECK;
void req_params_clear(struct req_params *);
/* The value of the parameter name when it occurs exactly once, else NULL. */
const char *req_params_get(const struct req_params *, const char *name);


#endif
