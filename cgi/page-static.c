/* SPDX-License-Identifier: ISC */
/*
 * GET /static/rally.css: the one stylesheet, compiled in (static/rally.css
 * turned into a C string by the build), so the program needs no files
 * beside itself and the CSP can allow styles from 'self' alone.  The only
 * answer of rally.cgi a browser may cache.
 */
#include "config.h"

#include <string.h>

#include "cgi.h"

static const char stylesheet[] =
#include "cgi/static/rally.css.inc"
	;

static void
serve_stylesheet(struct cgi *cgi, struct request *req, struct response *resp)
{
	(void)cgi;
	(void)req;
	response_set_body(resp, 200, "text/css; charset=utf-8", stylesheet,
	    sizeof stylesheet - 1);
	response_set_header(resp, "Cache-Control", "public, max-age=3600");
}

const struct route route_stylesheet = {
	.method = "GET", .path = "/static/rally.css",
	.handler = serve_stylesheet,
};
