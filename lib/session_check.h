/*
 * session_check — otas-authz's optional database mode (OTAS_AUTHZ_CHECK_DB):
 * a token that verifies is accepted only while its session row exists, has
 * not ended (ended_at, sql/005) and its agent is active.  Positive answers
 * are remembered per process for up to OTAS_AUTHZ_CACHE_SECONDS in a small
 * fixed table, so a busy agent costs one query every few seconds, not one
 * per call; a negative answer is never remembered, so a session that
 * appears later is accepted at once.
 *
 * The cache learns of every change at once: a second connection LISTENs
 * for the NOTIFY that sql/005's triggers send when a session ends or an
 * agent is disabled, and it is read, without waiting, before the cache is
 * consulted on every request.  While that connection is down nothing is
 * remembered, and when it is lost or made anew the whole cache goes.
 *
 * The query and what its answers mean are here, on otas-authz's own
 * connection (db.c).  With OTAS_AUTHZ_DATABASE_URL (standbys, say) the
 * question goes there first, and a session it does not know is asked of
 * OTAS_DATABASE_URL: a standby lagging behind the primary never refuses a
 * session created a moment ago.  What a notification named is asked of the
 * primary for a minute (session_check.c), so a standby that has not yet
 * replayed an end does not let the session through.
 */
#ifndef OTAS_SESSION_CHECK_H
#define OTAS_SESSION_CHECK_H

#include "config.h"
#include "status.h"

#define SESSION_CACHE_SLOTS 256	/* positive answers remembered at most */

struct session_check;

/* Never connects; returns NULL only when out of memory.  cfg must outlive. */
struct session_check *session_check_new(const struct otas_config *cfg,
		    const char *app_name);
void		 session_check_free(struct session_check *sc);

/*
 * Whether session_id (a well-formed uuid) exists with agent_id and that
 * agent is active; now is in seconds on a monotonic clock (the cache's
 * only use of it, so a wall clock set back cannot stretch an entry's life).
 * Returns OTAS_OK; OTAS_ERR_TOKEN when not; OTAS_ERR_UNAVAILABLE when the
 * database cannot say; OTAS_ERR_SERVER when the statement itself fails.
 * *why gets a static reason for the log.
 */
enum otas_status session_check(struct session_check *sc,
		    const char *session_id, const char *agent_id, long long now,
		    const char **why);

#endif
