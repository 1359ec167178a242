/*
 * limits — agent limit: an agent's own limit on session creation, in
 * otas_rate_limit (migration 004), which otas-session applies in the
 * statement that inserts each session.  RATE is lib/rate.c's spelling,
 * the same as OTAS_SESSION_RATE's; "default" removes the agent's own
 * limit, so OTAS_SESSION_RATE applies to it again.
 *
 * The limiter's state (otas_rate_state) belongs to otas-session.  What
 * the agent already spent is kept across a change, but never more than
 * the new burst holds: the state's debt is cut to the new bucket, so a
 * looser limit is not held back by the old one's long wait (at most one
 * burst's time) and a tighter one does not start with a full burst.
 * "off" forgets the state (nothing counts any more).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "rate.h"

/* The limit agent limit sets: RATE and --burst, or default (*own = 0). */
static int
limit_args(const struct args *a, struct rate *r, int *own)
{
	const char *rate = a->pos[1], *burst = opt(a, "burst");

	*own = strcmp(rate, "default") != 0;
	if (!*own || rate_parse(rate, strlen(rate), r) == -1) {
		if (*own)
			return fail(EXIT_USAGE, "RATE must be N/s, N/min, N/h "
			    "or N/d (N from 1 to %ld), off or default",
			    RATE_QUOTA_MAX);
		memset(r, 0, sizeof(*r));
	}
	if (burst == NULL)
		return 0;
	if (r->quota == 0)
		return fail(EXIT_USAGE, "--burst goes with a rate, not with %s",
		    rate);
	if (decimal_long(burst, 1, RATE_QUOTA_MAX, &r->burst) == -1)
		return fail(EXIT_USAGE, "--burst must be a number from 1 to %ld",
		    RATE_QUOTA_MAX);
	return 0;
}

/*
 * Writes the limit and cuts the state's debt to the bucket that now
 * applies (def: OTAS_SESSION_RATE, for "default"), in one transaction.
 */
static int
limit_store(PGconn *conn, const char *agent, const struct rate *r, int own,
    const struct rate *def)
{
	const struct rate *applies = own ? r : def;
	char q[24], w[24], b[24];
	const char *p[4] = { agent, q, w, b };
	PGresult *res;

	snprintf(q, sizeof(q), "%ld", applies->quota);	/* longs: they fit */
	snprintf(w, sizeof(w), "%ld", applies->window);
	snprintf(b, sizeof(b), "%ld", applies->burst);
	/* "off" is stored as a quota of 0 (window and burst 1: unused). */
	res = own ? admin_query(conn,
	    "INSERT INTO otas_rate_limit (agent_id, quota, window_seconds,"
	    " burst) VALUES ($1, $2::int, greatest($3::int, 1),"
	    " greatest($4::int, 1)) ON CONFLICT (agent_id) DO UPDATE SET"
	    " quota = EXCLUDED.quota, window_seconds = EXCLUDED.window_seconds,"
	    " burst = EXCLUDED.burst, updated_at = now()", 4, p) :
	    admin_query(conn, "DELETE FROM otas_rate_limit WHERE agent_id = $1",
	    1, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	res = applies->quota == 0 ? admin_query(conn,
	    "DELETE FROM otas_rate_state WHERE agent_id = $1", 1, p) :
	    admin_query(conn, "UPDATE otas_rate_state SET tat = least(tat,"
	    " now() + $4::int * ceil($3::int * 1000000.0 / $2::int) *"
	    " interval '1 microsecond') WHERE agent_id = $1", 4, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static void
limit_print(const struct ctx *c, const char *agent, const struct rate *r,
    int own)
{
	struct out o;
	char text[RATE_TEXT_MAX];

	if (rate_format(own ? r : &c->cfg.session_rate, text,
	    sizeof(text)) == -1)
		snprintf(text, sizeof(text), "?");
	out_start(&o, c);
	out_str(&o, "agent_id", agent);
	out_bool(&o, "own_limit", own);
	out_str(&o, "limit", text);
	if (own) {
		out_int(&o, "quota", r->quota);
		out_int(&o, "window_seconds", r->window);
		out_int(&o, "burst", r->burst);
		out_line(&o, "agent %s: session limit %s", agent, text);
	} else
		out_line(&o, "agent %s: session limit of OTAS_SESSION_RATE "
		    "(here %s)", agent, text);
	out_end(&o);
}

int
cmd_agent_limit(struct ctx *c, struct args *a)
{
	struct rate r;
	PGconn *conn;
	int rc, own, active;

	if ((rc = check_uuid("agent id", a->pos[0])) != 0 ||
	    (rc = limit_args(a, &r, &own)) != 0)
		return rc;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	if (admin_exec(conn, "BEGIN") == -1 ||
	    (rc = agent_find(conn, a->pos[0], 0, &active)) != 0 ||
	    limit_store(conn, a->pos[0], &r, own, &c->cfg.session_rate) == -1 ||
	    admin_exec(conn, "COMMIT") == -1) {
		PQfinish(conn);
		return rc != 0 ? rc : EXIT_FAIL;
	}
	PQfinish(conn);
	limit_print(c, a->pos[0], &r, own);
	return EXIT_OK;
}
