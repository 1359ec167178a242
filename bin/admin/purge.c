/*
 * purge — otas-admin session purge: sessions past their retention deleted
 * in batches, each batch its own short transaction, so the endpoint keeps
 * inserting while it runs and no lock is held for long.  The cut-off is
 * fixed once, at the start: rows inserted meanwhile are newer and never
 * qualify, so the loop ends.
 *
 * The retention is --older-than, else OTAS_SESSION_RETENTION; with
 * neither, no session is deleted (the package's daily timer runs it
 * unconditionally and relies on that).  Idempotency-Key records go when
 * they have expired (OTAS_IDEMPOTENCY_TTL), retention or not — a record is
 * some 770 bytes a key and nothing else would ever remove it — and when
 * their session is past the cut-off: a retry must never be answered with
 * a deleted session.
 *
 * Whether the role may delete is asked first, so the runtime role (which
 * may delete records but not sessions) gets one line saying what to
 * connect as instead of PostgreSQL's "permission denied" in a timer's log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "admin.h"

#define DEFAULT_BATCH	10000L
#define MAX_BATCH	1000000L

struct purge {
	char	 seconds[24];		/* the retention, as a parameter */
	char	 batch[24];
	long long batch_rows;		/* the same, as a number */
	char	 ttl[24];		/* OTAS_IDEMPOTENCY_TTL */
	char	*before;		/* the cut-off, ISO 8601 UTC */
	char	*before_exact;		/* the same, as PostgreSQL compares */
	long long sessions, records, batches;
	long long retention;		/* seconds; 0: no session goes */
	int	 dry_run;
};

/* The retention from --older-than or the setting; 0: purge is off. */
static int
purge_retention(const struct ctx *c, const char *arg, long long *secs)
{
	*secs = c->cfg.session_retention;
	if (arg == NULL)
		return 0;
	if (duration_parse(arg, strlen(arg), secs) == -1)
		return fail(EXIT_USAGE, "--older-than must be a whole number "
		    "and one unit (s, m, h, d, w), e.g. 90d: %s", arg);
	return 0;
}

static int
fmt_ll(char *buf, size_t cap, long long v)
{
	int n = snprintf(buf, cap, "%lld", v);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/*
 * The cut-off, once, by the database's clock ("-infinity" with no
 * retention: no session is past it), and whether this role may delete
 * what the purge deletes.
 */
static int
purge_cutoff(PGconn *conn, struct purge *p, int sessions)
{
	const char	*params[1] = { p->seconds };
	PGresult	*res;
	int		 rc = 0;

	if ((res = admin_query(conn, "SELECT " ISO("t") ", t::text,"
	    " current_user, has_table_privilege('agent_session', 'DELETE'),"
	    " has_table_privilege('otas_idempotency', 'DELETE') FROM"
	    " (SELECT CASE WHEN $1::bigint = 0 THEN '-infinity'::timestamptz"
	    " ELSE now() - make_interval(secs => $1::bigint) END AS t) s",
	    1, params)) == NULL)
		return EXIT_FAIL;
	if ((sessions && strcmp(PQgetvalue(res, 0, 3), "t") != 0) ||
	    strcmp(PQgetvalue(res, 0, 4), "t") != 0)
		rc = fail(EXIT_FAIL, "session purge: role %s may not delete %s; "
		    "connect as the tables' owner (OTAS_DATABASE_URL; the "
		    "Debian package: in /etc/otas-fcgi/purge.env)",
		    PQgetvalue(res, 0, 2), strcmp(PQgetvalue(res, 0, 4), "t")
		    != 0 ? "Idempotency-Key records" : "sessions");
	else if ((p->before = strdup(PQgetvalue(res, 0, 0))) == NULL ||
	    (p->before_exact = strdup(PQgetvalue(res, 0, 1))) == NULL)
		rc = fail(EXIT_FAIL, "out of memory");
	PQclear(res);
	return rc;
}

static int
purge_count(PGconn *conn, struct purge *p)
{
	const char	*params[2] = { p->before_exact, p->ttl };
	PGresult	*res;
	int		 rc;

	if ((res = admin_query(conn, "SELECT"
	    " (SELECT count(*) FROM agent_session WHERE created_at < $1),"
	    " (SELECT count(*) FROM otas_idempotency WHERE created_at <"
	    " greatest($1::timestamptz, now() - make_interval(secs =>"
	    " $2::bigint)))", 2, params)) == NULL)
		return EXIT_FAIL;
	rc = db_cell(res, 0, 0, &p->sessions) != 0 ||
	    db_cell(res, 0, 1, &p->records) != 0 ? EXIT_FAIL : 0;
	PQclear(res);
	return rc;
}

/*
 * One batch: sql with the first n of (cut-off, batch size, TTL) as its
 * parameters, in its own transaction (autocommit).  Returns 0 with *done
 * the rows it deleted, or an exit code.
 */
static int
purge_batch(PGconn *conn, const struct purge *p, const char *sql, int n,
    long long *done)
{
	const char	*params[3] = { p->before_exact, p->batch, p->ttl };
	PGresult	*res;
	int		 rc;

	if ((res = admin_query(conn, sql, n, params)) == NULL)
		return EXIT_FAIL;
	rc = db_rows(res, done);
	PQclear(res);
	return rc;
}

static int
purge_delete(PGconn *conn, struct purge *p)
{
	long long	 full = p->batch_rows, n;
	int		 rc;

	/* Oldest first, by the created_at index (migration 003). */
	do {
		if (p->retention == 0)
			break;
		if ((rc = purge_batch(conn, p, "DELETE FROM agent_session"
		    " WHERE id IN (SELECT id FROM agent_session"
		    " WHERE created_at < $1 ORDER BY created_at"
		    " LIMIT $2::int)", 2, &n)) != 0)
			return rc;
		p->sessions += n;
		p->batches += n > 0;
	} while (n == full);
	do {
		if ((rc = purge_batch(conn, p, "DELETE FROM otas_idempotency"
		    " WHERE ctid IN (SELECT ctid FROM otas_idempotency"
		    " WHERE created_at < greatest($1::timestamptz, now() -"
		    " make_interval(secs => $3::bigint))"
		    " ORDER BY created_at LIMIT $2::int)", 3, &n)) != 0)
			return rc;
		p->records += n;
	} while (n == full);
	return 0;
}

static void
purge_print(const struct ctx *c, const struct purge *p, long long secs)
{
	struct out	 o;
	const char	*verb = p->dry_run ? "would delete" : "deleted";

	out_start(&o, c);
	out_add(&o, "retention_seconds", secs == 0 ? NULL :
	    json_object_new_int64(secs));
	out_str(&o, "before", secs == 0 ? NULL : p->before);
	out_bool(&o, "dry_run", p->dry_run);
	out_int(&o, "sessions", p->sessions);
	out_int(&o, "idempotency_records", p->records);
	out_int(&o, "batches", p->batches);
	if (secs == 0)
		out_line(&o, "no retention set (OTAS_SESSION_RETENTION or "
		    "--older-than): no session purged; %s %lld expired "
		    "idempotency record%s", verb, p->records,
		    p->records == 1 ? "" : "s");
	else
		out_line(&o, "%s %lld session%s created before %s (%lld "
		    "batch%s), %lld idempotency record%s", verb, p->sessions,
		    p->sessions == 1 ? "" : "s", p->before, p->batches,
		    p->batches == 1 ? "" : "es", p->records,
		    p->records == 1 ? "" : "s");
	out_end(&o);
}

int
cmd_session_purge(struct ctx *c, struct args *a)
{
	const char	*bopt = opt(a, "batch");
	struct purge	 p;
	PGconn		*conn = NULL;
	long long	 secs;
	long		 batch = DEFAULT_BATCH;
	int		 rc;

	memset(&p, 0, sizeof(p));
	p.dry_run = opt(a, "dry-run") != NULL;
	if ((rc = purge_retention(c, opt(a, "older-than"), &secs)) != 0)
		return rc;
	if (bopt != NULL && decimal_long(bopt, 1, MAX_BATCH, &batch) == -1)
		return fail(EXIT_USAGE, "--batch must be a number from 1 to %ld",
		    MAX_BATCH);
	p.retention = secs;
	p.batch_rows = batch;
	if (fmt_ll(p.seconds, sizeof(p.seconds), secs) == -1 ||
	    fmt_ll(p.batch, sizeof(p.batch), batch) == -1 ||
	    fmt_ll(p.ttl, sizeof(p.ttl), c->cfg.idempotency_ttl) == -1)
		return fail(EXIT_FAIL, "internal: number buffer");
	rc = EXIT_FAIL;
	if ((conn = admin_connect(&c->cfg)) == NULL ||
	    purge_cutoff(conn, &p, secs != 0) != 0 ||
	    (p.dry_run ? purge_count(conn, &p) : purge_delete(conn, &p)) != 0)
		goto out;
	purge_print(c, &p, secs);
	rc = EXIT_OK;
out:
	PQfinish(conn);
	free(p.before);
	free(p.before_exact);
	return rc;
}
