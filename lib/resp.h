/*
 * resp — every answer of every program is built here into one fixed
 * buffer, then written in one piece.  Status line and status_description
 * come only from status.c's table, so no code path can put internals, SQL
 * or the key into a body.
 */
#ifndef OTAS_RESP_H
#define OTAS_RESP_H

#include <stddef.h>

#include "rate.h"
#include "serve.h"
#include "status.h"

#define RESP_MAX 8192
#define SESSION_HEADER "X-OTAS-AGENT-SESSION-TOKEN"

struct resp {
	char	buf[RESP_MAX];
	size_t	len;
	int	overflow;	/* something did not fit: send a 500 instead */
	int	http;		/* the status written, for the log */
	enum otas_status st;	/* the outcome written, for the log */
};

/*
 * Starts an answer: the CGI Status line and the three headers every answer
 * of the contract carries (Content-Type, Cache-Control, nosniff).
 */
void	resp_start(struct resp *r, enum otas_status st);
void	resp_header(struct resp *r, const char *name, const char *value);
/* Ends the headers and appends the JSON body (with Content-Length). */
void	resp_body(struct resp *r, const char *json);

/* {"status": 0, "status_description": code}, with Allow / Retry-After. */
void	resp_error(struct resp *r, enum otas_status st);
/* The readiness check's 200: {"status": 1, "status_description": "ready"}. */
void	resp_ready(struct resp *r);
/* session/end/'s 200: {"status": 1, "status_description":
 * "agent_session_ended"}. */
void	resp_ended(struct resp *r);
/* otas-session's 200, carrying jwt (base64url and dots only). */
void	resp_session(struct resp *r, const char *jwt);
/*
 * The same for an agent with a rate limit (a->limited): with the
 * RateLimit-Policy and RateLimit fields, so a client can pace itself.
 */
void	resp_session_limited(struct resp *r, const char *jwt,
	    const struct rate_answer *a);
/* The 429 of an agent over its limit: those fields and Retry-After. */
void	resp_rate_limited(struct resp *r, const struct rate_answer *a);

/*
 * otas-authz's 200: the three Variable-OTAS_* headers the web server hands
 * to the protected program, and nothing a client could see twice (no
 * Cache-Control: mod_fcgid merges an access checker's headers into the
 * protected answer).  Ids must be validated uuids.
 */
void	resp_allow(struct resp *r, const char *session_id,
	    const char *agent_id, long long expires);
/* otas-echo's 200: the three variables as JSON.  Ids: validated uuids. */
void	resp_echo(struct resp *r, const char *session_id,
	    const char *agent_id, long long expires);

/*
 * The scrape's 200: Prometheus' text format, len bytes of text, written
 * straight from the caller's buffer (it is larger than RESP_MAX).
 */
int	resp_send_metrics(struct conn *c, const char *text, size_t len);

/* Writes the answer (a 500 if it overflowed); returns conn_write's result. */
int	resp_send(struct resp *r, struct conn *c);

#endif
