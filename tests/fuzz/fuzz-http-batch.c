/* SPDX-License-Identifier: ISC */
/*
 * http_batch_parse() (lib/http-batch.c) on arbitrary bytes: the input's
 * first line is the answer's Content-Type, the rest its body, read as the
 * answer to a batch of HTTP_BATCH_MAX_PARTS calls.
 *
 * Checks besides "no crash": an answered part's body lies inside the
 * input and its status is three digits; an error leaves every call
 * unanswered; a limit one byte short of the body refuses it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http-batch.h"

static void
check(const char *ct, const char *body, size_t len)
{
	struct http_batch_part parts[HTTP_BATCH_MAX_PARTS];
	enum http_batch_err e;
	char err[128];

	e = http_batch_parse(ct, body, len, len, parts, HTTP_BATCH_MAX_PARTS,
	    err, sizeof err);
	for (size_t i = 0; i < HTTP_BATCH_MAX_PARTS; i++) {
		const struct http_batch_part *p = &parts[i];

		if (p->status == 0) {
			if (p->body_len != 0)
				abort();
			continue;
		}
		if (e != HTTP_BATCH_OK || p->status < 100 || p->status > 999 ||
		    p->body < body || p->body_len > len ||
		    p->body + p->body_len > body + len)
			abort();
	}
	if (len > 0 && http_batch_parse(ct, body, len, len - 1, parts,
	    HTTP_BATCH_MAX_PARTS, err, sizeof err) != HTTP_BATCH_TOO_LARGE)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t ctlen = nl != NULL ? (size_t)(nl - data) : size;
	size_t blen = nl != NULL ? size - ctlen - 1 : 0;
	char *ct = malloc(ctlen + 1), *body = malloc(blen + 1);

	if (ct == NULL || body == NULL) {
		free(ct);
		free(body);
		return 0;
	}
	memcpy(ct, data, ctlen);
	ct[ctlen] = '\0';
	if (blen > 0)
		memcpy(body, nl + 1, blen);
	body[blen] = '\0';
	check(ct, body, blen);
	free(ct);
	free(body);
	return 0;
}
