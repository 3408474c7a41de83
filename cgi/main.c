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
#include <unistd.h>

#include "cgi.h"
#include "db.h"
#include "log.h"

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
	route->handler(cgi, req, resp);
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
	if (response_write(resp, STDOUT_FILENO, &cause) == -1) {
		log_warnx("%s", cause);
		free(cause);
		rc = 1;
	}
	db_close(cgi.db);
	conf_clear(&cgi.conf);
	request_free(req);
	response_free(resp);
	return rc;
}
