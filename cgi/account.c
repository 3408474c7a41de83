/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "account.h"
#include "b64.h"
#include "db.h"
#include "log.h"
#include "page.h"

#define EMAIL_MAX 320

void
account_token_new(char out[ACCOUNT_TOKEN_LEN + 1])
{
	unsigned char raw[32];
	char *enc;

	random_bytes(raw, sizeof raw);
	enc = b64url_encode(raw, sizeof raw);
	if (strlen(enc) != ACCOUNT_TOKEN_LEN)
		fatalx("account: base64url of 32 bytes is not 43 characters");
	memcpy(out, enc, ACCOUNT_TOKEN_LEN + 1);
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(enc, ACCOUNT_TOKEN_LEN);
	free(enc);
}

bool
account_token_ok(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_");

	return n == ACCOUNT_TOKEN_LEN && s[n] == '\0';
}

void
account_token_clear(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
}

const char *
account_public_url(const struct cgi *cgi, const char *what)
{
	const char *u = cgi->conf.web_public_url;

	if (u != NULL && u[0] != '\0')
		return u;
	log_warnx("%s: web.public_url is not set in rally.conf, so no emailed "
	    "link can be built; set [web] public_url to the address users "
	    "reach Rally at (e.g. https://crm.example.com)", what);
	return NULL;
}

const char *
account_client_addr(const struct request *req)
{
	const char *a = request_env(req, "REMOTE_ADDR");

	return a != NULL ? a : "";
}

long
account_login_wait(struct cgi *cgi, const struct request *req,
    const char *email, char **cause)
{
	const char *params[2] = { email, account_client_addr(req) };
	PGresult *res;
	long wait;

	res = db_exec(cgi->db, "SELECT rally.web_login_wait($1, $2)", 2,
	    params, cause);
	if (res == NULL)
		return -1;
	wait = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return wait;
}

int
account_login_failed(struct cgi *cgi, const struct request *req,
    const char *email, char **cause)
{
	const char *params[2] = { email, account_client_addr(req) };

	return db_command(cgi->db, "SELECT rally.web_login_failed($1, $2)", 2,
	    params, cause);
}

bool
account_email_ok(const char *e)
{
	const char *at = strchr(e, '@');

	for (const unsigned char *c = (const unsigned char *)e; *c != '\0'; c++)
		if (*c <= ' ' || *c == 0x7f)
			return false;
	return at != NULL && at != e && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL && strlen(e) <= EMAIL_MAX &&
	    strpbrk(e, "<>()[]\\,;:\"") == NULL;
}

size_t
account_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

const char *
account_password_check(const char *password, const char *again)
{
	if (strlen(password) < ACCOUNT_PASSWORD_MIN)
		return "Choose a password of at least 10 characters.";
	if (strlen(password) > PASSWD_MAX_LEN)
		return "That password is too long.";
	if (strcmp(password, again) != 0)
		return "The two passwords are not the same. Please type them "
		    "again.";
	return NULL;
}

void
account_passwd_params(const struct cgi *cgi, struct passwd_params *pp)
{
	pp->m_kib = (uint32_t)cgi->conf.argon2_memory_kib;
	pp->t_cost = (uint32_t)cgi->conf.argon2_iterations;
	pp->parallelism = (uint32_t)cgi->conf.argon2_parallelism;
}

int
account_password_hash(const struct cgi *cgi, const char *password,
    char **phc, char **cause)
{
	struct passwd_params pp;

	account_passwd_params(cgi, &pp);
	return passwd_hash(password, &pp, phc, cause);
}

void
account_password_fields(struct page *p)
{
	html(&p->sb, "<p><label for=\"password\">New password</label>"
	    "<input id=\"password\" name=\"password\" type=\"password\" "
	    "required minlength=\"%d\" autocomplete=\"new-password\" "
	    "aria-describedby=\"password-help\">"
	    "<small id=\"password-help\">At least %d characters.</small></p>"
	    "<p><label for=\"again\">The same password again</label>"
	    "<input id=\"again\" name=\"again\" type=\"password\" required "
	    "autocomplete=\"new-password\"></p>", ACCOUNT_PASSWORD_MIN,
	    ACCOUNT_PASSWORD_MIN);
}

void
account_private_headers(struct response *resp)
{
	response_set_header(resp, "Cache-Control", "no-store");
	response_set_header(resp, "Referrer-Policy", "no-referrer");
}
