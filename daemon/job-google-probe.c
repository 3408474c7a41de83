/* SPDX-License-Identifier: ISC */
/*
 * google-probe: a diagnostic ("can Rally reach Google for this
 * connection?").  Payload {"connection_id", "url", "method"?}: one
 * google_call() for the connection of the job's tenant, and the job's
 * result is {"status", "err", "reason", "message"}, never the body.  API
 * errors are results too (JOB_DONE); only GERR_UNAVAILABLE and
 * GERR_RATE_LIMITED are retried.
 *
 * The URL must lie under google.calendar_url or google.gmail_url, and the
 * method is GET: the web tier may queue jobs for its tenant, and a probe
 * must neither reach other endpoints nor change anything at Google.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "google.h"
#include "jobs.h"
#include "rallyd.h"
#include "util.h"
#include "uuid.h"

static bool
under(const char *url, const char *base)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n == 0 || strncmp(url, base, n) != 0)
		return false;
	url += n;
	if (*url != '\0' && *url != '/' && *url != '?')
		return false;
	/* No way out of the API's path: no dot segments, plain or encoded. */
	for (; *url != '\0' && *url != '?'; url++)
		if (strncmp(url, "..", 2) == 0 || strncasecmp(url, "%2e", 3) == 0 ||
		    *url == '\\' || *url == '#')
			return false;
	return true;
}

static const char *
probe_problem(struct job *job, char conn_buf[UUID_STR_LEN], const char **conn,
    const char **url)
{
	const struct conf *c = &job->d->conf;
	json_object *v;
	const char *method = "GET";

	*conn = job_payload_uuid(job, "connection_id", conn_buf);
	*url = job_payload_string(job, "url");
	if (json_object_object_get_ex(job->payload, "method", &v))
		method = json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) : "";
	if (*conn == NULL || *url == NULL)
		return "payload needs connection_id (a uuid) and url";
	if (strcmp(method, "GET") != 0)
		return "google-probe only sends GET";
	if (!under(*url, c->google_calendar_url) &&
	    !under(*url, c->google_gmail_url))
		return "url is not under google.calendar_url or google.gmail_url";
	return NULL;
}

static void
probe_cb(const struct gresp *r, void *arg)
{
	struct job *job = arg;
	json_object *result;

	if (r->err == GERR_UNAVAILABLE || r->err == GERR_RATE_LIMITED) {
		job_defer(job, r->retry_after_ms);
		job_finish(job, JOB_RETRY, r->message, NULL);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "status", json_object_new_int64(r->status));
	json_object_object_add(result, "err",
	    json_object_new_string(gerr_kind(r->err)));
	json_object_object_add(result, "reason", json_object_new_string(r->reason));
	json_object_object_add(result, "message",
	    json_object_new_string(r->message));
	job_finish(job, JOB_DONE, NULL, result);
}

static void
probe_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *problem, *conn, *url;

	if ((problem = probe_problem(job, buf, &conn, &url)) != NULL) {
		job_finish(job, JOB_FAIL, problem, NULL);
		return;
	}
	google_call(job->d, job->tenant_id, conn, "GET", url, NULL, NULL,
	    probe_cb, job);
}

static void
probe_cancel(struct job *job)
{
	google_cancel(job->d, job);
}

const struct job_kind job_google_probe_kind = {
	.name = "google-probe",
	.start = probe_start,
	.cancel = probe_cancel,
};
