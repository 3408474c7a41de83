/* SPDX-License-Identifier: ISC */
/*
 * http-batch: the batch request Gmail is sent, and its answer read with
 * its limits: parts in any order, LF or CR LF, a 404 part, Content-IDs
 * missing, unknown or twice, a cut or oversize answer, garbage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-batch.h"
#include "tap.h"

#define CT "multipart/mixed; boundary=batch_x1"
#define N 3

static char err[256];

/* A part answering call cid with status and body, CR LF line ends. */
static void
add_part(char *buf, size_t size, const char *cid, int status,
    const char *body)
{
	size_t n = strlen(buf);

	snprintf(buf + n, size - n, "--batch_x1\r\nContent-Type: application/http\r\n"
	    "Content-ID: <%s>\r\n\r\nHTTP/1.1 %d X\r\nContent-Type: "
	    "application/json; charset=UTF-8\r\nContent-Length: %zu\r\n\r\n%s\r\n",
	    cid, status, strlen(body), body);
}

static enum http_batch_err
parse(const char *ct, const char *body, struct http_batch_part *parts)
{
	return http_batch_parse(ct, body, strlen(body), 1 << 20, parts, N, err,
	    sizeof err);
}

static int
part_is(const struct http_batch_part *p, long status, const char *body)
{
	return p->status == status && p->body_len == strlen(body) &&
	    memcmp(p->body, body, p->body_len) == 0;
}

static void
test_the_request_has_one_application_http_part_per_call(void)
{
	const char *paths[] = { "/gmail/v1/users/me/messages/a?format=full",
		"/gmail/v1/users/me/messages/b?format=full" };
	size_t len;
	char *s = http_batch_request("bb", paths, 2, &len);

	ok(len == strlen(s), "length");
	is_str(s, "--bb\r\nContent-Type: application/http\r\nContent-ID: <b0>\r\n"
	    "\r\nGET /gmail/v1/users/me/messages/a?format=full\r\n\r\n"
	    "--bb\r\nContent-Type: application/http\r\nContent-ID: <b1>\r\n"
	    "\r\nGET /gmail/v1/users/me/messages/b?format=full\r\n\r\n--bb--\r\n",
	    "request body");
	free(s);
}

static void
test_parts_in_any_order_are_matched_by_content_id(void)
{
	struct http_batch_part p[N];
	char buf[4096] = "preamble\r\n";

	add_part(buf, sizeof buf, "response-b2", 200, "{\"id\":\"c\"}");
	add_part(buf, sizeof buf, "response-b0", 200, "{\"id\":\"a\"}");
	add_part(buf, sizeof buf, "response-b1", 404, "{\"error\":{}}");
	strcat(buf, "--batch_x1--\r\n");
	ok(parse(CT, buf, p) == HTTP_BATCH_OK, "well-formed: %s", err);
	ok(part_is(&p[0], 200, "{\"id\":\"a\"}"), "call 0");
	ok(part_is(&p[1], 404, "{\"error\":{}}"), "call 1 is a 404 part");
	ok(part_is(&p[2], 200, "{\"id\":\"c\"}"), "call 2");
	ok(parse("Multipart/Mixed; boundary=\"batch_x1\"", buf, p) ==
	    HTTP_BATCH_OK, "a quoted boundary, the type in any case");
}

static void
test_lf_line_ends_and_no_content_length_are_read(void)
{
	struct http_batch_part p[N];
	const char *body = "--batch_x1\nContent-Type: application/http\n"
	    "Content-ID: response-b1\n\nHTTP/1.1 200 OK\nContent-Type: "
	    "application/json\n\n{\"id\":\"b\"}\n--batch_x1--\n";

	ok(parse(CT, body, p) == HTTP_BATCH_OK, "LF only: %s", err);
	ok(part_is(&p[1], 200, "{\"id\":\"b\"}"), "body up to the delimiter's LF");
	ok(p[0].status == 0 && p[2].status == 0, "the others not answered");
}

static void
test_a_boundary_inside_a_body_line_does_not_split_it(void)
{
	struct http_batch_part p[N];
	char buf[4096] = "";

	add_part(buf, sizeof buf, "response-b0", 200,
	    "{\"s\":\"x--batch_x1 y\"}");
	strcat(buf, "--batch_x1--");
	ok(parse(CT, buf, p) == HTTP_BATCH_OK, "split boundary: %s", err);
	ok(part_is(&p[0], 200, "{\"s\":\"x--batch_x1 y\"}"), "body whole");
}

static void
test_missing_and_unknown_content_ids_leave_calls_unanswered(void)
{
	struct http_batch_part p[N];
	char buf[4096] = "";

	add_part(buf, sizeof buf, "response-b9", 200, "{}");
	add_part(buf, sizeof buf, "response-x0", 200, "{}");
	add_part(buf, sizeof buf, "response-b01", 200, "{}");
	add_part(buf, sizeof buf, "response-b0", 200, "{}");
	strcat(buf, "--batch_x1--\r\n");
	ok(parse(CT, buf, p) == HTTP_BATCH_OK, "unknown ids ignored: %s", err);
	ok(p[0].status == 200, "the known one read");
	ok(p[1].status == 0 && p[1].body_len == 0 && p[2].status == 0,
	    "missing ones are status 0");
}

static void
test_a_content_id_answered_twice_is_malformed(void)
{
	struct http_batch_part p[N];
	char buf[4096] = "";

	add_part(buf, sizeof buf, "response-b0", 200, "{}");
	add_part(buf, sizeof buf, "response-b0", 404, "{}");
	strcat(buf, "--batch_x1--\r\n");
	ok(parse(CT, buf, p) == HTTP_BATCH_MALFORMED, "duplicate: %s", err);
	ok(p[0].status == 0, "nothing kept");
}

static void
test_cut_and_garbage_answers_are_malformed(void)
{
	struct http_batch_part p[N];
	char buf[4096] = "";

	add_part(buf, sizeof buf, "response-b0", 200, "{\"id\":\"a\"}");
	ok(parse(CT, buf, p) == HTTP_BATCH_MALFORMED && p[0].status == 0,
	    "no close delimiter");
	buf[strlen(buf) - 8] = '\0';
	ok(parse(CT, buf, p) == HTTP_BATCH_MALFORMED, "cut in a body: %s", err);
	ok(parse(CT, "{\"not\":\"multipart\"}", p) == HTTP_BATCH_MALFORMED,
	    "JSON instead: %s", err);
	ok(parse("application/json", "--batch_x1--", p) == HTTP_BATCH_MALFORMED,
	    "not multipart/mixed");
	ok(parse("multipart/mixed", "--batch_x1--", p) == HTTP_BATCH_MALFORMED,
	    "no boundary");
	ok(parse(NULL, "--batch_x1--", p) == HTTP_BATCH_MALFORMED, "no type");
	ok(parse(CT, "--batch_x1\r\nContent-ID: <response-b0>\r\n\r\n"
	    "HTTP/1.1 2x0 OK\r\n\r\n{}\r\n--batch_x1--", p) ==
	    HTTP_BATCH_MALFORMED, "a bad status line: %s", err);
	ok(parse(CT, "--batch_x1\r\nContent-ID: <response-b0>\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}\r\n--batch_x1--",
	    p) == HTTP_BATCH_MALFORMED, "a body shorter than its length");
	ok(parse(CT, "--batch_x1 junk\r\n--batch_x1--", p) ==
	    HTTP_BATCH_MALFORMED, "text after a delimiter");
}

static void
test_oversize_answers_headers_and_part_counts_are_refused(void)
{
	struct http_batch_part p[N];
	size_t size = 64 * 1024;
	char *buf = calloc(1, size);

	add_part(buf, size, "response-b0", 200, "{}");
	strcat(buf, "--batch_x1--\r\n");
	ok(http_batch_parse(CT, buf, strlen(buf), strlen(buf) - 1, p, N, err,
	    sizeof err) == HTTP_BATCH_TOO_LARGE, "over max_len: %s", err);
	buf[0] = '\0';
	for (int i = 0; i <= HTTP_BATCH_MAX_PARTS; i++)
		add_part(buf, size, "response-b0x", 200, "{}");
	strcat(buf, "--batch_x1--\r\n");
	ok(parse(CT, buf, p) == HTTP_BATCH_TOO_LARGE, "too many parts: %s", err);
	strcpy(buf, "--batch_x1\r\nContent-ID: <response-b0>\r\nX-Long: ");
	memset(buf + strlen(buf), 'a', HTTP_BATCH_HEAD_MAX);
	strcat(buf, "\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--batch_x1--");
	ok(parse(CT, buf, p) == HTTP_BATCH_MALFORMED && p[0].status == 0,
	    "a header over the limit: %s", err);
	free(buf);
}

int
main(void)
{
	test_the_request_has_one_application_http_part_per_call();
	test_parts_in_any_order_are_matched_by_content_id();
	test_lf_line_ends_and_no_content_length_are_read();
	test_a_boundary_inside_a_body_line_does_not_split_it();
	test_missing_and_unknown_content_ids_leave_calls_unanswered();
	test_a_content_id_answered_twice_is_malformed();
	test_cut_and_garbage_answers_are_malformed();
	test_oversize_answers_headers_and_part_counts_are_refused();
	return tap_done();
}
