/*
 * req — what a request's CGI/FastCGI parameters say, scanned once and
 * validated in one place (the kcgi idea): the method, the body length, the
 * two OTAS headers and Idempotency-Key.  Every parameter is looked at, not just the first
 * match: nginx 1.22 sends a repeated header as a repeated parameter and
 * lighttpd maps X_OTAS_AGENT_KEY onto the same name, so a header that
 * arrives twice must be seen to be refused.
 *
 * The pointers point into envp and live as long as it does.
 */
#ifndef OTAS_REQ_H
#define OTAS_REQ_H

#include <stddef.h>

#define REQ_ID_MAX 64

struct req {
	const char	*method;	/* "" when absent */
	long long	 content_length; /* -1 absent, -2 not a decimal */
	const char	*key;		/* X-OTAS-AGENT-KEY value, or NULL */
	size_t		 key_len;
	int		 key_count;	/* how often the parameter appeared */
	const char	*token;		/* X-OTAS-AGENT-SESSION-TOKEN, or NULL */
	size_t		 token_len;
	int		 token_count;
	const char	*idem;		/* Idempotency-Key value, or NULL */
	size_t		 idem_len;
	int		 idem_count;
	const char	*remote;	/* REMOTE_ADDR, or NULL */
	char		 id[REQ_ID_MAX + 1]; /* for the log: safe characters only */
	int		 health;	/* the path has a REQ_HEALTH_SEGMENT */
	int		 end;		/* the path has a REQ_END_SEGMENT */
	int		 metrics;	/* the path ends in REQ_METRICS_PATH */
};

/*
 * The readiness check: /api/agent/v1/health/, recognised by this segment
 * anywhere in REQUEST_URI's path (the query cut off), so a front proxy
 * may add a prefix, and a path below it that a server sends here anyway
 * is never taken for the session endpoint (the examples route only the
 * exact path).  The path is looked at with its dot segments removed, as
 * the server did to route it: "/health/../session/create/" is the session
 * endpoint.  A path of REQ_PATH_MAX bytes or more is never the check.
 */
#define REQ_HEALTH_SEGMENT "/health/"
#define REQ_PATH_MAX 4096

/*
 * POST /api/agent/v1/session/end/ (the session token ends its own
 * session), recognised the same way; the examples route only the exact
 * path, beside .../session/create/.
 */
#define REQ_END_SEGMENT "/session/end/"

/*
 * The scrape, GET /metrics: a path (the query cut off) ending in this,
 * and not the readiness check's.  The examples route exactly /metrics
 * here, from loopback only.
 */
#define REQ_METRICS_PATH "/metrics"

/* Scans a NULL-terminated "NAME=value" array; never fails. */
void	req_parse(char *const *envp, struct req *r);

#endif
