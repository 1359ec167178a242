/*
 * token — the session JWT: HS256 only, claims agent_session_id, agent_id,
 * iat, exp, signed and verified with libjwt and the checks libjwt does not
 * make (see token.c).
 */
#ifndef OTAS_TOKEN_H
#define OTAS_TOKEN_H

#include <stddef.h>

#include "config.h"
#include "status.h"
#include "uuid.h"

#define TOKEN_MAX_LEN 4096	/* longer tokens are refused unread */

struct token_claims {
	char		session_id[UUID_STR_LEN + 1];
	char		agent_id[UUID_STR_LEN + 1];
	long long	iat;
	long long	exp;
};

/*
 * A secret made ready for signing once, at start: token_signer_new returns
 * NULL for a secret shorter than CONFIG_SECRET_MIN (or out of memory).  One
 * signer may sign from several threads at once.
 */
struct token_signer;

struct token_signer *token_signer_new(const struct otas_secret *secret);
void	token_signer_free(struct token_signer *ts);

/*
 * Signs c with libjwt, HS256: header {"alg":"HS256","typ":"JWT"}, claims
 * exactly agent_id, agent_session_id, exp, iat (compact, keys sorted).
 * Returns a malloc'd token (release with free()) or NULL when a claim is
 * malformed (a uuid not in lower-case canonical form, a time not
 * positive) or signing fails.
 */
char	*token_signer_sign(const struct token_signer *ts,
	    const struct token_claims *c);

/*
 * Verifies tok[0..len) (need not be NUL-terminated) against secret, then
 * previous (which may be NULL or empty).  Returns OTAS_OK and fills out
 * (when not NULL) when the token is HS256 with no "crit" header, correctly
 * signed, its JSON free of escapes and duplicate names, both uuid claims
 * canonical lower-case, iat and exp integers with iat <= now + leeway and
 * exp > now - leeway.  Otherwise OTAS_ERR_TOKEN, with *why a static reason
 * for the log (never the token).
 */
enum otas_status token_verify(const char *tok, size_t len,
	    const struct otas_secret *secret,
	    const struct otas_secret *previous, long long now, long leeway,
	    struct token_claims *out, const char **why);

/*
 * The text rules token_verify applies around libjwt: at most
 * TOKEN_MAX_LEN bytes, three canonical base64url segments, header and
 * claims JSON under tokjson's rules (printable ASCII, no escape, no
 * duplicate name, no run of 19 digits).  OTAS_OK when tok passes, else
 * OTAS_ERR_TOKEN and *why.  For the tests.
 */
enum otas_status token_screen(const char *tok, size_t len, const char **why);

#endif
