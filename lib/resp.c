/*
 * resp — CGI response text: "Status:" line, headers, blank line, body.
 * Every piece is appended with a checked snprintf; anything that does not
 * fit turns the whole answer into a 500 at resp_send, never a cut one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resp.h"
#include "textbuf.h"

static void append(struct resp *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
append(struct resp *r, const char *fmt, ...)
{
	va_list ap;

	if (r->overflow)
		return;
	va_start(ap, fmt);
	if (textbuf_vappend(r->buf, sizeof(r->buf), &r->len, fmt, ap) == -1)
		r->overflow = 1;
	va_end(ap);
}

/* The Status line alone, from the table. */
static void
status_line(struct resp *r, enum otas_status st)
{
	const struct otas_status_info *si = status_info(st);

	r->len = 0;
	r->overflow = 0;
	r->http = si->http;
	r->st = st;
	append(r, "Status: %d %s\r\n", si->http, si->reason);
}

void
resp_start(struct resp *r, enum otas_status st)
{
	status_line(r, st);
	append(r, "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n");
}

void
resp_header(struct resp *r, const char *name, const char *value)
{
	append(r, "%s: %s\r\n", name, value);
}

/*
 * Every body ends with a newline, counted in Content-Length: curl prints
 * the answer and the shell's prompt starts on a line of its own.  JSON
 * allows whitespace after the value, so no client parses it differently.
 */
void
resp_body(struct resp *r, const char *json)
{
	append(r, "Content-Length: %zu\r\n\r\n%s\n", strlen(json) + 1,
	    json);
}

/* {"status": 0|1, "status_description": code} as the whole body. */
static void
plain_body(struct resp *r, enum otas_status st)
{
	char body[128];
	int n;

	n = snprintf(body, sizeof(body),
	    "{\"status\": %d, \"status_description\": \"%s\"}",
	    status_ok(st), status_info(st)->code);
	if (n < 0 || (size_t)n >= sizeof(body)) {
		r->overflow = 1;
		return;
	}
	resp_body(r, body);
}

void
resp_error(struct resp *r, enum otas_status st)
{
	resp_start(r, st);
	if (st == OTAS_ERR_METHOD)
		resp_header(r, "Allow", "POST");
	if (st == OTAS_ERR_UNAVAILABLE)
		resp_header(r, "Retry-After", "1");
	plain_body(r, st);
}

/* {"status": 1, "status_description": code, "response": {response}} */
static void
success_body(struct resp *r, enum otas_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
success_body(struct resp *r, enum otas_status st, const char *fmt, ...)
{
	char body[RESP_MAX], inner[RESP_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(inner, sizeof(inner), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(inner)) {
		r->overflow = 1;
		return;
	}
	n = snprintf(body, sizeof(body), "{\"status\": 1, "
	    "\"status_description\": \"%s\", \"response\": {%s}}",
	    status_info(st)->code, inner);
	if (n < 0 || (size_t)n >= sizeof(body)) {
		r->overflow = 1;
		return;
	}
	resp_body(r, body);
}

void
resp_ready(struct resp *r)
{
	resp_start(r, OTAS_READY);
	plain_body(r, OTAS_READY);
}

/*
 * draft-ietf-httpapi-ratelimit-headers (-10): structured fields, one
 * policy named "sessions"; Retry-After never earlier than t, and at least
 * a second (a 429 always waits for something).
 */
static void
rate_fields(struct resp *r, const struct rate_answer *a, int refused)
{
	if (a == NULL || !a->limited)
		return;
	append(r, "RateLimit-Policy: \"sessions\";q=%ld;w=%ld\r\n"
	    "RateLimit: \"sessions\";r=%ld;t=%lld\r\n",
	    a->quota, a->window, a->remaining, a->wait);
	if (refused)
		append(r, "Retry-After: %lld\r\n", a->wait > 1 ? a->wait : 1);
}

void
resp_ended(struct resp *r)
{
	resp_start(r, OTAS_ENDED);
	plain_body(r, OTAS_ENDED);
}

void
resp_session_limited(struct resp *r, const char *jwt,
    const struct rate_answer *a)
{
	resp_start(r, OTAS_CREATED);
	rate_fields(r, a, 0);
	success_body(r, OTAS_CREATED,
	    "\"Header_value\": \"%s\", \"jwt_token\": \"%s\"",
	    SESSION_HEADER, jwt);
}

void
resp_session(struct resp *r, const char *jwt)
{
	resp_session_limited(r, jwt, NULL);
}

void
resp_rate_limited(struct resp *r, const struct rate_answer *a)
{
	resp_start(r, OTAS_ERR_RATE_LIMITED);
	rate_fields(r, a, 1);
	plain_body(r, OTAS_ERR_RATE_LIMITED);
}

void
resp_allow(struct resp *r, const char *session_id, const char *agent_id,
    long long expires)
{
	status_line(r, OTAS_ALLOWED);
	append(r, "Content-Type: application/json\r\n"
	    "Variable-OTAS_AGENT_SESSION_ID: %s\r\n"
	    "Variable-OTAS_AGENT_ID: %s\r\n"
	    "Variable-OTAS_SESSION_EXPIRES: %lld\r\n",
	    session_id, agent_id, expires);
	plain_body(r, OTAS_ALLOWED);
}

void
resp_echo(struct resp *r, const char *session_id, const char *agent_id,
    long long expires)
{
	resp_start(r, OTAS_ALLOWED);
	success_body(r, OTAS_ALLOWED, "\"agent_session_id\": \"%s\", "
	    "\"agent_id\": \"%s\", \"session_expires\": %lld",
	    session_id, agent_id, expires);
}

int
resp_send(struct resp *r, struct conn *c)
{
	if (r->overflow)
		resp_error(r, OTAS_ERR_SERVER);
	c->http = r->http;
	return conn_write(c, r->buf, r->len);
}

int
resp_send_metrics(struct conn *c, const char *text, size_t len)
{
	struct resp r;

	status_line(&r, OTAS_READY);
	append(&r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Length: %zu\r\n\r\n", len);
	if (r.overflow)		/* cannot happen: a few fixed lines */
		return -1;
	c->http = r.http;
	if (conn_write(c, r.buf, r.len) == -1)
		return -1;
	return conn_write(c, text, len);
}
