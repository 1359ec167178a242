/*
 * db — the process's one PostgreSQL connection.  Opened lazily by the first
 * statement, re-opened after a failure; every wait is bounded
 * (connect_timeout, statement_timeout, and a client-side deadline in case
 * the server or a pooler never answers).  A statement that meets a dead
 * connection is retried once on a fresh one.
 *
 * Every wait of one db_run — connecting, authenticating, preparing, the
 * statement, the retry — ends by one deadline, cfg->db_deadline_ms after
 * the call: past it the connection is dropped and the caller gets
 * OTAS_ERR_UNAVAILABLE, so a silent server costs a request that much and
 * a process on SIGTERM no more.
 *
 * The statements themselves live with the code that knows what their rows
 * and their errors mean (agent_key.c, agent_session.c, session_check.c);
 * here each is only a name, its SQL and its number of parameters, prepared
 * on a connection the first time it runs there, so a program prepares only
 * what it runs.  With unnamed_statements set (PgBouncer 1.18 in transaction
 * pooling) nothing is prepared by name and no session setting is made: each
 * statement goes as one PQsendQueryParams.
 */
#ifndef OTAS_DB_H
#define OTAS_DB_H

#include <libpq-fe.h>

#include "config.h"
#include "status.h"

#define DB_MAX_STMTS	8	/* distinct statements one process runs */
#define DB_SQLSTATE_LEN	5

struct db;

/*
 * A statement: static, one per call site; name unique in the program.
 * after_loss, when set, is sent instead on the retry that follows a lost
 * answer (the connection died after the statement went out, so it may
 * have committed): a statement with the same parameters and rows that is
 * exact whether or not the first one took effect.
 */
struct db_stmt {
	const char	*name;
	const char	*sql;
	int		 nparams;
	const struct db_stmt *after_loss;
};

/*
 * Never connects; returns NULL only when out of memory.  db_new talks to
 * cfg->database_url (NULL: libpq's PG* defaults), db_new_at to url.
 */
struct db	*db_new(const struct otas_config *cfg, const char *app_name);
struct db	*db_new_at(const struct otas_config *cfg, const char *url,
		    const char *app_name);
void		 db_free(struct db *db);

/*
 * Runs stmt with params (text, NUL-terminated, stmt->nparams of them).
 *  OTAS_OK: *res holds the rows; the caller PQclear()s it.
 *  OTAS_ERR_UNAVAILABLE: the database cannot answer now (no connection,
 *    no answer before the deadline, a SQLSTATE that means "try later").
 *  OTAS_ERR_SERVER: the statement itself was refused; its SQLSTATE is in
 *    sqlstate (when not NULL) for the caller, who knows what it means.
 * *why is a static detail for the log on every failure.  Thread-safe: one
 * statement at a time per struct db.
 */
enum otas_status db_run(struct db *db, const struct db_stmt *stmt,
		    const char *const *params, PGresult **res,
		    char sqlstate[DB_SQLSTATE_LEN + 1], const char **why);

/*
 * db_run for a statement whose answer is only how many rows it returned
 * (an existence check, an UPDATE ... RETURNING): *rows on OTAS_OK, the
 * result freed.  Failures as db_run's.
 */
enum otas_status db_count(struct db *db, const struct db_stmt *stmt,
		    const char *const *params, int *rows, const char **why);

/*
 * A connection that only LISTENs (otas-authz's database mode): give it a
 * struct db of its own and run no statement on it.  What arrived is read
 * without blocking (PQconsumeInput) and each notification's payload is
 * handed to notified(arg, payload).  With sync, an empty query goes to
 * the server first and its answer is awaited (the usual deadline): every
 * notification of a change committed before then has arrived with it.
 * PostgreSQL sends a notification a little after the change's COMMIT has
 * returned to whoever made it, so without sync one in flight can be
 * missed by a request that follows at once.  Without a connection it
 * connects and sends LISTEN channel (a plain identifier).
 *  DB_LISTEN_SAME: the connection that listened before; nothing missed.
 *  DB_LISTEN_NEW:  (re)connected and listening just now: any notification
 *                  sent while there was no connection is lost for good.
 *  DB_LISTEN_DOWN: not listening (no connection, or it just died).
 */
enum db_listen { DB_LISTEN_SAME, DB_LISTEN_NEW, DB_LISTEN_DOWN };
enum db_listen	 db_listen(struct db *db, const char *channel, int sync,
		    void (*notified)(void *arg, const char *payload),
		    void *arg);

#endif
