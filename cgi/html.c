/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "log.h"
#include "urlenc.h"

void
html_escape(struct strbuf *sb, const char *s)
{
	const char *run = s;

	if (s == NULL)
		return;
	for (; *s != '\0'; s++) {
		const char *ent;

		switch (*s) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default: continue;
		}
		strbuf_add(sb, run, (size_t)(s - run));
		strbuf_adds(sb, ent);
		run = s + 1;
	}
	strbuf_add(sb, run, (size_t)(s - run));
}

void
html_escape_cut(struct strbuf *sb, const char *s, size_t max)
{
	size_t i = 0, chars = 0;
	char *head;

	if (s == NULL)
		return;
	while (s[i] != '\0' && chars < max) {
		i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	head = xstrndup(s, i);
	html_escape(sb, head);
	free(head);
	if (s[i] != '\0')
		strbuf_adds(sb, "\xe2\x80\xa6");
}

void
html(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	const char *p, *run;
	char *u;

	va_start(ap, fmt);
	for (p = run = fmt; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		strbuf_add(sb, run, (size_t)(p - run));
		switch (*++p) {
		case 's':
			html_escape(sb, va_arg(ap, const char *));
			break;
		case 'r': {
			const char *raw = va_arg(ap, const char *);

			if (raw != NULL)
				strbuf_adds(sb, raw);
			break;
		}
		case 'u': {
			const char *c = va_arg(ap, const char *);

			u = urlenc_escape(c != NULL ? c : "");
			strbuf_adds(sb, u);
			free(u);
			break;
		}
		case 'd':
			strbuf_addf(sb, "%d", va_arg(ap, int));
			break;
		case 'z':
			if (*++p != 'u')
				fatalx("html: bad conversion in \"%s\"", fmt);
			strbuf_addf(sb, "%zu", va_arg(ap, size_t));
			break;
		case 'l':
			if (p[1] == 'l' && p[2] == 'd') {
				p += 2;
				strbuf_addf(sb, "%lld", va_arg(ap, long long));
			} else if (p[1] == 'd') {
				p++;
				strbuf_addf(sb, "%ld", va_arg(ap, long));
			} else
				fatalx("html: bad conversion in \"%s\"", fmt);
			break;
		case '%':
			strbuf_addc(sb, '%');
			break;
		default:
			fatalx("html: bad conversion in \"%s\"", fmt);
		}
		run = p + 1;
	}
	strbuf_add(sb, run, (size_t)(p - run));
	va_end(ap);
}
