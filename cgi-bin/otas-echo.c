/*
 * otas-echo — the small protected program at /api/some/v1/endpoint/ that
 * shows an OTAS backend behind otas-authz: it answers, as JSON, the three
 * variables the web server copied from the authorizer's Variable-* headers
 * (OTAS_AGENT_SESSION_ID, OTAS_AGENT_ID, OTAS_SESSION_EXPIRES).
 *
 * It trusts the web server, not the client: a client header arrives with
 * an HTTP_ prefix and can never set these names.  Still, each value is
 * validated (uuid, decimal) before it is printed, so nothing unescaped
 * reaches the JSON, and a missing or repeated variable — otas-authz not in
 * front, a misconfigured server — is a 500, never an open door.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "decimal.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "serve.h"
#include "start.h"
#include "uuid.h"

enum { V_SESSION, V_AGENT, V_EXPIRES, V_COUNT };

static const char *const var_name[V_COUNT] = {
	"OTAS_AGENT_SESSION_ID", "OTAS_AGENT_ID", "OTAS_SESSION_EXPIRES"
};

struct vars {
	const char	*v[V_COUNT];
	int		 count[V_COUNT];
	long long	 expires;
};

static void
vars_scan(char *const *envp, struct vars *vs)
{
	size_t n;
	int i;

	memset(vs, 0, sizeof(*vs));
	for (; envp != NULL && *envp != NULL; envp++)
		for (i = 0; i < V_COUNT; i++) {
			n = strlen(var_name[i]);
			if (strncmp(*envp, var_name[i], n) == 0 &&
			    (*envp)[n] == '=') {
				vs->v[i] = *envp + n + 1;
				vs->count[i]++;
			}
		}
}

static enum otas_status
vars_check(struct vars *vs, const char **why)
{
	int i;

	for (i = 0; i < V_COUNT; i++)
		if (vs->count[i] != 1) {
			*why = "authorizer variables missing or repeated: is "
			    "otas-authz in front?";
			return OTAS_ERR_SERVER;
		}
	if (!uuid_valid(vs->v[V_SESSION], strlen(vs->v[V_SESSION])) ||
	    !uuid_valid(vs->v[V_AGENT], strlen(vs->v[V_AGENT]))) {
		*why = "authorizer variable is not a uuid";
		return OTAS_ERR_SERVER;
	}
	/* Positive, as otas-authz prints it: no sign, no leading zero. */
	if (vs->v[V_EXPIRES][0] == '0' || decimal_parse(vs->v[V_EXPIRES],
	    strlen(vs->v[V_EXPIRES]), 1, LLONG_MAX, &vs->expires) == -1) {
		*why = "OTAS_SESSION_EXPIRES is not a decimal";
		return OTAS_ERR_SERVER;
	}
	return OTAS_OK;
}

static void
handle(struct conn *c, void *arg)
{
	struct resp resp;
	struct req rq;
	struct vars vs;
	const char *why = "ok";
	long long t0 = clock_mono_usec();

	(void)arg;
	req_parse(c->envp, &rq);
	vars_scan(c->envp, &vs);
	if (vars_check(&vs, &why) == OTAS_OK)
		resp_echo(&resp, vs.v[V_SESSION], vs.v[V_AGENT], vs.expires);
	else
		resp_error(&resp, OTAS_ERR_SERVER);
	resp_send(&resp, c);

	log_request(&(struct log_req){ .id = rq.id, .http = resp.http,
	    .code = status_info(resp.st)->code,
	    .agent_id = status_ok(resp.st) ? vs.v[V_AGENT] : NULL,
	    .usec = clock_mono_usec() - t0, .why = why });
}

int
main(int argc, char *argv[])
{
	int rc;

	if ((rc = start_program("otas-echo", argc, argv, NULL, 0)) != 0)
		return rc == 1 ? 0 : 1;
	return serve(0, 1, handle, NULL);
}
