/* SPDX-License-Identifier: ISC */
/*
 * The Pub/Sub push body parser (cgi/pubsub.c) on arbitrary bytes: once as
 * the whole body, and once base64-encoded as the message data of a
 * well-formed envelope, so the inner Gmail notification is reached too.
 *
 * Checks besides "no crash": a notification or a message, never both or
 * neither; an accepted address is within its limits, one line, with '@'.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "fuzz.h"
#include "pubsub.h"

static void
check(const void *body, size_t len)
{
	struct gmail_push push;
	char *cause = NULL;
	size_t n;

	if (pubsub_gmail_parse(body, len, &push, &cause) == -1) {
		if (cause == NULL || push.email != NULL)
			abort();
		free(cause);
		return;
	}
	if (cause != NULL || push.email == NULL || push.message_id == NULL)
		abort();
	n = strlen(push.email);
	if (n < 3 || n > GMAIL_MAX_EMAIL || strchr(push.email, '@') == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)push.email[i] <= 0x20 ||
		    push.email[i] == 0x7f)
			abort();
	gmail_push_clear(&push);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b64, *body;

	check(data, size);
	if ((b64 = b64_encode(data, size)) == NULL)
		return 0;
	body = xasprintf("{\"message\": {\"data\": \"%s\", "
	    "\"messageId\": \"1\"}}", b64);
	check(body, strlen(body));
	free(body);
	free(b64);
	return 0;
}
