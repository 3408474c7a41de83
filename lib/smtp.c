/* SPDX-License-Identifier: ISC */
/* smtp: one email through the relay, and a notice's message (smtp.h). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "b64.h"
#include "conf.h"
#include "log.h"
#include "secretfile.h"
#include "smtp.h"
#include "utf8.h"

#define SMTP_PASSWORD_MAX 1024
#define SMTP_B64_LINE 76

struct upload {
	const char *data;
	size_t len, off;
};

/* Printable UTF-8 on one line: well-formed, no control character. */
static bool
one_line_utf8(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max || !utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool
ascii_only(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static bool
address_ok(const char *a)
{
	const char *at = strchr(a, '@');

	return one_line_utf8(a, SMTP_MAX_ADDRESS) && ascii_only(a) &&
	    at != NULL && at != a && at[1] != '\0' && strchr(a, '<') == NULL &&
	    strchr(a, '>') == NULL && strchr(a, ' ') == NULL &&
	    strchr(a, ',') == NULL;
}

/* The body as base64 in lines of 76, CRLF after each. */
static char *
body_b64(const char *body)
{
	char *b = b64_encode(body, strlen(body));
	size_t n = strlen(b), lines = n / SMTP_B64_LINE + 1;
	char *out = xmalloc(n + 2 * lines + 1), *o = out;

	for (size_t i = 0; i < n; i += SMTP_B64_LINE) {
		size_t k = n - i < SMTP_B64_LINE ? n - i : SMTP_B64_LINE;

		memcpy(o, b + i, k);
		o += k;
		*o++ = '\r';
		*o++ = '\n';
	}
	*o = '\0';
	free(b);
	return out;
}

static bool
body_ok(const char *body)
{
	size_t n = strlen(body);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)body[i] < 0x20 && body[i] != '\n' &&
		    body[i] != '\t' && body[i] != '\r')
			return false;
	return n <= SMTP_MAX_BODY;
}

char *
smtp_compose(const char *from, const char *to, const char *subject,
    const char *body, const char *message_id, char **cause)
{
	char date[64], *subj, *text, *msg;
	time_t now = time(NULL);
	struct tm tm;

	if (!address_ok(from) || !address_ok(to)) {
		*cause = xstrdup("a sender or recipient that is not a plain address");
		return NULL;
	}
	if (!one_line_utf8(subject, SMTP_MAX_SUBJECT) || !body_ok(body) ||
	    !one_line_utf8(message_id, SMTP_MAX_SUBJECT) || !ascii_only(message_id)) {
		*cause = xstrdup("a subject, body or Message-ID that cannot be sent");
		return NULL;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (ascii_only(subject)) {
		subj = xstrdup(subject);
	} else {
		char *b = b64_encode(subject, strlen(subject));

		subj = xasprintf("=?UTF-8?B?%s?=", b);
		free(b);
	}
	text = body_b64(body);
	msg = xasprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: %s\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n%s",
	    from, to, subj, date, message_id, text);
	free(subj);
	free(text);
	return msg;
}

int
smtp_conf_check(const struct conf *c, char **cause)
{
	const char *u = c->smtp_url;

	if (u == NULL || *u == '\0') {
		*cause = xstrdup("no relay: set smtp.url (smtps://host:465 or "
		    "smtp://host:587)");
		return -1;
	}
	if (strncmp(u, "smtp://", 7) != 0 && strncmp(u, "smtps://", 8) != 0) {
		*cause = xasprintf("smtp.url must start with smtp:// or smtps://");
		return -1;
	}
	if (!address_ok(c->smtp_from)) {
		*cause = xstrdup("smtp.from must be the sender's address, e.g. "
		    "rally@example.com");
		return -1;
	}
	if (strcmp(c->smtp_starttls, "required") != 0 &&
	    strcmp(c->smtp_starttls, "off") != 0) {
		*cause = xstrdup("smtp.starttls must be required or off");
		return -1;
	}
	return 0;
}

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct upload *up = arg;
	size_t n = size * nmemb, left = up->len - up->off;

	if (n > left)
		n = left;
	memcpy(buf, up->data + up->off, n);
	up->off += n;
	return n;
}

/* The password of smtp.password_file, or NULL (none configured). */
static int
read_password(const struct conf *c, char **pw, char **cause)
{
	size_t len;
	char *buf;

	*pw = NULL;
	if (c->smtp_password_file[0] == '\0')
		return 0;
	if (secretfile_read("smtp password", c->smtp_password_file, 0,
	    SMTP_PASSWORD_MAX, &buf, &len, NULL, cause) == -1)
		return -1;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	*pw = xstrndup(buf, len);
	secure_free(buf, SMTP_PASSWORD_MAX + 1);
	return 0;
}

static CURLcode
configure(CURL *e, const struct conf *c, const char *pw, struct upload *up,
    struct curl_slist *rcpt, char *err)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_URL, c->smtp_url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_ERRORBUFFER, err);
	SET(CURLOPT_TIMEOUT, (long)c->smtp_timeout_sec);
	SET(CURLOPT_CONNECTTIMEOUT, (long)c->smtp_timeout_sec);
	SET(CURLOPT_MAIL_FROM, c->smtp_from);
	SET(CURLOPT_MAIL_RCPT, rcpt);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, up);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)up->len);
	if (strcmp(c->smtp_starttls, "required") == 0)
		SET(CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (c->http_ca_file[0] != '\0')
		SET(CURLOPT_CAINFO, c->http_ca_file);
	if (c->smtp_username[0] != '\0')
		SET(CURLOPT_USERNAME, c->smtp_username);
	if (pw != NULL)
		SET(CURLOPT_PASSWORD, pw);
#undef SET
	return rc;
}

int
smtp_send(const struct conf *c, const char *to, const char *message,
    char **cause)
{
	struct upload up = { message, strlen(message), 0 };
	char err[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt;
	char *pw = NULL;
	CURLcode rc;
	CURL *e;

	if (smtp_conf_check(c, cause) == -1 || read_password(c, &pw, cause) == -1)
		return -1;
	if ((e = curl_easy_init()) == NULL)
		fatalx("smtp: curl_easy_init failed");
	rcpt = curl_slist_append(NULL, to);
	rc = configure(e, c, pw, &up, rcpt, err);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(e);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(e);
	if (pw != NULL)
		secure_free(pw, strlen(pw));
	if (rc != CURLE_OK) {
		*cause = xasprintf("smtp: %s", err[0] != '\0' ? err :
		    curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}
