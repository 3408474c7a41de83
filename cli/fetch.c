/* SPDX-License-Identifier: ISC */
/*
 * fetch: one HTTP request from rallyctl, sent with lib/http on a private
 * event loop and waited for, its answer copied out.  For the commands that
 * talk to Google (google connect).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "http.h"
#include "log.h"
#include "rallyctl.h"

/* OAuth answers are small; a bigger one is refused, not buffered. */
#define FETCH_MAX_RESPONSE (1024 * 1024)
#define FETCH_RETRY_MAX_MS 5000

static void
ctl_fetched_cb(const struct http_response *r, void *arg)
{
	struct ctl_fetched *f = arg;

	f->done = true;
	f->err = r->err;
	f->status = r->status;
	f->body = xmalloc(r->body_len + 1);
	memcpy(f->body, r->body, r->body_len);
	f->body[r->body_len] = '\0';
	f->body_len = r->body_len;
	f->error = r->error != NULL ? xstrdup(r->error) : NULL;
	event_base_loopbreak(f->base);
}

void
ctl_fetched_clear(struct ctl_fetched *f)
{
	if (f->body != NULL)
		secure_free(f->body, f->body_len);
	free(f->error);
	memset(f, 0, sizeof *f);
}

struct http_response
ctl_fetched_response(const struct ctl_fetched *f)
{
	struct http_response r = { 0 };

	r.err = f->done ? f->err : HTTP_ERR_CANCELLED;
	r.status = f->status;
	r.body = f->body != NULL ? f->body : "";
	r.body_len = f->body_len;
	r.retry_after_ms = -1;
	r.attempts = 1;
	r.error = f->done ? f->error : "the request never finished";
	return r;
}

int
ctl_fetch(const struct ctl *ctl, struct http_request *req,
    struct ctl_fetched *f)
{
	struct http_opts o = { 0 };
	struct http *h;
	int rc;

	memset(f, 0, sizeof *f);
	if ((f->base = event_base_new()) == NULL)
		fatalx("cannot create an event loop");
	o.ca_file = ctl->conf.http_ca_file;
	o.connect_timeout_ms = ctl->conf.http_connect_timeout_sec * 1000;
	o.timeout_ms = ctl->conf.http_timeout_sec * 1000;
	o.max_response = ctl->conf.http_max_response < FETCH_MAX_RESPONSE ?
	    (size_t)ctl->conf.http_max_response : FETCH_MAX_RESPONSE;
	o.max_retries = (int)ctl->conf.http_max_retries;
	o.retry_max_ms = FETCH_RETRY_MAX_MS;
	h = http_new(f->base, &o);
	rc = http_submit(h, req, ctl_fetched_cb, f);
	if (rc == 0)
		event_base_dispatch(f->base);
	http_free(h);
	event_base_free(f->base);
	f->base = NULL;
	return rc;
}
