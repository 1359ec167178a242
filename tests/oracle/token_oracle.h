/*
 * token_oracle — the verdict libjwt 1.10 gives a session token, with the
 * checks the programs apply on top of it, as the independent oracle that
 * tests/unit/test_token.c and tests/fuzz/fuzz_token_diff.c hold our
 * verifier (lib/token.c) against.  It is how the programs verified tokens
 * before they stopped linking libjwt: libjwt checks the signature and
 * parses with jansson; then "alg" must be exactly HS256, exp and iat
 * positive JSON integers (read as JSON text, since jwt_get_grant_int reads
 * a string or a real as 0), the times within the leeway, and both uuid
 * claims well formed.  token_screen's text rules come first on both sides:
 * outside them json-c and jansson read JSON differently, by design of each.
 *
 * A header of static functions because two test programs, built by
 * different scripts, include it; nothing in lib/ may.
 */
#ifndef OTAS_TOKEN_ORACLE_H
#define OTAS_TOKEN_ORACLE_H

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>

#include "config.h"
#include "token.h"
#include "uuid.h"

static int
oracle_secret_ok(const struct otas_secret *s)
{
	return s != NULL && s->bytes != NULL && s->len >= CONFIG_SECRET_MIN &&
	    s->len <= INT_MAX;
}

/* A positive integer as jansson prints one: digits, no leading zero. */
static int
oracle_int_claim(jwt_t *jwt, const char *name, long long *v)
{
	char		*js, *end;
	size_t		 i;
	int		 ok;

	if ((js = jwt_get_grants_json(jwt, name)) == NULL)
		return -1;
	ok = js[0] >= '1' && js[0] <= '9';
	for (i = 1; ok && js[i] != '\0'; i++)
		ok = js[i] >= '0' && js[i] <= '9';
	if (ok)
		*v = strtoll(js, &end, 10);
	free(js);
	return ok ? 0 : -1;
}

static int
oracle_uuid_claim(jwt_t *jwt, const char *name, char out[UUID_STR_LEN + 1])
{
	const char	*s = jwt_get_grant(jwt, name);

	if (s == NULL || !uuid_valid(s, strlen(s)))
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int
oracle_check(jwt_t *jwt, long long now, long leeway, struct token_claims *c)
{
	const char	*alg = jwt_get_header(jwt, "alg");

	if (jwt_get_alg(jwt) != JWT_ALG_HS256 || alg == NULL ||
	    strcmp(alg, "HS256") != 0)
		return -1;
	if (oracle_int_claim(jwt, "exp", &c->exp) == -1 ||
	    oracle_int_claim(jwt, "iat", &c->iat) == -1)
		return -1;
	if (leeway < 0)
		leeway = 0;
	/* Times a test uses are far from overflowing. */
	if (c->exp <= now - leeway || c->iat > now + leeway)
		return -1;
	if (oracle_uuid_claim(jwt, "agent_session_id", c->session_id) == -1 ||
	    oracle_uuid_claim(jwt, "agent_id", c->agent_id) == -1)
		return -1;
	return 0;
}

/* token_verify's contract, answered by libjwt: 0 and *out, or -1. */
static int
oracle_verify(const char *tok, size_t len, const struct otas_secret *cur,
    const struct otas_secret *prev, long long now, long leeway,
    struct token_claims *out)
{
	char		 buf[TOKEN_MAX_LEN + 1];
	const char	*why;
	jwt_t		*jwt = NULL;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (!oracle_secret_ok(cur) || token_screen(tok, len, &why) != OTAS_OK)
		return -1;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	if (jwt_decode(&jwt, buf, cur->bytes, (int)cur->len) != 0) {
		jwt = NULL;
		if (oracle_secret_ok(prev) && jwt_decode(&jwt, buf,
		    prev->bytes, (int)prev->len) != 0)
			jwt = NULL;
	}
	if (jwt == NULL)
		return -1;
	rc = oracle_check(jwt, now, leeway, out);
	jwt_free(jwt);
	return rc;
}

#endif
