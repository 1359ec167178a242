/*
 * token — the session JWT: HS256 only, claims agent_session_id, agent_id,
 * iat, exp, signed and verified with OpenSSL's HMAC (no libjwt: see
 * token.c).
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
 * Signs c with HS256: header {"alg":"HS256","typ":"JWT"}, claims exactly
 * agent_id, agent_session_id, exp, iat, byte for byte what libjwt would
 * make.  Returns a malloc'd token (release with free()) or NULL when a
 * claim is malformed or signing fails.
 */
char	*token_signer_sign(const struct token_signer *ts,
	    const struct token_claims *c);

/*
 * Verifies tok[0..len) (need not be NUL-terminated) against secret, then
 * previous (which may be NULL or empty).  Returns OTAS_OK and fills out
 * (when not NULL) when the token is HS256, correctly signed, both uuid
 * claims well formed, iat and exp integers with iat <= now + leeway and
 * exp > now - leeway.  Otherwise OTAS_ERR_TOKEN, with *why a static reason
 * for the log (never the token).
 */
enum otas_status token_verify(const char *tok, size_t len,
	    const struct otas_secret *secret,
	    const struct otas_secret *previous, long long now, long leeway,
	    struct token_claims *out, const char **why);

/*
 * The text rules token_verify applies before any signature or JSON: at
 * most TOKEN_MAX_LEN bytes, three canonical base64url segments, header and
 * claims printable ASCII with no escape of NUL or a surrogate and no run of
 * 19 digits.  OTAS_OK when tok passes, else OTAS_ERR_TOKEN and *why.
 * Exported for the differential fuzz target and the libjwt oracle, which
 * apply the same rules before libjwt.
 */
enum otas_status token_screen(const char *tok, size_t len, const char **why);

#endif
