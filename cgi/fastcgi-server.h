/* SPDX-License-Identifier: ISC */
/*
 * fastcgi-server: rally.cgi's persistent mode, the socket side.  main.c
 * asks fcgi_listen_fd() whether the web server started it as a FastCGI
 * application, then loops on fcgi_server_next() and fcgi_server_answer(),
 * one request at a time: the web server runs several processes for
 * concurrency (docs/cgi.md section 11).  The protocol is fastcgi.c's.
 */
#ifndef RALLY_CGI_FASTCGI_SERVER_H
#define RALLY_CGI_FASTCGI_SERVER_H

#include <signal.h>
#include <stddef.h>

#include "fastcgi.h"
#include "util.h"

/*
 * The listening socket rally.cgi was started on, or -1 for CGI: fd 3 when
 * systemd passed exactly one socket (LISTEN_PID is ours, LISTEN_FDS=1),
 * else standard input when it is a socket that is not connected (how
 * lighttpd's bin-path, spawn-fcgi and Apache's mod_fcgid start FastCGI
 * programs; under CGI it is a pipe, a file or a connected socket).
 */
int fcgi_listen_fd(void);

struct fcgi_server;

struct fcgi_server *fcgi_server_new(int listen_fd);
void fcgi_server_free(struct fcgi_server *);

/*
 * Blocks until the next complete request, accepting connections and
 * reading as needed; 0 with the request in *conn (its parameters, its
 * body, conn->status when it is refused unserved), or -1 when accept()
 * fails for good or *stop is set (checked whenever a signal interrupts a
 * wait).
 */
int fcgi_server_next(struct fcgi_server *, const volatile sig_atomic_t *stop,
    struct fcgi_conn **conn) MUST_CHECK;

/* Sends the CGI response of the current request and ends it. */
void fcgi_server_answer(struct fcgi_server *, const void *data, size_t len);

#endif
