/*
 * resp — every answer is built here into one fixed buffer, then written in
 * one piece.  Errors are written only from status.c's table, so no code path
 * can put internals, SQL or the key into a body.
 */
#ifndef OTAS_RESP_H
#define OTAS_RESP_H

#include <stddef.h>

#include "serve.h"
#include "status.h"

#define RESP_MAX 8192
#define SESSION_HEADER "X-OTAS-AGENT-SESSION-TOKEN"

struct resp {
	char	buf[RESP_MAX];
	size_t	len;
	int	overflow;	/* something did not fit: send a 500 instead */
	int	http;		/* the status written, for the log */
};

/* Starts an answer: the CGI Status line and the three headers of SPEC §2. */
void	resp_start(struct resp *r, int http, const char *reason);
void	resp_header(struct resp *r, const char *name, const char *value);
/* Ends the headers and appends the JSON body (with Content-Length). */
void	resp_body(struct resp *r, const char *json);

/* {"status": 0, "status_description": code}, with Allow / Retry-After. */
void	resp_error(struct resp *r, enum otas_status st);
/* The readiness check's 200: {"status": 1, "status_description": "ready"}. */
void	resp_ready(struct resp *r);
/* The 200 answer of SPEC §2 carrying jwt (base64url and dots only). */
void	resp_session(struct resp *r, const char *jwt);

/* Writes the answer (a 500 if it overflowed); returns conn_write's result. */
int	resp_send(struct resp *r, struct conn *c);

#endif
