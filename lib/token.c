/*
 * token — signs the session JWT with OpenSSL's HMAC, verifies any JWT with
 * libjwt 1.10.
 *
 * Signing is on the hot path of every session, and libjwt spent about half
 * of the responder's CPU there (jansson objects, libb64, and an HMAC that
 * looks its digest up again on every call).  What we sign is always the
 * same shape — a fixed header and four claims we made ourselves, two
 * checked uuids and two integers — so the text is formatted here exactly as
 * libjwt would print it (compact, keys sorted), and a keyed HMAC context
 * made once per secret is copied for each token.  Verifying takes tokens
 * from outside, so that stays with libjwt, which also cross-checks every
 * token made here in the tests.
 *
 * libjwt 1.10 trusts the token for its algorithm, skips the signature check
 * when the key length is 0, alloca()s segments as long as the token, and
 * validates no claim (platform-notes §1).  So token_verify screens the text
 * before libjwt sees it (length, alphabet, two dots), refuses an unusable
 * secret itself, insists on HS256 afterwards, and reads every claim with
 * its JSON type checked: a string "exp" or a real 2e9 would otherwise read
 * as 0 with errno 0.  Nothing here is static and mutable, and each call
 * owns its jwt_t, so threads may sign and verify at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "token.h"

/* A secret libjwt will really check a signature with. */
static int
token_secret_ok(const struct otas_secret *s)
{
	return s != NULL && s->bytes != NULL && s->len >= CONFIG_SECRET_MIN &&
	    s->len <= INT_MAX;
}

static int
token_claims_ok(const struct token_claims *c)
{
	return uuid_valid(c->session_id, strnlen(c->session_id,
	    sizeof(c->session_id))) &&
	    uuid_valid(c->agent_id, strnlen(c->agent_id,
	    sizeof(c->agent_id))) &&
	    c->iat > 0 && c->exp > 0 && c->iat <= LONG_MAX &&
	    c->exp <= LONG_MAX;
}

struct token_signer {
	EVP_MAC_CTX	*keyed;		/* HMAC-SHA256 with the secret, ready */
};

/* base64url's header of {"alg":"HS256","typ":"JWT"}, as libjwt writes it. */
#define TOKEN_HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

struct token_signer *
token_signer_new(const struct otas_secret *secret)
{
	struct token_signer	*ts;
	EVP_MAC			*mac;
	OSSL_PARAM		 params[2];
	char			 digest[] = "SHA256";

	if (!token_secret_ok(secret) ||
	    (ts = calloc(1, sizeof(*ts))) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
	    (ts->keyed = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(ts->keyed, secret->bytes, secret->len, params) == 1) {
		EVP_MAC_free(mac);
		return ts;
	}
	EVP_MAC_free(mac);
	token_signer_free(ts);
	return NULL;
}

void
token_signer_free(struct token_signer *ts)
{
	if (ts == NULL)
		return;
	EVP_MAC_CTX_free(ts->keyed);
	free(ts);
}

/* RFC 4648 §5 without padding; out needs 4 * ((n + 2) / 3) + 1 bytes. */
static size_t
token_b64url(const unsigned char *in, size_t n, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = abc[in[i] >> 2];
		out[o++] = abc[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = abc[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		out[o++] = abc[in[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = abc[in[i] >> 2];
		out[o++] = abc[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = abc[in[i] >> 2];
		out[o++] = abc[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = abc[(in[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

/* HMAC-SHA256 of msg[0..len) into out (32 bytes); 0 or -1. */
static int
token_hmac(const struct token_signer *ts, const char *msg, size_t len,
    unsigned char out[32])
{
	EVP_MAC_CTX	*ctx;
	size_t		 n = 0;
	int		 ok;

	if ((ctx = EVP_MAC_CTX_dup(ts->keyed)) == NULL)
		return -1;
	ok = EVP_MAC_update(ctx, (const unsigned char *)msg, len) == 1 &&
	    EVP_MAC_final(ctx, out, &n, 32) == 1 && n == 32;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

char *
token_signer_sign(const struct token_signer *ts, const struct token_claims *c)
{
	char		 claims[192], tok[512];
	unsigned char	 mac[32];
	size_t		 len;
	int		 n;

	if (ts == NULL || c == NULL || !token_claims_ok(c))
		return NULL;
	/* jansson's compact form with sorted keys, as libjwt prints claims. */
	n = snprintf(claims, sizeof(claims), "{\"agent_id\":\"%s\","
	    "\"agent_session_id\":\"%s\",\"exp\":%lld,\"iat\":%lld}",
	    c->agent_id, c->session_id, c->exp, c->iat);
	if (n < 0 || (size_t)n >= sizeof(claims))
		return NULL;
	len = sizeof(TOKEN_HEADER_B64) - 1;
	memcpy(tok, TOKEN_HEADER_B64 ".", len + 1);
	len++;
	len += token_b64url((const unsigned char *)claims, (size_t)n,
	    tok + len);
	if (token_hmac(ts, tok, len, mac) == -1)
		return NULL;
	tok[len++] = '.';
	len += token_b64url(mac, sizeof(mac), tok + len);
	return strdup(tok);
}

char *
token_sign(const struct token_claims *c, const struct otas_secret *secret)
{
	struct token_signer	*ts;
	char			*tok;

	if ((ts = token_signer_new(secret)) == NULL)
		return NULL;
	tok = token_signer_sign(ts, c);
	token_signer_free(ts);
	return tok;
}

static int
token_b64url_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

/*
 * The compact JWS shape: three non-empty base64url segments.  libb64 would
 * skip stray bytes while decoding, so they are refused here instead.
 */
static const char *
token_screen(const char *tok, size_t len)
{
	size_t	 i, dots = 0, seg = 0;

	if (tok == NULL || len == 0)
		return "empty";
	if (len > TOKEN_MAX_LEN)
		return "too long";
	for (i = 0; i < len; i++) {
		if (tok[i] == '.') {
			if (seg == 0)
				return "empty segment";
			dots++;
			seg = 0;
		} else if (token_b64url_char((unsigned char)tok[i]))
			seg++;
		else
			return "byte outside base64url";
	}
	if (dots != 2)
		return "not three segments";
	if (seg == 0)
		return "empty segment";
	return NULL;
}

/*
 * A positive JSON integer, as jansson prints one: digits only, no leading
 * zero.  Strings arrive quoted and reals with '.' or 'e', so both fail.
 */
static int
token_json_posint(const char *js, long long *v)
{
	char		*end;
	long long	 n;
	size_t		 i;

	if (js == NULL || js[0] < '1' || js[0] > '9')
		return -1;
	for (i = 1; js[i] != '\0'; i++)
		if (js[i] < '0' || js[i] > '9')
			return -1;
	errno = 0;
	n = strtoll(js, &end, 10);
	if (errno != 0 || *end != '\0' || n <= 0)
		return -1;
	*v = n;
	return 0;
}

static int
token_int_claim(jwt_t *jwt, const char *name, long long *v)
{
	char	*js;
	int	 rc;

	js = jwt_get_grants_json(jwt, name);
	rc = token_json_posint(js, v);
	free(js);
	return rc;
}

static int
token_uuid_claim(jwt_t *jwt, const char *name, char out[UUID_STR_LEN + 1])
{
	const char	*s;
	size_t		 len;

	if ((s = jwt_get_grant(jwt, name)) == NULL)
		return -1;
	len = strlen(s);
	if (!uuid_valid(s, len))
		return -1;
	memcpy(out, s, len + 1);
	return 0;
}

/* a - b and a + b, clamped instead of overflowing. */
static long long
token_sub(long long a, long long b)
{
	long long	 r;

	return __builtin_sub_overflow(a, b, &r) ? LLONG_MIN : r;
}

static long long
token_add(long long a, long long b)
{
	long long	 r;

	return __builtin_add_overflow(a, b, &r) ? LLONG_MAX : r;
}

/* Everything after the signature: algorithm, then each claim's type. */
static const char *
token_check(jwt_t *jwt, long long now, long leeway, struct token_claims *c)
{
	const char	*alg;

	/* Exact "HS256", as PyJWT wants; libjwt also takes "hs256". */
	alg = jwt_get_header(jwt, "alg");
	if (jwt_get_alg(jwt) != JWT_ALG_HS256 || alg == NULL ||
	    strcmp(alg, "HS256") != 0)
		return "algorithm not HS256";
	if (token_int_claim(jwt, "exp", &c->exp) == -1)
		return "bad claim exp";
	if (token_int_claim(jwt, "iat", &c->iat) == -1)
		return "bad claim iat";
	if (leeway < 0)
		leeway = 0;
	if (c->exp <= token_sub(now, leeway))
		return "expired";
	if (c->iat > token_add(now, leeway))
		return "issued in the future";
	if (token_uuid_claim(jwt, "agent_session_id", c->session_id) == -1)
		return "bad claim agent_session_id";
	if (token_uuid_claim(jwt, "agent_id", c->agent_id) == -1)
		return "bad claim agent_id";
	return NULL;
}

int
token_verify(const char *tok, size_t len, const struct otas_secret *secret,
    const struct otas_secret *previous, long long now, long leeway,
    struct token_claims *out, const char **why)
{
	char			 buf[TOKEN_MAX_LEN + 1];
	struct token_claims	 c;
	jwt_t			*jwt = NULL;
	const char		*reason;

	memset(&c, 0, sizeof(c));
	if (!token_secret_ok(secret))
		reason = "no usable secret";
	else
		reason = token_screen(tok, len);
	if (reason == NULL) {
		memcpy(buf, tok, len);
		buf[len] = '\0';
		/* A short previous secret is never tried: see above. */
		if (jwt_decode(&jwt, buf, secret->bytes,
		    (int)secret->len) != 0) {
			jwt = NULL;
			if (token_secret_ok(previous) &&
			    jwt_decode(&jwt, buf, previous->bytes,
			    (int)previous->len) != 0)
				jwt = NULL;
		}
		if (jwt == NULL)
			reason = "bad signature";
		else
			reason = token_check(jwt, now, leeway, &c);
		jwt_free(jwt);
	}
	if (why != NULL)
		*why = reason != NULL ? reason : "ok";
	if (reason != NULL)
		return -1;
	if (out != NULL)
		*out = c;
	return 0;
}
