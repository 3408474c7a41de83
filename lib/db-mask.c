/* SPDX-License-Identifier: ISC */
/* db-mask (db-mask.h): secrets out of database error messages. */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "db-mask.h"
#include "util.h"

/* Values this short are masked only where the message quotes them. */
#define MASK_MIN_BARE 4
#define MASK_CONNINFO "[REDACTED]"
/* Where libpq may cut a password it misread: at its own delimiters. */
#define PIECE_SEPS " \t\r\n\f\v@/:?&='\"\\,;"

char *
db_replace_all(char *msg, const char *pat, const char *with)
{
	size_t plen = strlen(pat), wlen = strlen(with), n = 0;
	char *out, *o;
	const char *s, *hit;

	if (plen == 0)
		return msg;
	for (s = msg; (hit = strstr(s, pat)) != NULL; s = hit + plen)
		n++;
	if (n == 0)
		return msg;
	out = o = xmalloc(strlen(msg) - n * plen + n * wlen + 1);
	for (s = msg; (hit = strstr(s, pat)) != NULL; s = hit + plen) {
		memcpy(o, s, hit - s);
		o += hit - s;
		memcpy(o, with, wlen);
		o += wlen;
	}
	strcpy(o, s);
	free(msg);
	return out;
}

/* v masked as with: "v" always, v itself when long enough. */
static char *
mask_value(char *msg, const char *v, const char *with)
{
	char *quoted, *qwith;

	if (*v == '\0')
		return msg;
	quoted = xasprintf("\"%s\"", v);
	qwith = xasprintf("\"%s\"", with);
	msg = db_replace_all(msg, quoted, qwith);
	free(quoted);
	free(qwith);
	if (strlen(v) >= MASK_MIN_BARE)
		msg = db_replace_all(msg, v, with);
	return msg;
}

char *
db_mask_params(char *msg, int nparams, const char *const *params,
    const int *formats)
{
	for (int i = 0; i < nparams; i++) {
		if (params[i] == NULL || (formats != NULL && formats[i] != 0))
			continue;
		msg = mask_value(msg, params[i], "[value]");
	}
	return msg;
}

char *
db_mask_from(char *msg, const char *prefix)
{
	char *hit, *out;

	if (*prefix == '\0' || (hit = strstr(msg, prefix)) == NULL)
		return msg;
	if (hit > msg && hit[-1] == '"')
		out = xasprintf("%.*s\"[value]\"", (int)(hit - 1 - msg), msg);
	else
		out = xasprintf("%.*s[value]", (int)(hit - msg), msg);
	free(msg);
	return out;
}

/* s with each valid %XX decoded, the rest as written. */
static char *
pct_decode(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out, hex[3] = { 0 };

	while (*s != '\0') {
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			memcpy(hex, s + 1, 2);
			*o++ = (char)strtol(hex, NULL, 16);
			s += 3;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/* t, then each piece of it between PIECE_SEPS, longest first. */
static char *
mask_pieces(char *msg, const char *t)
{
	char *copy = xstrdup(t), *piece, *save = NULL;

	msg = mask_value(msg, t, MASK_CONNINFO);
	for (piece = strtok_r(copy, PIECE_SEPS, &save); piece != NULL;
	    piece = strtok_r(NULL, PIECE_SEPS, &save))
		msg = mask_value(msg, piece, MASK_CONNINFO);
	secure_free(copy, strlen(t));
	return msg;
}

/* The n bytes at v as a secret, as written and percent-decoded. */
static char *
mask_secret(char *msg, const char *v, size_t n)
{
	char *raw = xstrndup(v, n), *dec = pct_decode(raw);

	msg = mask_pieces(msg, raw);
	msg = mask_pieces(msg, dec);
	secure_free(dec, strlen(dec));
	secure_free(raw, n);
	return msg;
}

/*
 * A URI's userinfo password: from the ':' after the user to the last '@'
 * anywhere, since an unencoded '@', '/' or '?' in a password moves where
 * libpq thinks the host starts.
 */
static char *
mask_uri_password(char *msg, const char *conninfo)
{
	const char *user = strstr(conninfo, "://"), *colon, *at;

	if (user == NULL)
		return msg;
	user += 3;
	colon = user + strcspn(user, ":@");
	if (*colon != ':' || (at = strrchr(colon, '@')) == NULL)
		return msg;
	return mask_secret(msg, colon + 1, (size_t)(at - colon - 1));
}

/* What follows each "password =" of a conninfo libpq could not parse. */
static char *
mask_after_password_keys(char *msg, const char *conninfo)
{
	const char *s = conninfo, *v;

	while ((s = strcasestr(s, "password")) != NULL) {
		v = s + strlen("password");
		s = v;
		v += strspn(v, " \t\r\n\f\v");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t\r\n\f\v");
		msg = mask_secret(msg, v, strlen(v));
	}
	return msg;
}

/* The password as libpq parses it, or NULL if conninfo does not parse. */
static char *
parsed_password(const char *conninfo, bool *parsed)
{
	PQconninfoOption *opts, *o;
	char *err = NULL, *pw = NULL;

	*parsed = false;
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		PQfreemem(err);
		return NULL;
	}
	*parsed = true;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
			pw = xstrdup(o->val);
	PQconninfoFree(opts);
	return pw;
}

char *
db_mask_conninfo(char *msg, const char *conninfo)
{
	bool parsed;
	char *pw;

	if (conninfo == NULL)
		return msg;
	if ((pw = parsed_password(conninfo, &parsed)) != NULL) {
		msg = mask_pieces(msg, pw);
		secure_free(pw, strlen(pw));
	}
	if (!parsed)
		msg = mask_after_password_keys(msg, conninfo);
	return mask_uri_password(msg, conninfo);
}
