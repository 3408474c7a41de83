/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi: the web front end, a CGI/1.1 program (RFC 3875).  The web
 * server runs it once per request with the request in the environment and
 * the body on standard input; it answers on standard output and exits.
 *
 * The command line is ignored on purpose: for a query string without '='
 * some servers (Apache) pass its words as arguments (RFC 3875 4.4), so
 * argv is the client's, not the operator's.  The configuration file is
 * $RALLY_CONFIG, which the web server sets, else /etc/rally/rally.conf.
 *
 * Diagnostics go to standard error, which the web server keeps in its
 * error log (or the journal); an HTTP error is a successful run, so the
 * exit status is 1 only when the response could not be written.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cgi.h"
#include "db.h"
#include "log.h"
#include "page.h"
#include "session.h"

static const char *
environ_cb(const char *name, void *arg)
{
	return getenv(name);
}

PGconn *
cgi_db(struct cgi *cgi, char **cause)
{
	if (cgi->db == NULL)
		cgi->db = db_connect(cgi->conf.db_web_conninfo, cause);
	return cgi->db;
}

int
cgi_begin(struct cgi *cgi, char **cause)
{
	if (cgi_db(cgi, cause) == NULL)
		return -1;
	if (PQtransactionStatus(cgi->db) == PQTRANS_INTRANS)
		return 0;
	return db_begin(cgi->db, cause);
}

int
cgi_db_error_status(struct cgi *cgi)
{
	if (cgi->db == NULL || PQstatus(cgi->db) != CONNECTION_OK)
		return 503;
	return 500;
}

/* The log as rally.conf says, once it is loaded. */
static void
log_configure(const struct conf *c)
{
	enum log_target target = LOG_TARGET_AUTO;

	if (strcmp(c->log_target, "stderr") == 0)
		target = LOG_TARGET_STDERR;
	else if (strcmp(c->log_target, "journal") == 0)
		target = LOG_TARGET_JOURNAL;
	log_init("rally.cgi", target, log_priority_from_name(c->log_level));
}

/* TLS as the web server says (HTTPS=on), or the public URL's scheme
 * when a proxy in front ends TLS. */
static bool
served_over_https(const struct cgi *cgi, const struct request *req)
{
	const char *https = request_env(req, "HTTPS");

	return (https != NULL && strcasecmp(https, "on") == 0) ||
	    strncmp(cgi->conf.web_public_url, "https://", 8) == 0;
}

/*
 * What ROUTE_PAGE and ROUTE_SIGNED_IN promise before the handler runs.
 * 0 to run it, -1 when the response is already set.
 */
static int
page_prepare(struct cgi *cgi, const struct route *route, struct request *req,
    struct response *resp)
{
	char *cause = NULL;
	int status;

	if (session_resume(cgi, req, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		return -1;
	}
	if (strcmp(req->method, "POST") == 0) {
		if (strcmp(req->content_type,
		    "application/x-www-form-urlencoded") != 0) {
			page_error(cgi, req, resp, 415, "This address takes "
			    "only forms.");
			return -1;
		}
		if ((status = request_read_body(req, STDIN_FILENO, &cause))
		    != 0) {
			log_notice("request: %s", cause);
			free(cause);
			page_error(cgi, req, resp, status, "The form could not "
			    "be read. Please go back and try again.");
			return -1;
		}
		if (!session_csrf_valid(cgi, req, page_field(req, "csrf"))) {
			page_error(cgi, req, resp, 403, "This form has expired "
			    "or did not come from Rally. Please go back, "
			    "reload the page and try again.");
			return -1;
		}
	}
	if ((route->flags & ROUTE_SIGNED_IN) == ROUTE_SIGNED_IN &&
	    cgi->session == NULL) {
		if (strcmp(req->method, "GET") == 0)
			page_redirect(resp, "/signin");
		else
			page_error(cgi, req, resp, 403, "Please sign in first.");
		return -1;
	}
	return 0;
}

/*
 * The request's transaction ends with the request: committed when the
 * handler succeeded, rolled back after a failed query or a 5xx.
 */
static void
finish_transaction(struct cgi *cgi, struct response *resp)
{
	char *cause = NULL;

	if (cgi->db == NULL)
		return;
	switch (PQtransactionStatus(cgi->db)) {
	case PQTRANS_INTRANS:
		if (resp->status < 500) {
			if (db_commit(cgi->db, &cause) == -1) {
				log_warnx("database: %s", cause);
				free(cause);
				page_error(cgi, NULL, resp, 503, "Rally could "
				    "not save this just now; nothing was "
				    "changed. Please try again.");
			}
			break;
		}
		/* FALLTHROUGH */
	case PQTRANS_INERROR:
		(void)db_rollback(cgi->db, NULL);
		break;
	default:
		break;
	}
}

static void
serve(struct cgi *cgi, struct request *req, struct response *resp)
{
	const struct route *route;
	char *cause = NULL;
	int status;

	if ((status = request_parse(req, &cause)) != 0) {
		log_notice("request: %s", cause);
		response_plain(resp, status, NULL);
		free(cause);
		return;
	}
	/* Unknown paths and methods cost no file and no connection. */
	if ((route = routes_find(req, resp)) == NULL)
		return;
	if (conf_load(conf_path(NULL), &cgi->conf, &cause) == -1) {
		log_warnx("%s", cause);
		response_plain(resp, 500, NULL);
		free(cause);
		return;
	}
	log_configure(&cgi->conf);
	cgi->https = served_over_https(cgi, req);
	if ((route->flags & ROUTE_PAGE) != 0 &&
	    page_prepare(cgi, route, req, resp) == -1) {
		finish_transaction(cgi, resp);
		return;
	}
	route->handler(cgi, req, resp);
	finish_transaction(cgi, resp);
}

int
main(int argc, char **argv)
{
	struct cgi cgi = { 0 };
	struct request *req;
	struct response *resp;
	char *cause = NULL;
	int rc = 0;

	(void)argc;
	(void)argv;
	log_init("rally.cgi", LOG_TARGET_AUTO, LOG_INFO);
	/* A client gone before the answer is written is logged, not fatal. */
	signal(SIGPIPE, SIG_IGN);

	req = request_new(environ_cb, NULL);
	resp = response_new();
	serve(&cgi, req, resp);
	request_drain_body(req, STDIN_FILENO, 10000);
	if (response_write(resp, STDOUT_FILENO, &cause) == -1) {
		log_warnx("%s", cause);
		free(cause);
		rc = 1;
	}
	db_close(cgi.db);
	session_free(cgi.session);
	free(cgi.pre_csrf);
	conf_clear(&cgi.conf);
	request_free(req);
	response_free(resp);
	return rc;
}
