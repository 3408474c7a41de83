/* SPDX-License-Identifier: ISC */
/*
 * The Pub/Sub push body of a Gmail notification (cgi/pubsub.c): what is
 * accepted, and every way a body is refused.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "pubsub.h"
#include "tap.h"

/* A push envelope around data (the JSON before base64) and a messageId. */
static char *
envelope(const char *data, const char *message_id)
{
	char *b64 = b64_encode(data, strlen(data)), *s;

	s = xasprintf("{\"message\": {\"data\": \"%s\", \"messageId\": \"%s\", "
	    "\"publishTime\": \"2026-11-29T10:00:00.123Z\"}, "
	    "\"subscription\": \"projects/p/subscriptions/s\"}", b64, message_id);
	free(b64);
	return s;
}

static int
parse(const char *body, size_t len, struct gmail_push *push)
{
	char *cause = NULL;
	int rc = pubsub_gmail_parse(body, len, push, &cause);

	if ((rc == 0) != (cause == NULL))
		printf("# rc %d but cause %s\n", rc, cause ? cause : "(none)");
	if (getenv("TEST_VERBOSE") != NULL && cause != NULL)
		printf("# cause: %s\n", cause);
	if (rc == -1 && cause != NULL && strstr(cause, "ann@") != NULL)
		printf("# the message quotes the address: %s\n", cause);
	free(cause);
	return rc;
}

static void
bad_body(const char *body, const char *name)
{
	struct gmail_push push;

	ok(parse(body, strlen(body), &push) == -1 && push.email == NULL, "%s",
	    name);
}

static void
bad_data(const char *data, const char *name)
{
	char *body = envelope(data, "1");

	bad_body(body, name);
	free(body);
}

static void
test_accepted(void)
{
	struct gmail_push push;
	char *body;

	body = envelope("{\"emailAddress\": \"ann@gmail.example\", "
	    "\"historyId\": \"9876543210\"}", "2070443601311540");
	ok(parse(body, strlen(body), &push) == 0, "a Gmail push parses");
	is_str(push.email, "ann@gmail.example", "the mailbox");
	ok(push.history_id == UINT64_C(9876543210), "a history id as a string");
	is_str(push.message_id, "2070443601311540", "Pub/Sub's message id");
	gmail_push_clear(&push);
	free(body);

	body = envelope("{\"emailAddress\": \"ann@gmail.example\", "
	    "\"historyId\": 18446744073709551615}", "odd id with blanks");
	ok(parse(body, strlen(body), &push) == 0 &&
	    push.history_id == UINT64_MAX,
	    "a history id as a number, up to 2^64-1");
	is_str(push.message_id, "", "an odd message id is left out, not refused");
	gmail_push_clear(&push);
	free(body);

	body = envelope("{\"emailAddress\": \"ann@gmail.example\", "
	    "\"historyId\": \"18446744073709551615\"}", "1");
	ok(parse(body, strlen(body), &push) == 0 &&
	    push.history_id == UINT64_MAX, "2^64-1 as a string");
	gmail_push_clear(&push);
	free(body);

	body = xasprintf("%s\r\n \n", "{\"message\": {\"data\": "
	    "\"eyJlbWFpbEFkZHJlc3MiOiJhQGIiLCJoaXN0b3J5SWQiOjF9\"}}");
	ok(parse(body, strlen(body), &push) == 0, "whitespace may follow; "
	    "messageId and subscription are optional");
	is_str(push.message_id, "", "no message id is empty");
	gmail_push_clear(&push);
	free(body);
}

static void
test_refused_envelope(void)
{
	struct gmail_push push;
	char *big, *deep;
	size_t n;

	bad_body("", "an empty body");
	bad_body("{\"message\": {\"data\": \"e30=\"}", "truncated JSON");
	bad_body("{\"message\": {\"data\": \"e30=\"}} x", "data after the JSON");
	bad_body("{\"message\": {\"data\": \"e30=\"}}{}", "two JSON values");
	bad_body("[]", "an array");
	bad_body("\"message\"", "a string");
	bad_body("{'message': {}}", "single quotes (strict JSON)");
	bad_body("{\"message\": {\"data\": \"e30=\",}}", "a trailing comma");
	bad_body("{\"subscription\": \"s\"}", "no message");
	bad_body("{\"message\": \"e30=\"}", "a message that is not an object");
	bad_body("{\"message\": {}}", "no data");
	bad_body("{\"message\": {\"data\": 12}}", "data that is not a string");
	bad_body("{\"message\": {\"data\": \"!!!!\"}}", "data that is not base64");
	bad_body("{\"message\": {\"data\": \"e3-_\"}}",
	    "base64url is not Pub/Sub's alphabet");
	bad_body("{\"message\": {\"data\": \"\xff\"}}", "a body that is not UTF-8");
	ok(parse("{\"message\": {\"data\": \"e30=\"}}\0", 29, &push) == -1,
	    "a NUL byte in the body");

	/* {"emailAddress":"a@b","historyId":1}, padded with blanks. */
	n = PUBSUB_MAX_BODY + 1;
	big = xmalloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"message\": {\"data\": "
	    "\"eyJlbWFpbEFkZHJlc3MiOiJhQGIiLCJoaXN0b3J5SWQiOjF9\"}}", 73);
	big[n] = '\0';
	ok(parse(big, n - 1, &push) == 0, "a body of PUBSUB_MAX_BODY bytes");
	gmail_push_clear(&push);
	ok(parse(big, n, &push) == -1, "one byte more is refused");
	free(big);

	deep = xmalloc(64);
	strcpy(deep, "{\"message\": {\"data\": \"e30=\", \"x\": [[[[[[[[1]]]]]]]]}}");
	ok(parse(deep, strlen(deep), &push) == -1, "nesting past the depth limit");
	free(deep);
}

static void
test_refused_data(void)
{
	char *big;

	bad_data("", "empty data");
	bad_data("not json", "data that is not JSON");
	bad_data("[\"ann@gmail.example\"]", "data that is not an object");
	bad_data("{\"historyId\": \"1\"}", "no emailAddress");
	bad_data("{\"emailAddress\": 5, \"historyId\": \"1\"}",
	    "an emailAddress that is not a string");
	bad_data("{\"emailAddress\": \"ann.gmail.example\", \"historyId\": \"1\"}",
	    "an address without '@'");
	bad_data("{\"emailAddress\": \"@gmail.example\", \"historyId\": \"1\"}",
	    "an address starting with '@'");
	bad_data("{\"emailAddress\": \"ann@\", \"historyId\": \"1\"}",
	    "an address ending with '@'");
	bad_data("{\"emailAddress\": \"ann @gmail.example\", \"historyId\": \"1\"}",
	    "a blank in the address");
	bad_data("{\"emailAddress\": \"ann@gmail.example\\n\", \"historyId\": "
	    "\"1\"}", "a line break in the address");
	bad_data("{\"emailAddress\": \"ann@gm\\u0000ail\", \"historyId\": \"1\"}",
	    "a NUL in the address");
	bad_data("{\"emailAddress\": \"ann@gmail.example\"}", "no historyId");
	bad_data("{\"emailAddress\": \"ann@gmail.example\", \"historyId\": -1}",
	    "a negative historyId");
	bad_data("{\"emailAddress\": \"ann@gmail.example\", \"historyId\": 1.5}",
	    "a fractional historyId");
	bad_data("{\"emailAddress\": \"ann@gmail.example\", \"historyId\": \"\"}",
	    "an empty historyId");
	bad_data("{\"emailAddress\": \"ann@gmail.example\", \"historyId\": \"-1\"}",
	    "a signed historyId string");
	bad_data("{\"emailAddress\": \"ann@gmail.example\", \"historyId\": "
	    "\"18446744073709551616\"}", "a historyId past 2^64-1");
	bad_data("{\"emailAddress\": \"ann@gmail.example\", \"historyId\": null}",
	    "a null historyId");

	big = xmalloc(GMAIL_MAX_EMAIL + 64);
	memset(big, 0, GMAIL_MAX_EMAIL + 64);
	strcpy(big, "{\"emailAddress\": \"a@");
	memset(big + strlen(big), 'b', GMAIL_MAX_EMAIL - 1);
	strcat(big, "\", \"historyId\": \"1\"}");
	bad_data(big, "an address over GMAIL_MAX_EMAIL bytes");
	free(big);

	big = xmalloc(PUBSUB_MAX_DATA + 64);
	snprintf(big, PUBSUB_MAX_DATA + 64, "{\"emailAddress\": \"a@b\", "
	    "\"historyId\": \"1\", \"pad\": \"%0*d\"}", PUBSUB_MAX_DATA, 0);
	bad_data(big, "data over PUBSUB_MAX_DATA bytes");
	free(big);
}

int
main(void)
{
	test_accepted();
	test_refused_envelope();
	test_refused_data();
	return tap_done();
}
