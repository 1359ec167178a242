/*
 * status — the one table of outcomes.  The HTTP status and the
 * status_description of each are defined only in status.c, and answers are
 * written only from there (see resp.c).
 *
 * How an outcome travels, the one way through lib/ and the programs:
 *  - a step of a request that can fail returns enum otas_status: OTAS_OK,
 *    or an error for which it points *why at a static string for the log
 *    (the detail the client is not told, never a key, a secret or a
 *    token); the caller passes it on, and the program turns the last
 *    step's OTAS_OK into its answer (OTAS_CREATED, OTAS_ENDED, ...);
 *  - a pure syntax check (key_parse, uuid_valid, a decimal) answers 0/-1
 *    or 1/0 and leaves the status to its caller, who knows what the
 *    failure means there; any other int is 0 or -1 (failed), a count
 *    or -1, or 1/0 for found/not found; 1 beside 0 and -1 only as a third
 *    outcome its header names (version_answer, start_program: "done,
 *    exit 0"), and serve() alone returns the process's exit status;
 *  - at start-up, config_load writes its message into the caller's buffer
 *    (it names the setting at fault); start_program logs it and the
 *    program exits.
 * Every line a server-side program writes goes through log.c: one per
 * request with its *why (log_request), free-form lines (log_msg: the
 * first line, database trouble, where db.c adds libpq's own message, which
 * no static *why can carry), and the reason it stops before its first
 * request (log_fail).  otas-admin, a command for a person, prints its
 * errors with fail() (bin/admin/util.c) and exits with their code.
 */
#ifndef OTAS_STATUS_H
#define OTAS_STATUS_H

/*
 * A step's verdict and the answer to send are named apart: OTAS_OK is a
 * step that succeeded (verify_key, token_verify, body_read, db_run...), no
 * answer by itself; it lies outside the table, so status_info maps it to
 * 500 as any value outside, and a verdict passed on as an answer by
 * mistake is never a 200.  The program turns it into its answer
 * (OTAS_CREATED, OTAS_ENDED, OTAS_ALLOWED).
 */
enum otas_status {
	OTAS_OK = -1,		/* a step succeeded: not an answer */
	OTAS_CREATED = 0,	/* 200 agent_session_created */
	OTAS_ALLOWED,		/* 200 ok: otas-authz let it through, otas-echo */
	OTAS_ERR_METHOD,	/* 405 method_not_allowed */
	OTAS_ERR_KEY,		/* 401 invalid_agent_key */
	OTAS_ERR_TOO_LARGE,	/* 413 payload_too_large */
	OTAS_ERR_JSON,		/* 400 invalid_json */
	OTAS_ERR_META,		/* 400 invalid_meta */
	OTAS_ERR_UNAVAILABLE,	/* 503 service_unavailable */
	OTAS_ERR_SERVER,	/* 500 server_error */
	OTAS_ERR_TOKEN,		/* 401 invalid_session_token */
	OTAS_ERR_IDEM_KEY,	/* 400 invalid_idempotency_key */
	OTAS_ERR_IDEM_IN_FLIGHT, /* 409 idempotency_key_in_flight */
	OTAS_ERR_IDEM_REUSED,	/* 422 idempotency_key_reused */
	OTAS_READY,		/* 200 ready (readiness check) */
	OTAS_ERR_SCHEMA,	/* 503 schema_not_current (readiness check) */
	OTAS_ERR_RATE_LIMITED,	/* 429 rate_limited: the agent's limit */
	OTAS_ENDED,		/* 200 agent_session_ended (session/end/) */
	OTAS_STATUS_COUNT
};

struct otas_status_info {
	int		 http;		/* HTTP status code */
	const char	*reason;	/* HTTP reason phrase */
	const char	*code;		/* status_description in the body */
};

/* Whether st is an answer of success (the body's "status": 1). */
int	status_ok(enum otas_status st);

/*
 * Never NULL: an out-of-range value, OTAS_OK among them, maps to
 * OTAS_ERR_SERVER's entry.
 */
const struct otas_status_info *status_info(enum otas_status st);

#endif
