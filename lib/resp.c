/*
 * resp — CGI response text: "Status:" line, headers, blank line, body.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resp.h"

static void append(struct resp *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
append(struct resp *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->len, sizeof(r->buf) - r->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(r->buf) - r->len) {
		r->overflow = 1;
		return;
	}
	r->len += (size_t)n;
}

void
resp_start(struct resp *r, int http, const char *reason)
{
	r->len = 0;
	r->overflow = 0;
	r->http = http;
	append(r, "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n", http, reason);
}

void
resp_header(struct resp *r, const char *name, const char *value)
{
	append(r, "%s: %s\r\n", name, value);
}

void
resp_body(struct resp *r, const char *json)
{
	append(r, "Content-Length: %zu\r\n\r\n%s", strlen(json), json);
}

void
resp_error(struct resp *r, enum otas_status st)
{
	const struct otas_status_info *si = status_info(st);
	char body[128];

	resp_start(r, si->http, si->reason);
	if (st == OTAS_ERR_METHOD)
		resp_header(r, "Allow", "POST");
	if (st == OTAS_ERR_UNAVAILABLE)
		resp_header(r, "Retry-After", "1");
	snprintf(body, sizeof(body),
	    "{\"status\": 0, \"status_description\": \"%s\"}", si->code);
	resp_body(r, body);
}

void
resp_ready(struct resp *r)
{
	const struct otas_status_info *si = status_info(OTAS_READY);
	char body[128];

	resp_start(r, si->http, si->reason);
	snprintf(body, sizeof(body),
	    "{\"status\": 1, \"status_description\": \"%s\"}", si->code);
	resp_body(r, body);
}

void
resp_session(struct resp *r, const char *jwt)
{
	const struct otas_status_info *si = status_info(OTAS_OK);
	char body[RESP_MAX];
	int n;

	n = snprintf(body, sizeof(body), "{\"status\": 1, "
	    "\"status_description\": \"%s\", \"response\": "
	    "{\"Header_value\": \"%s\", \"jwt_token\": \"%s\"}}",
	    si->code, SESSION_HEADER, jwt);
	resp_start(r, si->http, si->reason);
	if (n < 0 || (size_t)n >= sizeof(body)) {
		r->overflow = 1;
		return;
	}
	resp_body(r, body);
}

int
resp_send(struct resp *r, struct conn *c)
{
	if (r->overflow)
		resp_error(r, OTAS_ERR_SERVER);
	return conn_write(c, r->buf, r->len);
}
