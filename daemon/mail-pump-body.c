/* SPDX-License-Identifier: ISC */
/*
 * mail-pump-body: the bodies Gmail leaves out of a message.  Gmail sends
 * a large part only by its attachmentId; when that part is the text or
 * HTML body, lib/mail/decode lists it as an attachment with no file name
 * and counts it in body_external.  Its row waits, still in flight (so no
 * checkpoint passes it), while each such part is fetched in turn and
 * decoded with mail_decode_body(); the part then leaves the attachments.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "json.h"
#include "mail-pump-int.h"
#include "mail/decode.h"
#include "rallyd.h"
#include "urlenc.h"
#include "util.h"

/* The next body part of f's row that Gmail left out, or -1 when none is. */
static int
body_part_next(json_object *row, const char **kind, const char **aid)
{
	json_object *atts, *a, *v;
	const char *type, *name;

	if (!json_object_object_get_ex(row, "attachments", &atts))
		return -1;
	for (size_t i = 0; i < json_object_array_length(atts); i++) {
		a = json_object_array_get_idx(atts, i);
		name = json_get_string(a, "filename");
		type = json_get_string(a, "mime_type");
		*aid = json_get_string(a, "attachment_id");
		if (name == NULL || name[0] != '\0' || type == NULL || *aid == NULL)
			continue;
		*kind = strcmp(type, "text/html") == 0 ? "body_html" :
		    strcmp(type, "text/plain") == 0 ? "body_text" : NULL;
		if (*kind != NULL && json_object_object_get_ex(row, *kind, &v) &&
		    v == NULL)
			return (int)i;
	}
	return -1;
}

static void body_cb(const struct gresp *, void *);

bool
pump_body_fetch(struct fetch *f)
{
	struct mail_pump *p = f->p;
	const char *kind, *aid;
	char *id, *a, *url;

	if (body_part_next(f->row, &kind, &aid) == -1)
		return false;
	id = urlenc_escape(f->id);
	a = urlenc_escape(aid);
	url = xasprintf("%s/users/me/messages/%s/attachments/%s",
	    p->d->conf.google_gmail_url, id, a);
	(p->bulk ? google_call_bulk : google_call)(p->d, p->tenant, p->conn,
	    "GET", url, NULL, NULL, body_cb, f);
	free(url);
	free(a);
	free(id);
	return true;
}

/* Puts the fetched body into the row, in place of its attachment entry. */
static void
body_take(struct fetch *f, const struct gresp *g)
{
	struct mail_decode_stats st;
	json_object *o, *atts;
	const char *kind, *aid, *data;
	size_t len, outlen;
	char *out;
	int i;

	if ((i = body_part_next(f->row, &kind, &aid)) == -1)
		return;
	json_object_object_get_ex(f->row, "attachments", &atts);
	/* {"size": n, "data": "..."}: one part, as large as a message. */
	o = json_parse_limited(g->body, g->body_len, PUMP_ANSWER_MAX, 8, NULL);
	memset(&st, 0, sizeof st);
	if ((data = json_get_string_len(o, "data", &len)) != NULL &&
	    mail_decode_body(data, len, NULL, NULL, &out, &outlen, &st) == 0) {
		json_object_object_add(f->row, kind,
		    json_object_new_string_len(out, (int)outlen));
		free(out);
		f->bytes += g->body_len;
		f->p->repaired += st.repaired;
	}
	/* Either way the part is the body, not an attachment. */
	json_object_array_del_idx(atts, (size_t)i, 1);
	json_object_put(o);
}

static void
body_cb(const struct gresp *g, void *arg)
{
	struct fetch *f = arg;
	struct mail_pump *p = f->p;

	p->busy++;
	if (g->err != GERR_OK && g->err != GERR_NOT_FOUND) {
		pump_fail(p, gerr_kind(g->err), g->message);
		pump_release(p);
		return;
	}
	body_take(f, g);
	if (!pump_body_fetch(f)) {
		TAILQ_REMOVE(&p->inflight, f, entry);
		p->ninflight--;
		pump_add_row(p, f->row, f->bytes);
		free(f);
		if (!p->freed)
			pump_progress(p);
	}
	pump_release(p);
}

