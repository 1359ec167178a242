/*
 * otas-authz — checks X-OTAS-AGENT-SESSION-TOKEN in front of any protected
 * URL (SPEC §6).  Served as a FastCGI Authorizer (lighttpd "mode" =>
 * "authorizer", Apache FcgidAccessChecker or mod_authnz_fcgi) and answers
 * exactly the same as a responder (nginx auth_request), so the role is only
 * logged: 200 with Variable-OTAS_* headers, which the web server hands to
 * the protected program as environment variables, or 401 with the JSON
 * error.  The request path:
 *   header present exactly once, token (token_verify does every check),
 *   then, with OTAS_AUTHZ_CHECK_DB=1, the session row and its agent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "serve.h"
#include "session_check.h"
#include "token.h"
#include "version.h"

#define AUTHZ_OK_BODY "{\"status\": 1, \"status_description\": \"ok\"}"

struct app {
	struct otas_config	 cfg;
	struct session_check	*sc;		/* NULL unless OTAS_AUTHZ_CHECK_DB */
};

static long long
monotonic_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

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
	    &app->cfg.jwt_previous, (long long)time(NULL),
	    app->cfg.token_leeway, tc, why) == -1)
		return OTAS_ERR_TOKEN;
	if (app->sc == NULL)
		return OTAS_OK;
	return session_check(app->sc, tc->session_id, tc->agent_id,
	    monotonic_sec(), why);
}

/*
 * 200 and the three variables, and nothing else a client could see twice:
 * mod_fcgid merges an access checker's headers into the protected answer,
 * so Cache-Control here would come out as "no-store, no-store" next to the
 * protected program's own.  (The Variable-* headers themselves leak there;
 * apache.conf.example unsets them.)  The body is for curl users only.
 */
static int
send_allow(struct conn *c, const struct token_claims *tc)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf), "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Variable-OTAS_AGENT_SESSION_ID: %s\r\n"
	    "Variable-OTAS_AGENT_ID: %s\r\n"
	    "Variable-OTAS_SESSION_EXPIRES: %lld\r\n"
	    "Content-Length: %zu\r\n\r\n%s", tc->session_id, tc->agent_id,
	    tc->exp, strlen(AUTHZ_OK_BODY), AUTHZ_OK_BODY);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -2;
	return conn_write(c, buf, (size_t)n);
}

static void
handle(struct conn *c, void *arg)
{
	struct app *app = arg;
	struct token_claims tc;
	struct resp resp;
	struct req rq;
	struct log_req line;
	enum otas_status st;
	const char *why = "";
	long long t0 = log_now_usec();
	int http = 0, rc;

	memset(&tc, 0, sizeof(tc));
	req_parse(c->envp, &rq);
	st = authorize(app, &rq, &tc, &why);
	if (st == OTAS_OK) {
		http = 200;
		if ((rc = send_allow(c, &tc)) == -2) {
			/* Cannot happen with validated claims; fail closed. */
			st = OTAS_ERR_SERVER;
			why = "allow answer did not fit";
		} else if (rc == -1)
			why = "client gone before the answer";
	}
	if (st != OTAS_OK) {
		resp_error(&resp, st);
		resp_send(&resp, c);
		http = resp.http;
	}

	memset(&line, 0, sizeof(line));
	line.id = rq.id;
	line.http = http;
	line.code = st == OTAS_OK ? (c->authorizer ? "authorized" :
	    "authorized_as_responder") : status_info(st)->code;
	line.agent_id = tc.agent_id[0] != '\0' ? tc.agent_id : NULL;
	line.usec = log_now_usec() - t0;
	line.why = why;
	log_request(&line);
}

int
main(int argc, char *argv[])
{
	struct app app;
	char err[512];
	int rc;

	if ((rc = version_answer("otas-authz", argc, argv)) != -1)
		return rc;
	memset(&app, 0, sizeof(app));
	log_init("otas-authz");
	if (config_load(&app.cfg, argv[0], CONFIG_NEED_SECRET, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "otas-authz: %s\n", err);
		return 1;
	}
	log_start(&app.cfg);
	if (app.cfg.authz_check_db &&
	    (app.sc = session_check_new(&app.cfg, "otas-authz")) == NULL) {
		fprintf(stderr, "otas-authz: out of memory\n");
		config_free(&app.cfg);
		return 1;
	}
	rc = serve(app.cfg.max_requests, 1, handle, &app);
	session_check_free(app.sc);
	config_free(&app.cfg);
	return rc;
}
