/* SPDX-License-Identifier: ISC */
/*
 * http-batch: Google's batch endpoint (POST /batch/gmail/v1): a
 * multipart/mixed body of application/http parts, one request each, and
 * its answer, a multipart/mixed body of HTTP/1.1 responses matched to the
 * requests by Content-ID ("<bN>" asked, "<response-bN>" answered, in any
 * order).  The mail pump's full-sync fetcher (daemon/mail-pump-batch.c)
 * builds and reads them here.
 *
 * The answer comes from outside: it is read with explicit limits (its
 * size, the number of parts, the size of a part's headers), and anything
 * that does not parse (or headers over their limit) is an error for the whole batch, never a guess.  A
 * call that no part answers keeps status 0: the caller asks again, it is
 * never taken as an answer.
 */
#ifndef RALLY_HTTP_BATCH_H
#define RALLY_HTTP_BATCH_H

#include <stddef.h>

/* Google takes at most 100 calls a batch. */
#define HTTP_BATCH_MAX_PARTS 100
/* A part's headers, its own and its response's together. */
#define HTTP_BATCH_HEAD_MAX 16384
/* RFC 2046: a boundary is 1 to 70 characters. */
#define HTTP_BATCH_BOUNDARY_MAX 70

enum http_batch_err {
	HTTP_BATCH_OK,
	HTTP_BATCH_MALFORMED,	/* not multipart/mixed, cut, a part unreadable,
				   a Content-ID answered twice, headers
				   over HTTP_BATCH_HEAD_MAX */
	HTTP_BATCH_TOO_LARGE,	/* over max_len or HTTP_BATCH_MAX_PARTS */
};

struct http_batch_part {
	long status;		/* the part's HTTP status; 0: not answered */
	const char *body;	/* into the answer, body_len bytes, not NUL-
				   terminated; "" when not answered */
	size_t body_len;
};

/*
 * The body of n (1 to HTTP_BATCH_MAX_PARTS) GET requests, paths[i] the
 * target of call i ("/gmail/v1/users/me/messages/ID?format=full", already
 * escaped), separated by boundary; *len its length.  Caller frees.
 */
char *http_batch_request(const char *boundary, const char *const *paths,
    size_t n, size_t *len);

/*
 * Reads the answer to a batch of n calls: content_type is the response's
 * Content-Type (its boundary= names the delimiter), body its len bytes,
 * max_len the most it may be.  On HTTP_BATCH_OK parts[i] is call i's
 * answer (status 0 where none came).  Otherwise parts is all status 0 and
 * err says why in one line.
 */
enum http_batch_err http_batch_parse(const char *content_type,
    const char *body, size_t len, size_t max_len,
    struct http_batch_part *parts, size_t n, char *err, size_t errlen);

const char *http_batch_strerror(enum http_batch_err);

#endif
