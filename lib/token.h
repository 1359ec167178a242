/*
 * token — the session JWT: HS256 only, claims agent_session_id, agent_id,
 * iat, exp.  libjwt 1.10 takes the algorithm from the token and validates no
 * claim, so token_verify does every check itself (see platform-notes §1).
 */
#ifndef OTAS_TOKEN_H
#define OTAS_TOKEN_H

#include <stddef.h>

#include "config.h"
#include "uuid.h"

#define TOKEN_MAX_LEN 4096	/* refused before libjwt, which alloca()s it */

struct token_claims {
	char		session_id[UUID_STR_LEN + 1];
	char		agent_id[UUID_STR_LEN + 1];
	long long	iat;
	long long	exp;
};

/*
 * Signs c with HS256 and secret; returns a malloc'd token (release with
 * free()) or NULL on failure.
 */
char	*token_sign(const struct token_claims *c,
	    const struct otas_secret *secret);

/*
 * Verifies tok[0..len) (need not be NUL-terminated) against secret, then
 * previous (which may be NULL or empty).  Returns 0 and fills out when the
 * token is HS256, correctly signed, both uuid claims well formed, iat and exp
 * integers with iat <= now + leeway and exp > now - leeway.  Otherwise
 * returns -1 and points *why at a static reason for the log (never the
 * token).
 */
int	token_verify(const char *tok, size_t len,
	    const struct otas_secret *secret,
	    const struct otas_secret *previous, long long now, long leeway,
	    struct token_claims *out, const char **why);

#endif
