/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi: the web front end, a CGI/1.1 program (RFC 3875).  The web
 * server runs it once per request with the request in the environment and
 * the body on standard input; it answers on standard output and exits.
 *
 * Started on a listening socket instead (fastcgi-server.c tells), it is a
 * FastCGI application: one process serves request after request, one at a
 * time, keeping its configuration and its database connection; between
 * two requests nothing of the first is left but those two
 * (request_done()).  SIGHUP rereads the configuration before the next
 * request; RALLY_FASTCGI_MAX_REQUESTS makes it exit after that many, for
 * the web server to start a fresh one.  docs/cgi.md section 11.
 *
 * The command line is ignored on purpose: for a query string without '='
 * some servers (Apache) pass its words as arguments (RFC 3875 4.4), so
 * argv is the client's, not the operator's.  The configuration file is
 * $RALLY_CONFIG, which the web server sets, else /etc/rally/rally.conf;
 * under FastCGI it is the process's, never a request's parameter.
 *
 * Diagnostics go to standard error, which the web server keeps in its
 * error log (or the journal); an HTTP error is a successful run, so the
 * exit status is 1 only when the response could not be written.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "account.h"
#include "cgi.h"
#include "db.h"
#include "fastcgi-server.h"
#include "log.h"
#include "page.h"
#include "session.h"
#include "util.h"

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
		if ((status = request_read_body(req, cgi->body_fd, &cause))
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

/* rally.conf, once per process under FastCGI and after each SIGHUP. */
static int
load_conf(struct cgi *cgi)
{
	char *cause = NULL;

	if (conf_load(conf_path(NULL), &cgi->conf, &cause) == -1) {
		log_warnx("%s", cause);
		free(cause);
		return -1;
	}
	log_configure(&cgi->conf);
	cgi->conf_loaded = true;
	return 0;
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
	if (!cgi->conf_loaded && load_conf(cgi) == -1) {
		response_plain(resp, 500, NULL);
		return;
	}
	cgi->https = served_over_https(cgi, req);
	if ((route->flags & ROUTE_PAGE) == 0 ||
	    page_prepare(cgi, route, req, resp) == 0)
		route->handler(cgi, req, resp);
	finish_transaction(cgi, resp);
	if ((route->flags & ROUTE_SECRET_PATH) != 0)
		account_private_headers(resp);
}

/* What a persistent process forgets between two configurations. */
static void
conf_forget(struct cgi *cgi)
{
	db_close(cgi->db);
	cgi->db = NULL;
	if (cgi->conf_loaded)
		conf_clear(&cgi->conf);
	cgi->conf_loaded = false;
}

/*
 * After each request under FastCGI: nothing of the user's stays for the
 * next one.  The session, the signed-out form token and the TLS flag are
 * the request's; the database connection is kept only when it is idle
 * (the request's transaction, and the tenant and user set in it, ended),
 * else it is closed and the next request opens a new one.
 */
static void
request_done(struct cgi *cgi)
{
	session_free(cgi->session);
	cgi->session = NULL;
	free(cgi->pre_csrf);
	cgi->pre_csrf = NULL;
	cgi->https = false;
	if (cgi->body_fd != -1)
		(void)close(cgi->body_fd);
	cgi->body_fd = -1;
	if (cgi->db != NULL && (PQstatus(cgi->db) != CONNECTION_OK ||
	    PQtransactionStatus(cgi->db) != PQTRANS_IDLE)) {
		log_notice("database: connection not idle after a request: "
		    "closed");
		db_close(cgi->db);
		cgi->db = NULL;
	}
}

static int
cgi_main(struct cgi *cgi)
{
	struct request *req;
	struct response *resp;
	char *cause = NULL;
	int rc = 0;

	cgi->body_fd = STDIN_FILENO;
	req = request_new(environ_cb, NULL);
	resp = response_new();
	serve(cgi, req, resp);
	request_drain_body(req, STDIN_FILENO, 10000);
	if (response_write(resp, STDOUT_FILENO, &cause) == -1) {
		log_warnx("%s", cause);
		free(cause);
		rc = 1;
	}
	request_free(req);
	response_free(resp);
	return rc;
}

static volatile sig_atomic_t reload_requested, stop_requested;

static void
signal_cb(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

/*
 * SIGHUP and SIGTERM only set a flag: the request in progress ends
 * normally.  SIGTERM interrupts a wait for the next connection.
 */
static void
fastcgi_signals(void)
{
	struct sigaction sa = { .sa_handler = signal_cb };

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	(void)sigaction(SIGHUP, &sa, NULL);
	sa.sa_flags = 0;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
}

static const char *
fcgi_env_cb(const char *name, void *arg)
{
	const struct fcgi_conn *conn = arg;

	return req_params_get(&conn->params, name);
}

/* The request's body as a file, for request_read_body(); -1 when none. */
static int
body_file(const struct fcgi_conn *conn)
{
	int fd;

	if (conn->body_len == 0)
		return -1;
	if ((fd = memfd_create("rally-body", MFD_CLOEXEC)) == -1)
		fatal("memfd_create");
	if (write_full(fd, conn->body, conn->body_len) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1)
		fatal("request body");
	return fd;
}

/*
 * An idle connection hears nothing from the server unless it is ending
 * (pg_terminate_backend(), a restart, idle_session_timeout): then it is
 * closed here, and the request opens a new one rather than failing.
 */
static void
db_check_kept(struct cgi *cgi)
{
	struct pollfd pfd = { .events = POLLIN };

	if (cgi->db == NULL)
		return;
	pfd.fd = PQsocket(cgi->db);
	if (poll(&pfd, 1, 0) == 0)
		return;
	if (PQconsumeInput(cgi->db) == 1 && PQstatus(cgi->db) == CONNECTION_OK)
		return;
	log_notice("database: the kept connection was closed by the server: "
	    "reconnecting");
	db_close(cgi->db);
	cgi->db = NULL;
}

static void
fastcgi_request(struct cgi *cgi, struct fcgi_server *srv,
    struct fcgi_conn *conn)
{
	struct request *req = request_new(fcgi_env_cb, conn);
	struct response *resp = response_new();
	char *out;
	size_t len;

	if (conn->status != 0) {
		log_notice("fastcgi: %s", conn->cause);
		response_plain(resp, conn->status, NULL);
	} else {
		cgi->body_fd = body_file(conn);
		db_check_kept(cgi);
		serve(cgi, req, resp);
	}
	out = response_format(resp, &len);
	fcgi_server_answer(srv, out, len);
	free(out);
	request_done(cgi);
	request_free(req);
	response_free(resp);
}

/* RALLY_FASTCGI_MAX_REQUESTS: how many before exiting; 0 for no limit. */
static int64_t
max_requests(void)
{
	const char *e = getenv("RALLY_FASTCGI_MAX_REQUESTS");
	int64_t v = 0;

	if (e != NULL && *e != '\0' && parse_int64(e, 0, INT64_MAX, &v) == -1)
		log_warnx("RALLY_FASTCGI_MAX_REQUESTS=%s is not a number: "
		    "ignored", e);
	return v;
}

static int
fastcgi_main(struct cgi *cgi, int listen_fd)
{
	struct fcgi_server *srv = fcgi_server_new(listen_fd);
	struct fcgi_conn *conn;
	int64_t max = max_requests(), served = 0;

	fastcgi_signals();
	cgi->body_fd = -1;
	(void)load_conf(cgi);	/* else each request tries again, and 500s */
	while (max == 0 || served < max) {
		if (fcgi_server_next(srv, &stop_requested, &conn) == -1)
			break;
		if (reload_requested) {
			reload_requested = 0;
			conf_forget(cgi);
		}
		fastcgi_request(cgi, srv, conn);
		served++;
	}
	fcgi_server_free(srv);
	return 0;
}

int
main(int argc, char **argv)
{
	struct cgi cgi = { 0 };
	int listen_fd, rc;

	(void)argc;
	(void)argv;
	process_no_core();
	log_init("rally.cgi", LOG_TARGET_AUTO, LOG_INFO);
	/* A client gone before the answer is written is logged, not fatal. */
	signal(SIGPIPE, SIG_IGN);

	if ((listen_fd = fcgi_listen_fd()) == -1)
		rc = cgi_main(&cgi);
	else
		rc = fastcgi_main(&cgi, listen_fd);
	session_free(cgi.session);
	free(cgi.pre_csrf);
	conf_forget(&cgi);
	return rc;
}
