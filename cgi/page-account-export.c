/* SPDX-License-Identifier: ISC */
/*
 * "Download my data" (the rights of access and portability; docs/web.md,
 * "Account and privacy"): POST /account/export asks rallyd for an export
 * through rally.web_export_request(); GET /account/exports lists the
 * user's exports; GET /account/exports/<id> downloads a ready one.
 *
 * The archive is stored in rally.exports.content, which rally_web may read
 * for the signed-in user's own rows only (row-level security), so no
 * security definer function is needed to serve it: the query also asks
 * for status ready and an expiry in the future, and anything else (another
 * user's or tenant's id, a malformed one, one not ready or expired) is the
 * same 404.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "account.h"
#include "page-account.h"
#include "page.h"
#include "session.h"
#include "uuid.h"

static void
export_post(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *cause = NULL;

	if (db_command(cgi->db, "SELECT rally.web_export_request()", 0, NULL,
	    &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_redirect(resp, "/account/exports?done=requested");
}

/* What a row's state means to the user. */
static const char *
export_state(const char *status, bool expired)
{
	if (strcmp(status, "ready") == 0)
		return expired ? "Expired" : "Ready";
	if (strcmp(status, "failed") == 0)
		return "Failed";
	return "Being prepared";
}

static void
export_row(struct page *p, const PGresult *res, int i)
{
	const char *status = PQgetvalue(res, i, 1);
	bool expired = PQgetvalue(res, i, 5)[0] == 't';

	html(&p->sb, "<tr><td>%s</td><td>%s", PQgetvalue(res, i, 2),
	    export_state(status, expired));
	/* rally.export_fail's message, which says what to do next. */
	if (strcmp(status, "failed") == 0)
		html(&p->sb, "<br><span class=\"sync-error\">%s</span>",
		    PQgetvalue(res, i, 7));
	html(&p->sb, "</td><td>%s</td><td>%s</td><td>", PQgetvalue(res, i, 3),
	    PQgetvalue(res, i, 4));
	if (strcmp(status, "ready") == 0 && !expired)
		html(&p->sb, "<a href=\"/account/exports/%u\" download>Download"
		    "<span class=\"muted\"> (%s KB)</span></a>",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 6));
	html(&p->sb, "</td></tr>");
}

static void
exports_get(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *params[1] = { ACCOUNT_TIME_FMT };
	char *cause = NULL;
	struct page p;
	PGresult *res;
	int n;

	res = db_exec(cgi->db, "SELECT id, status, to_char(requested_at, $1),"
	    " coalesce(to_char(ready_at, $1), ''), coalesce(to_char(expires_at,"
	    " $1), ''), coalesce(expires_at <= now(), false),"
	    " coalesce((size_bytes + 1023) / 1024, 0),"
	    " coalesce(error, 'Ask for a new one.') FROM rally.exports"
	    " WHERE tenant_id = rally.current_tenant() AND user_id ="
	    " rally.current_user_id() ORDER BY requested_at DESC, id", 1,
	    params, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_begin(&p, cgi, req, resp, "Your data exports", "account");
	if (strcmp(page_param(req, "done"), "requested") == 0)
		page_notice(&p, "Rally is preparing a copy of your data. It is "
		    "usually ready within a minute: reload this page. We also "
		    "send you an email when it is ready.");
	html(&p.sb, "<p>Each export is a JSON file of everything Rally holds "
	    "about you. It can be downloaded for 7 days, then it is deleted. "
	    "Only you can download it.</p>");
	if ((n = PQntuples(res)) == 0)
		html(&p.sb, "<p>You have no exports.</p>");
	else {
		html(&p.sb, "<table><thead><tr><th scope=\"col\">Requested</th>"
		    "<th scope=\"col\">State</th><th scope=\"col\">Ready</th>"
		    "<th scope=\"col\">Deleted after</th><th scope=\"col\">File"
		    "</th></tr></thead><tbody>");
		for (int i = 0; i < n; i++)
			export_row(&p, res, i);
		html(&p.sb, "</tbody></table>");
	}
	page_form_begin(&p, "/account/export");
	html(&p.sb, "<p class=\"actions\"><button type=\"submit\">Download my "
	    "data</button> <a href=\"/account\">Back to your account</a></p>"
	    "</form>");
	PQclear(res);
	page_end(&p, 200);
}

static void
not_found(struct cgi *cgi, struct request *req, struct response *resp)
{
	page_error(cgi, req, resp, 404, "There is no export to download at "
	    "this address. Exports can be downloaded for 7 days; ask for a new "
	    "one on your account page.");
}

static void
export_download(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *disposition, *cause = NULL;
	const char *params[1] = { id };
	PGresult *res;

	if (!uuid_canonical(route_segment(&route_account_export_file, req),
	    id)) {
		not_found(cgi, req, resp);
		return;
	}
	/* Binary results: the archive's bytes as they are stored. */
	res = db_exec_params(cgi->db, "SELECT content,"
	    " to_char(ready_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
	    " content_type FROM rally.exports WHERE tenant_id ="
	    " rally.current_tenant() AND user_id = rally.current_user_id()"
	    " AND id = $1::uuid AND status = 'ready' AND expires_at > now()",
	    1, params, NULL, NULL, 1, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		not_found(cgi, req, resp);
		return;
	}
	disposition = xasprintf("attachment; filename=\"rally-export-%s.%s\"",
	    PQgetvalue(res, 0, 1), strcmp(PQgetvalue(res, 0, 2),
	    "application/json") == 0 ? "json" : "json.zst");
	response_set_body(resp, 200, PQgetvalue(res, 0, 2),
	    PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	response_set_header(resp, "Content-Disposition", disposition);
	response_set_header(resp, "Cache-Control", "no-store");
	page_security_headers(resp);
	free(disposition);
	PQclear(res);
}

const struct route route_account_export = {
	.method = "POST", .path = "/account/export", .handler = export_post,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_account_exports = {
	.method = "GET", .path = "/account/exports", .handler = exports_get,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_account_export_file = {
	.method = "GET", .path = "/account/exports/",
	.handler = export_download, .segment = true, .flags = ROUTE_SIGNED_IN,
};
