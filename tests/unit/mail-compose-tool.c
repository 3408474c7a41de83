/* SPDX-License-Identifier: ISC */
/*
 * mail-compose-tool: mail_compose() for tests/integration/test_mail_compose.py.
 * Reads a draft as JSON on standard input:
 *   {"from": s, "to": [s], "cc": [s], "bcc": [s], "subject": s,
 *    "message_id": s, "in_reply_to": s, "references": s, "body_text": s,
 *    "body_html": s, "date": n,
 *    "attachments": [{"filename": s, "mime_type": s, "data": base64}]}
 * and writes the raw message to standard output, or mail_compose()'s
 * reason to standard error and exits 1.  Not installed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "json.h"
#include "mail/compose.h"
#include "util.h"

#define INPUT_MAX (64 * 1024 * 1024)

static const char **
list(json_object *d, const char *key, size_t *n)
{
	json_object *a;
	const char **v;

	*n = 0;
	if (!json_object_object_get_ex(d, key, &a))
		return NULL;
	*n = json_object_array_length(a);
	v = xcalloc(*n + 1, sizeof *v);
	for (size_t i = 0; i < *n; i++)
		v[i] = json_object_get_string(json_object_array_get_idx(a, i));
	return v;
}

static struct mail_attachment *
attachments(json_object *d, size_t *n)
{
	json_object *a, *e;
	struct mail_attachment *v;
	const char *data;
	unsigned char *bytes;

	*n = 0;
	if (!json_object_object_get_ex(d, "attachments", &a))
		return NULL;
	*n = json_object_array_length(a);
	v = xcalloc(*n + 1, sizeof *v);
	for (size_t i = 0; i < *n; i++) {
		e = json_object_array_get_idx(a, i);
		v[i].filename = json_get_string(e, "filename");
		v[i].mime_type = json_get_string(e, "mime_type");
		data = json_get_string(e, "data");
		if (data != NULL && b64_decode(data, strlen(data), &bytes, &v[i].len) == 0)
			v[i].data = bytes;
	}
	return v;
}

static char *
read_all(size_t *len)
{
	char *buf = xmalloc(INPUT_MAX);

	*len = fread(buf, 1, INPUT_MAX, stdin);
	return buf;
}

int
main(void)
{
	struct mail_draft d;
	json_object *j;
	char *in, *out, err[128], *cause = NULL;
	size_t len, outlen;
	int64_t date = 0;
	int rc;

	in = read_all(&len);
	if ((j = json_parse_limited(in, len, INPUT_MAX, 16, &cause)) == NULL) {
		fprintf(stderr, "bad input: %s\n", cause);
		return 2;
	}
	memset(&d, 0, sizeof d);
	d.from = json_get_string(j, "from");
	d.to = list(j, "to", &d.nto);
	d.cc = list(j, "cc", &d.ncc);
	d.bcc = list(j, "bcc", &d.nbcc);
	d.subject = json_get_string(j, "subject");
	d.message_id = json_get_string(j, "message_id");
	d.in_reply_to = json_get_string(j, "in_reply_to");
	d.references = json_get_string(j, "references");
	d.body_text = json_get_string(j, "body_text");
	d.body_html = json_get_string(j, "body_html");
	(void)json_get_int64(j, "date", &date);
	d.date = (time_t)date;
	d.att = attachments(j, &d.natt);
	if ((rc = mail_compose(&d, &out, &outlen, err, sizeof err)) == 0) {
		fwrite(out, 1, outlen, stdout);
		free(out);
	} else
		fprintf(stderr, "%s\n", err);
	for (size_t i = 0; i < d.natt; i++)
		free((void *)d.att[i].data);
	free((void *)d.att);
	free((void *)d.to);
	free((void *)d.cc);
	free((void *)d.bcc);
	json_object_put(j);
	free(in);
	return rc == 0 ? 0 : 1;
}
