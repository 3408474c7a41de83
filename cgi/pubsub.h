/* SPDX-License-Identifier: ISC */
/*
 * pubsub: the body of a Cloud Pub/Sub push request carrying a Gmail watch
 * notification, as page-hooks.c receives it:
 *
 *	{"message": {"data": base64 of {"emailAddress": ..., "historyId": ...},
 *	             "messageId": ..., "publishTime": ...},
 *	 "subscription": ...}
 *
 * Parsed with json-c in strict mode with UTF-8 validation, a depth limit
 * and size limits on the body and the decoded data, because it comes from
 * the network (authenticated, but parsed before anything trusts it).
 */
#ifndef RALLY_CGI_PUBSUB_H
#define RALLY_CGI_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* A push is a few hundred bytes; anything near these is not Gmail's. */
#define PUBSUB_MAX_BODY (64 * 1024)
#define PUBSUB_MAX_DEPTH 8
#define PUBSUB_MAX_DATA (8 * 1024)
#define PUBSUB_MAX_MESSAGE_ID 256
/* RFC 5321's path limit, as rally.google_connections.google_email. */
#define GMAIL_MAX_EMAIL 320

struct gmail_push {
	char *email;		/* emailAddress: the mailbox that changed */
	uint64_t history_id;	/* historyId (a string or a number) */
	char *message_id;	/* Pub/Sub's messageId, for logs; "" if odd */
};

/*
 * Parses len bytes of body into *push (clear it with gmail_push_clear()).
 * -1 with *cause set when the body is not such a notification; the message
 * never quotes the address.
 */
int pubsub_gmail_parse(const void *body, size_t len, struct gmail_push *push,
    char **cause) MUST_CHECK;
void gmail_push_clear(struct gmail_push *);

#endif
