/*
 * otas-authz — checks X-OTAS-AGENT-SESSION-TOKEN in front of any protected
 * URL (doc/api.md, "otas-authz").  Served as a FastCGI
 * Authorizer (lighttpd "mode" => "authorizer", Apache FcgidAccessChecker or
 * mod_authnz_fcgi) and answers exactly the same as a responder (nginx
 * auth_request), so the role is only logged: 200 with Variable-OTAS_*
 * headers, which the web server hands to the protected program as
 * environment variables, or 401 with the JSON error.  The request path:
 *   header present exactly once, token (token_verify does every check),
 *   then, with OTAS_AUTHZ_CHECK_DB=1, the session row and its agent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "serve.h"
#include "start.h"
#include "session_check.h"
#include "token.h"

struct app {
	struct otas_config	 cfg;
	struct session_check	*sc;		/* NULL unless OTAS_AUTHZ_CHECK_DB */
};

static enum otas_status
authorize(struct app *app, const struct req *rq, struct token_claims *tc,
    const char **why)
{
	if (rq->token_count != 1) {
		*why = rq->token_count == 0 ? "no token header" :
		    "token header sent more than once";
		return OTAS_ERR_TOKEN;
	}
	if (token_verify(rq->token, rq->token_len, &app->cfg.jwt_secret,
	    &app->cfg.jwt_previous, clock_wall_sec(),
	    app->cfg.token_leeway, tc, why) != OTAS_OK)
		return OTAS_ERR_TOKEN;
	if (app->sc == NULL)
		return OTAS_OK;
	return session_check(app->sc, tc->session_id, tc->agent_id,
	    clock_mono_sec(), why);
}

static void
handle(struct conn *c, void *arg)
{
	struct app *app = arg;
	struct token_claims tc;
	struct resp resp;
	struct req rq;
	enum otas_status st;
	const char *why = "";
	long long t0 = clock_mono_usec();

	memset(&tc, 0, sizeof(tc));
	req_parse(c->envp, &rq);
	if ((st = authorize(app, &rq, &tc, &why)) == OTAS_OK)
		resp_allow(&resp, tc.session_id, tc.agent_id, tc.exp);
	else
		resp_error(&resp, st);
	if (resp.overflow)	/* cannot happen with validated claims */
		why = "allow answer did not fit";
	if (resp_send(&resp, c) == -1 && status_ok(resp.st))
		why = "client gone before the answer";

	/* The role is only logged: both answer the same. */
	log_request(&(struct log_req){ .id = rq.id, .http = resp.http,
	    .code = !status_ok(resp.st) ? status_info(resp.st)->code :
	    c->authorizer ? "authorized" : "authorized_as_responder",
	    .agent_id = tc.agent_id[0] != '\0' ? tc.agent_id : NULL,
	    .usec = clock_mono_usec() - t0, .why = why });
}

int
main(int argc, char *argv[])
{
	struct app app;
	int rc;

	memset(&app, 0, sizeof(app));
	if ((rc = start_program("otas-authz", argc, argv, &app.cfg,
	    CONFIG_NEED_SECRET)) != 0)
		return rc == 1 ? 0 : 1;
	if (app.cfg.authz_check_db &&
	    (app.sc = session_check_new(&app.cfg, "otas-authz")) == NULL) {
		log_fail("out of memory");
		config_free(&app.cfg);
		return 1;
	}
	rc = serve(app.cfg.max_requests, 1, handle, &app);
	session_check_free(app.sc);
	config_free(&app.cfg);
	return rc;
}
