/*
 * test_token — the session JWT: what token_signer_sign emits (the bytes
 * the hand-written signer made before libjwt did the signing, which PyJWT
 * makes too), and every way token_verify must say no.  Hostile tokens are
 * built here by hand (OpenSSL HMAC over OpenSSL's base64) or with libjwt's
 * other algorithms, so the checks do not depend on the signer's goodwill.
 * The last cases hold each verdict against the independent oracle of the
 * differential fuzz target (tests/oracle/token_oracle.h).  The same
 * program runs in the static build's terms too: see test_static.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "token.h"
#include "../oracle/token_oracle.h"

#define SID	"0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f"
#define AID	"6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
#define LEEWAY	60

static unsigned char key_cur[] = "current-secret-0123456789abcdef-xyz";
static unsigned char key_old[] = "previous-secret-0123456789abcdef-xyz";
static unsigned char key_bad[] = "someone-elses-secret-0123456789abcdef";
static unsigned char key_short[] = "short-secret-31-bytes-long-1234";

static const struct otas_secret cur = { key_cur, sizeof(key_cur) - 1 };
static const struct otas_secret old = { key_old, sizeof(key_old) - 1 };
static const struct otas_secret bad = { key_bad, sizeof(key_bad) - 1 };
static const struct otas_secret shrt = { key_short, sizeof(key_short) - 1 };

static long long
now_s(void)
{
	return (long long)time(NULL);
}

static struct token_claims
claims(long long iat, long long exp)
{
	struct token_claims	 c;

	memset(&c, 0, sizeof(c));
	memcpy(c.session_id, SID, sizeof(SID));
	memcpy(c.agent_id, AID, sizeof(AID));
	c.iat = iat;
	c.exp = exp;
	return c;
}

/* A token signed with secret as otas-session signs one (NULL: refused). */
static char *
sign(const struct token_claims *c, const struct otas_secret *secret)
{
	struct token_signer	*ts = token_signer_new(secret);
	char			*tok = token_signer_sign(ts, c);

	token_signer_free(ts);
	return tok;
}

/* base64url without padding, NUL-terminated, malloc'd. */
static char *
b64url(const unsigned char *in, size_t len)
{
	char	*out;
	int	 n, i, o = 0;

	out = malloc(4 * ((len + 2) / 3) + 1);
	assert_non_null(out);
	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	for (i = 0; i < n; i++) {
		if (out[i] == '=')
			break;
		out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[o] = '\0';
	return out;
}

/* Decodes one base64url segment of tok into a malloc'd string. */
static char *
segment(const char *tok, int which)
{
	const char	*p = tok, *e;
	char		*b64, *out;
	size_t		 len, i;
	int		 n;

	while (which-- > 0)
		p = strchr(p, '.') + 1;
	e = strchr(p, '.');
	len = e ? (size_t)(e - p) : strlen(p);
	b64 = calloc(1, len + 4);
	out = calloc(1, len + 4);
	assert_non_null(b64);
	assert_non_null(out);
	for (i = 0; i < len; i++)
		b64[i] = p[i] == '-' ? '+' : p[i] == '_' ? '/' : p[i];
	while (i % 4)
		b64[i++] = '=';
	n = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)b64,
	    (int)i);
	assert_true(n >= 0);
	out[n - (len % 4 == 2 ? 2 : len % 4 == 3 ? 1 : 0)] = '\0';
	free(b64);
	return out;
}

/*
 * A token from raw header and payload JSON, signed with HMAC-md over key,
 * or with an empty signature when md is NULL.
 */
static char *
craft(const char *head, const char *body, const EVP_MD *md,
    const struct otas_secret *key)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		*h, *b, *s, *tok;
	size_t		 cap;
	int		 n;

	h = b64url((const unsigned char *)head, strlen(head));
	b = b64url((const unsigned char *)body, strlen(body));
	cap = strlen(h) + strlen(b) + 2 * EVP_MAX_MD_SIZE + 3;
	tok = malloc(cap);
	assert_non_null(tok);
	n = snprintf(tok, cap, "%s.%s", h, b);
	assert_true(n > 0 && (size_t)n < cap);
	if (md != NULL)
		assert_non_null(HMAC(md, key->bytes, (int)key->len,
		    (unsigned char *)tok, (size_t)n, mac, &maclen));
	s = b64url(mac, maclen);
	n = snprintf(tok, cap, "%s.%s.%s", h, b, s);
	assert_true(n > 0 && (size_t)n < cap);
	free(h);
	free(b);
	free(s);
	return tok;
}

static char *
craft_hs256(const char *body)
{
	return craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", body, EVP_sha256(),
	    &cur);
}

static char *
body_with(const char *iat, const char *exp)
{
	char	*b;
	size_t	 cap = 256;

	b = malloc(cap);
	assert_non_null(b);
	assert_true(snprintf(b, cap, "{\"agent_session_id\":\"" SID "\","
	    "\"agent_id\":\"" AID "\",\"iat\":%s,\"exp\":%s}", iat, exp) <
	    (int)cap);
	return b;
}

/* Verify tok with the current secret only; returns the reason. */
static const char *
refusal(const char *tok)
{
	struct token_claims	 out;
	const char		*why = NULL;

	if (token_verify(tok, strlen(tok), &cur, NULL, now_s(), LEEWAY, &out,
	    &why) == OTAS_OK)
		return NULL;
	assert_non_null(why);
	return why;
}

static void
assert_refused(const char *tok, const char *reason)
{
	const char	*why = refusal(tok);

	if (why == NULL)
		fail_msg("accepted a token that should fail with \"%s\"",
		    reason);
	assert_string_equal(why, reason);
}

/* Claims valid for the next hour, signed under secret: the token. */
static char *
signed_hour(const struct otas_secret *secret)
{
	struct token_claims	 c = claims(now_s(), now_s() + 3600);
	char			*tok = sign(&c, secret);

	assert_non_null(tok);
	return tok;
}

/* token_verify of tok now, under cur and prev. */
static enum otas_status
verify_now(const char *tok, const struct otas_secret *prev,
    struct token_claims *out, const char **why)
{
	return token_verify(tok, strlen(tok), &cur, prev, now_s(), LEEWAY,
	    out, why);
}

static void
sign_then_verify_round_trips(void **state)
{
	struct token_claims	 c = claims(now_s(), now_s() + 3600), out;
	const char		*why = NULL;
	char			*tok;

	tok = sign(&c, &cur);
	assert_non_null(tok);
	memset(&out, 0, sizeof(out));
	assert_int_equal(verify_now(tok, NULL, &out, &why), OTAS_OK);
	assert_string_equal(out.session_id, SID);
	assert_string_equal(out.agent_id, AID);
	assert_true(out.iat == c.iat);
	assert_true(out.exp == c.exp);
	free(tok);
}

/*
 * The bytes otas-session has always issued for these claims (and PyJWT
 * 2.6 makes from them, keys in order): libjwt 1.10 and 1.17 both must
 * give them, and the Idempotency-Key replay, which signs again, relies
 * on it.
 */
#define GOLDEN	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhZ2VudF9pZCI6IjZmMWMy" \
	"ZDNlLTRhNWItNGM2ZC04ZTdmLTlhMGIxYzJkM2U0ZiIsImFnZW50X3Nlc3Npb25faWQi" \
	"OiIwMTkwZjJhNC03YjNjLTdkMjEtOGU1Zi0wYTFiMmMzZDRlNWYiLCJleHAiOjE3MDI1" \
	"OTIwMDAsImlhdCI6MTcwMDAwMDAwMH0.Qn-KjxDlRTzq8FEGRqARw82U9pKSOYDGXj9G" \
	"J3Zi66Y"

static void
sign_gives_the_bytes_issued_before(void **state)
{
	struct token_claims	 c = claims(1700000000, 1702592000);
	struct token_signer	*ts = token_signer_new(&cur);
	char			*tok;

	assert_non_null(ts);
	tok = token_signer_sign(ts, &c);
	assert_non_null(tok);
	assert_string_equal(tok, GOLDEN);
	free(tok);
	/* The same signer again: nothing in it is used up. */
	tok = token_signer_sign(ts, &c);
	assert_string_equal(tok, GOLDEN);
	free(tok);
	token_signer_free(ts);
}

/* Claims added in another order: libjwt sorts them when it writes. */
static void
sign_matches_libjwt_byte_for_byte(void **state)
{
	struct token_claims	 c = claims(1700000000, 1702592000);
	struct token_signer	*ts;
	jwt_t			*jwt = NULL;
	char			*ours, *theirs;

	assert_int_equal(jwt_new(&jwt), 0);
	assert_int_equal(jwt_add_grant(jwt, "agent_session_id", SID), 0);
	assert_int_equal(jwt_add_grant(jwt, "agent_id", AID), 0);
	assert_int_equal(jwt_add_grant_int(jwt, "iat", 1700000000), 0);
	assert_int_equal(jwt_add_grant_int(jwt, "exp", 1702592000), 0);
	assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256, cur.bytes,
	    (int)cur.len), 0);
	theirs = jwt_encode_str(jwt);
	assert_non_null(theirs);
	ts = token_signer_new(&cur);
	assert_non_null(ts);
	ours = token_signer_sign(ts, &c);
	assert_non_null(ours);
	assert_string_equal(ours, theirs);
	free(ours);
	free(theirs);
	token_signer_free(ts);
	jwt_free(jwt);
}

static void
sign_emits_hs256_header_and_exactly_four_claims(void **state)
{
	struct token_claims	 c = claims(1700000000, 1702592000);
	char			*tok, *head, *body;

	tok = sign(&c, &cur);
	assert_non_null(tok);
	head = segment(tok, 0);
	body = segment(tok, 1);
	assert_string_equal(head, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	assert_string_equal(body, "{\"agent_id\":\"" AID "\","
	    "\"agent_session_id\":\"" SID "\","
	    "\"exp\":1702592000,\"iat\":1700000000}");
	free(head);
	free(body);
	free(tok);
}

static void
sign_refuses_short_or_missing_secret(void **state)
{
	struct token_claims	 c = claims(now_s(), now_s() + 60);
	struct otas_secret	 none = { NULL, 0 };

	assert_null(sign(&c, &shrt));
	assert_null(sign(&c, &none));
	assert_null(sign(&c, NULL));
}

static void
sign_refuses_malformed_claims(void **state)
{
	struct token_claims	 c = claims(now_s(), now_s() + 60);

	c.agent_id[3] = 'x';
	assert_null(sign(&c, &cur));
	c = claims(0, now_s() + 60);
	assert_null(sign(&c, &cur));
	/* Upper case is a uuid, but not one we hand on. */
	c = claims(now_s(), now_s() + 60);
	memcpy(c.session_id, "0190F2A4", 8);
	assert_null(sign(&c, &cur));
}

/*
 * A token signed for the next hour followed by tail[0..n), malloc'd; the
 * token's own length in *len.
 */
static char *
signed_then(const char *tail, size_t n, size_t *len)
{
	char	*tok = signed_hour(&cur), *out;

	*len = strlen(tok);
	assert_non_null(out = malloc(*len + n));
	memcpy(out, tok, *len);
	memcpy(out + *len, tail, n);
	free(tok);
	return out;
}

static void
verify_reads_only_len_bytes(void **state)
{
	struct token_claims	 out;
	const char		*why;
	char			*padded;
	size_t			 len;

	padded = signed_then("AAAAAAAA", 8, &len);	/* no NUL anywhere */
	assert_int_equal(token_verify(padded, len, &cur, NULL, now_s(),
	    LEEWAY, &out, &why), OTAS_OK);
	assert_string_equal(out.agent_id, AID);
	free(padded);
}

/* One character changed in the payload, then in the signature. */
static void
rejects_tampered_payload_or_signature(void **state)
{
	char	*tok = signed_hour(&cur), *at[2], keep;
	size_t	 i;

	at[0] = strchr(tok, '.') + 5;
	at[1] = strrchr(tok, '.') + 3;
	for (i = 0; i < 2; i++) {
		keep = *at[i];
		*at[i] = keep == 'A' ? 'B' : 'A';
		assert_refused(tok, "bad signature");
		*at[i] = keep;
	}
	free(tok);
}

static void
rejects_wrong_secret(void **state)
{
	char			*tok;

	tok = signed_hour(&bad);
	assert_refused(tok, "bad signature");
	free(tok);
}

static void
accepts_previous_secret_only_when_passed(void **state)
{
	struct token_claims	 out;
	const char		*why;
	char			*tok;

	tok = signed_hour(&old);
	assert_int_equal(verify_now(tok, NULL, &out, &why), OTAS_ERR_TOKEN);
	assert_string_equal(why, "bad signature");
	assert_int_equal(verify_now(tok, &bad, &out, &why), OTAS_ERR_TOKEN);
	assert_int_equal(verify_now(tok, &old, &out, &why), OTAS_OK);
	assert_string_equal(out.session_id, SID);
	free(tok);
}

static void
rejects_short_previous_secret(void **state)
{
	const char	*why;
	char		*tok;

	/* Correctly signed under the short key, which is never tried. */
	tok = craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"agent_session_id\":\"" SID "\",\"agent_id\":\"" AID "\","
	    "\"iat\":1700000000,\"exp\":4000000000}", EVP_sha256(), &shrt);
	assert_int_equal(token_verify(tok, strlen(tok), &cur, &shrt,
	    1700000000, LEEWAY, NULL, &why), OTAS_ERR_TOKEN);
	assert_string_equal(why, "bad signature");
	free(tok);
}

static void
rejects_alg_none(void **state)
{
	char	*body = body_with("1700000000", "4000000000"), *tok;

	tok = craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", body, NULL, NULL);
	assert_non_null(strstr(tok, "."));
	assert_int_equal(tok[strlen(tok) - 1], '.');
	assert_refused(tok, "empty segment");
	free(tok);
	free(body);
}

/* tok refused with reason why; the failure names the case. */
static void
assert_refused_as(const char *name, const char *tok, const char *why)
{
	const char	*got = refusal(tok);

	if (got == NULL || strcmp(got, why) != 0)
		fail_msg("%s: %s, want \"%s\"", name, got ? got : "accepted",
		    why);
}

#define HS256_HEAD	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS(sid, aid, rest)	"{\"agent_session_id\":" sid \
	",\"agent_id\":" aid rest "}"

/* Signed under the right secret with HMAC-SHA256, and still refused;
 * a NULL body is right claims. */
struct crafted {
	const char	*name;
	const char	*head;
	const char	*body;
	const char	*why;
};

static void
assert_crafted_refused(const struct crafted *cases, size_t n)
{
	char	*body, *tok;
	size_t	 i;

	for (i = 0; i < n; i++) {
		body = cases[i].body ? strdup(cases[i].body) :
		    body_with("1700000000", "4000000000");
		assert_non_null(body);
		tok = craft(cases[i].head, body, EVP_sha256(), &cur);
		assert_refused_as(cases[i].name, tok, cases[i].why);
		free(tok);
		free(body);
	}
}

static const struct crafted crafted[] = {
	{ "alg none even with a signature",
	    "{\"alg\":\"none\",\"typ\":\"JWT\"}", NULL,
	    "algorithm not HS256" },
	{ "lower-case hs256",
	    "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", NULL,
	    "algorithm not HS256" },
	{ "no agent_session_id", HS256_HEAD, "{\"agent_id\":\"" AID "\","
	    "\"iat\":1700000000,\"exp\":4000000000}",
	    "bad claim agent_session_id" },
	{ "no agent_id", HS256_HEAD, "{\"agent_session_id\":\"" SID "\","
	    "\"iat\":1700000000,\"exp\":4000000000}", "bad claim agent_id" },
	{ "no iat", HS256_HEAD, CLAIMS("\"" SID "\"", "\"" AID "\"",
	    ",\"exp\":4000000000"), "bad claim iat" },
	{ "no exp", HS256_HEAD, CLAIMS("\"" SID "\"", "\"" AID "\"",
	    ",\"iat\":1700000000"), "bad claim exp" },
	{ "agent_id not a uuid", HS256_HEAD, CLAIMS("\"" SID "\"",
	    "\"admin\"", ",\"iat\":1700000000,\"exp\":4000000000"),
	    "bad claim agent_id" },
	{ "agent_id a number", HS256_HEAD, CLAIMS("\"" SID "\"", "42",
	    ",\"iat\":1700000000,\"exp\":4000000000"), "bad claim agent_id" },
	{ "agent_id a uuid and more", HS256_HEAD, CLAIMS("\"" SID "\"",
	    "\"" AID "x\"", ",\"iat\":1700000000,\"exp\":4000000000"),
	    "bad claim agent_id" },
};

static void
rejects_crafted_headers_and_claims(void **state)
{
	assert_crafted_refused(crafted, sizeof(crafted) / sizeof(crafted[0]));
}

/* iat and exp as JSON text, the rest of the claims right. */
static const struct {
	const char	*name;
	const char	*iat, *exp;
	const char	*why;
} claim_values[] = {
	{ "exp as string", "1700000000", "\"4000000000\"", "bad claim exp" },
	{ "exp as real", "1700000000", "4e9", "bad claim exp" },
	{ "iat as string", "\"1700000000\"", "4000000000", "bad claim iat" },
	{ "iat as real", "1.7e9", "4000000000", "bad claim iat" },
	{ "iat zero", "0", "4000000000", "bad claim iat" },
	{ "iat negative", "-5", "4000000000", "bad claim iat" },
	{ "iat with a fraction", "1700000000.0", "4000000000",
	    "bad claim iat" },
	{ "iat true", "true", "4000000000", "bad claim iat" },
	{ "iat null", "null", "4000000000", "bad claim iat" },
};

static void
rejects_iat_or_exp_not_a_positive_integer(void **state)
{
	char	*body, *tok;
	size_t	 i;

	for (i = 0; i < sizeof(claim_values) / sizeof(claim_values[0]); i++) {
		body = body_with(claim_values[i].iat, claim_values[i].exp);
		tok = craft_hs256(body);
		assert_refused_as(claim_values[i].name, tok,
		    claim_values[i].why);
		free(tok);
		free(body);
	}
}

/* iat and exp at these distances from now (LEEWAY on either side). */
static const struct {
	const char		*name;
	long long		 iat, exp;
	enum otas_status	 status;
	const char		*why;
} windows[] = {
	{ "expired", -7200, -LEEWAY, OTAS_ERR_TOKEN, "expired" },
	{ "exp just inside the leeway", -7200, -LEEWAY + 1, OTAS_OK, NULL },
	{ "iat in the future beyond the leeway", LEEWAY + 1, 7200,
	    OTAS_ERR_TOKEN, "issued in the future" },
	{ "iat in the future within the leeway", LEEWAY, 7200, OTAS_OK,
	    NULL },
};

static void
exp_and_iat_are_held_to_now_with_the_leeway(void **state)
{
	long long		 now = now_s();
	struct token_claims	 c;
	const char		*why;
	char			*tok;
	size_t			 i;
	enum otas_status	 st;

	for (i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		c = claims(now + windows[i].iat, now + windows[i].exp);
		assert_non_null(tok = sign(&c, &cur));
		why = NULL;
		st = token_verify(tok, strlen(tok), &cur, NULL, now, LEEWAY,
		    NULL, &why);
		if (st != windows[i].status || (windows[i].why != NULL &&
		    (why == NULL || strcmp(why, windows[i].why) != 0)))
			fail_msg("%s: status %d (%s)", windows[i].name, st,
			    why ? why : "no reason");
		free(tok);
	}
}

static void
rejects_other_hmac_alg(jwt_alg_t alg)
{
	jwt_t	*jwt;
	char	*tok;

	assert_int_equal(jwt_new(&jwt), 0);
	assert_int_equal(jwt_add_grant(jwt, "agent_session_id", SID), 0);
	assert_int_equal(jwt_add_grant(jwt, "agent_id", AID), 0);
	assert_int_equal(jwt_add_grant_int(jwt, "iat", (long)now_s()), 0);
	assert_int_equal(jwt_add_grant_int(jwt, "exp", (long)now_s() + 600),
	    0);
	assert_int_equal(jwt_set_alg(jwt, alg, cur.bytes, (int)cur.len), 0);
	tok = jwt_encode_str(jwt);
	assert_non_null(tok);
	jwt_free(jwt);
	assert_refused(tok, "algorithm not HS256");
	free(tok);
}

static void
rejects_hs384_with_right_secret(void **state)
{
	rejects_other_hmac_alg(JWT_ALG_HS384);
}

static void
rejects_hs512_with_right_secret(void **state)
{
	rejects_other_hmac_alg(JWT_ALG_HS512);
}

static void
accepts_crafted_token_with_integer_claims(void **state)
{
	char	*body = body_with("1700000000", "4000000000"), *tok;

	tok = craft_hs256(body);
	assert_null(refusal(tok));
	free(tok);
	free(body);
}

static void
rejects_token_over_max_len(void **state)
{
	char	*tok;

	tok = malloc(TOKEN_MAX_LEN + 2);
	assert_non_null(tok);
	memset(tok, 'A', TOKEN_MAX_LEN + 1);
	tok[10] = '.';
	tok[20] = '.';
	tok[TOKEN_MAX_LEN + 1] = '\0';
	assert_refused(tok, "too long");
	free(tok);
}

static void
rejects_empty_token(void **state)
{
	const char	*why;

	assert_int_equal(token_verify("", 0, &cur, NULL, now_s(), LEEWAY,
	    NULL, &why), OTAS_ERR_TOKEN);
	assert_string_equal(why, "empty");
}

static void
rejects_bytes_outside_base64url(void **state)
{
	const char		 bad_bytes[] = "+/= \t\n\"\x80";
	char			*tok;
	size_t			 i, at;

	tok = signed_hour(&cur);
	at = (size_t)(strchr(tok, '.') - tok) + 4;
	for (i = 0; i < sizeof(bad_bytes) - 1; i++) {
		char	 keep = tok[at];

		tok[at] = bad_bytes[i];
		assert_refused(tok, "byte outside base64url");
		tok[at] = keep;
	}
	assert_null(refusal(tok));
	free(tok);
}

static void
rejects_nul_inside_token(void **state)
{
	const char		*why;
	char			*tok;
	size_t			 len;

	tok = signed_hour(&cur);
	len = strlen(tok);
	tok[len - 1] = '\0';
	assert_int_equal(token_verify(tok, len, &cur, NULL, now_s(), LEEWAY,
	    NULL, &why), OTAS_ERR_TOKEN);
	assert_string_equal(why, "byte outside base64url");
	free(tok);
}

static void
rejects_three_dots(void **state)
{
	char			*four;
	size_t			 len;

	four = signed_then(".AAAA", 6, &len);
	assert_refused(four, "not three segments");
	assert_refused("abc.def", "not three segments");
	free(four);
}

static void
rejects_when_configured_secret_is_short(void **state)
{
	struct otas_secret	 empty = { key_cur, 0 };
	const char		*why;
	char			*tok, *bytok;

	tok = signed_hour(&cur);
	/* Signed with the short key by hand: libjwt would verify it. */
	bytok = craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"agent_session_id\":\"" SID "\",\"agent_id\":\"" AID "\","
	    "\"iat\":1700000000,\"exp\":4000000000}", EVP_sha256(), &shrt);
	assert_int_equal(token_verify(bytok, strlen(bytok), &shrt, NULL,
	    1700000000, LEEWAY, NULL, &why), OTAS_ERR_TOKEN);
	assert_string_equal(why, "no usable secret");
	/* key_len 0 would make libjwt skip the signature entirely. */
	assert_int_equal(token_verify(tok, strlen(tok), &empty, NULL,
	    now_s(), LEEWAY, NULL, &why), OTAS_ERR_TOKEN);
	assert_string_equal(why, "no usable secret");
	assert_int_equal(token_verify(tok, strlen(tok), NULL, NULL,
	    now_s(), LEEWAY, NULL, &why), OTAS_ERR_TOKEN);
	assert_string_equal(why, "no usable secret");
	free(bytok);
	free(tok);
}

/*
 * Both verifiers give expect (0 or -1) for tok at a fixed time; on 0, the
 * same claims.  Frees tok.
 */
#define ORACLE_NOW	1750000000LL

static void
both_say(char *tok, int expect)
{
	struct token_claims	 ours, theirs;
	const char		*why = NULL;
	int			 a, b;

	memset(&ours, 0, sizeof(ours));
	a = token_verify(tok, strlen(tok), &cur, &old, ORACLE_NOW, LEEWAY,
	    &ours, &why) == OTAS_OK ? 0 : -1;
	b = oracle_verify(tok, strlen(tok), &cur, &old, ORACLE_NOW, LEEWAY,
	    &theirs);
	if (a != expect)
		fail_msg("ours %d (%s), want %d: %s", a, why, expect, tok);
	if (b != expect)
		fail_msg("libjwt %d, want %d: %s", b, expect, tok);
	if (a == 0 && memcmp(&ours, &theirs, sizeof(ours)) != 0)
		fail_msg("claims differ: %s", tok);
	free(tok);
}

#define HEAD	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define IDS	"\"agent_id\":\"" AID "\",\"agent_session_id\":\"" SID "\""
#define TIMES	"\"exp\":1750003600,\"iat\":1750000000"
#define BODY	"{" IDS "," TIMES "}"
#define LATER	"\"exp\":4000000000,\"iat\":1700000000"

static void
agrees_with_oracle_on_what_passes(void **state)
{
	struct token_claims	 c = claims(ORACLE_NOW, ORACLE_NOW + 3600);

	both_say(sign(&c, &cur), 0);
	both_say(craft(HEAD, BODY, EVP_sha256(), &cur), 0);
	both_say(craft(HEAD, BODY, EVP_sha256(), &old), 0);
	both_say(craft("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", BODY,
	    EVP_sha256(), &cur), 0);
	both_say(craft("{\"alg\":\"HS256\"}", BODY, EVP_sha256(), &cur), 0);
	both_say(craft("{ \"alg\" : \"HS256\", \"typ\": \"jwt\" }",
	    "{\"x\":[1,2.5,{\"y\":null,\"x\":-0},\"e\"]," IDS "," TIMES
	    "}", EVP_sha256(), &cur), 0);
	both_say(craft("{\"alg\":\"HS256\",\"kid\":\"k1\"}", BODY,
	    EVP_sha256(), &cur), 0);
}

static void
agrees_with_oracle_on_what_fails(void **state)
{
	both_say(craft(HEAD, BODY, EVP_sha256(), &bad), -1);
	both_say(craft("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", BODY,
	    EVP_sha256(), &cur), -1);
	both_say(craft("{\"alg\":[\"HS256\"]}", BODY, EVP_sha256(), &cur),
	    -1);
	both_say(craft("[\"HS256\"]", BODY, EVP_sha256(), &cur), -1);
	both_say(craft(HEAD, "[" BODY "]", EVP_sha256(), &cur), -1);
	both_say(craft(HEAD, "{" IDS ",\"exp\":1749999940,\"iat\":1}",
	    EVP_sha256(), &cur), -1);
	both_say(craft(HEAD, "{\"agent_id\":7,\"agent_session_id\":\"" SID
	    "\"," TIMES "}", EVP_sha256(), &cur), -1);
	/* json-c reads these as doubles, jansson refuses them. */
	both_say(craft(HEAD, "{\"x\":NaN," IDS "," TIMES "}", EVP_sha256(),
	    &cur), -1);
	both_say(craft(HEAD, "{\"x\":-1e999," IDS "," TIMES "}",
	    EVP_sha256(), &cur), -1);
	both_say(craft(HEAD, BODY "x", EVP_sha256(), &cur), -1);
	/* RFC 8259 has no "12." (json-c read it, jansson does not). */
	both_say(craft(HEAD, "{\"x\":[12.,5]," IDS "," TIMES "}",
	    EVP_sha256(), &cur), -1);
	both_say(craft(HEAD, "{\"x\":01," IDS "," TIMES "}", EVP_sha256(),
	    &cur), -1);
	/* Two equal names, an escape, crit: refused, not read one way. */
	both_say(craft(HEAD, "{\"exp\":\"no\"," IDS "," TIMES "}",
	    EVP_sha256(), &cur), -1);
	both_say(craft(HEAD, "{\"x\":\"\\u00e9\"," IDS "," TIMES "}",
	    EVP_sha256(), &cur), -1);
	both_say(craft("{\"alg\":\"HS256\",\"crit\":[\"exp\"],"
	    "\"exp\":1}", BODY, EVP_sha256(), &cur), -1);
	both_say(craft("{\"alg\":\"HS256\",\"typ\":7}", BODY, EVP_sha256(),
	    &cur), -1);
}

/*
 * crit, duplicate names, escaped or upper-case uuids: each refused, with
 * the reason the log gives.
 */
static void
rejects_crit_header(void **state)
{
	char	*tok;

	tok = craft("{\"alg\":\"HS256\",\"crit\":[\"otas\"],\"otas\":1}",
	    BODY, EVP_sha256(), &cur);
	assert_refused(tok, "crit header");
	free(tok);
	tok = craft("{\"alg\":\"HS256\",\"crit\":[]}", BODY, EVP_sha256(),
	    &cur);
	assert_refused(tok, "crit header");
	free(tok);
}

static void
rejects_duplicate_members(void **state)
{
	static const char *const heads[] = {
		"{\"alg\":\"none\",\"alg\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"typ\":\"x\",\"typ\":\"JWT\"}",
	};
	static const char *const bodies[] = {
		"{" IDS ",\"exp\":1,\"exp\":4000000000,\"iat\":1700000000}",
		"{" IDS "," TIMES ",\"agent_id\":\"" AID "\"}",
		"{" IDS "," TIMES ",\"x\":{\"y\":1,\"y\":2}}",
	};
	char	*tok;
	size_t	 i;

	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		tok = craft(heads[i], BODY, EVP_sha256(), &cur);
		assert_refused(tok, "duplicate JSON member");
		free(tok);
	}
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		tok = craft(HEAD, bodies[i], EVP_sha256(), &cur);
		assert_refused(tok, "duplicate JSON member");
		free(tok);
	}
	/* The same name in two objects is no duplicate. */
	tok = craft(HEAD, "{" IDS "," LATER ",\"x\":{\"exp\":1}}",
	    EVP_sha256(), &cur);
	assert_null(refusal(tok));
	free(tok);
}

static void
rejects_upper_case_or_escaped_uuid(void **state)
{
	static const struct crafted cases[] = {
		{ "upper-case agent_id", HEAD,
		    "{\"agent_id\":\"6F1C2D3E-4A5B-4C6D-8E7F-9A0B1C2D3E4F\","
		    "\"agent_session_id\":\"" SID "\"," LATER "}",
		    "bad claim agent_id" },
		{ "upper case in agent_session_id", HEAD,
		    "{\"agent_id\":\"" AID "\",\"agent_session_id\":"
		    "\"0190E2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f\"," LATER "}",
		    "bad claim agent_session_id" },
		{ "escape in agent_id's value", HEAD,
		    "{\"agent_id\":\"\\u0036f1c2d3e-4a5b-4c6d-8e7f-"
		    "9a0b1c2d3e4f\",\"agent_session_id\":\"" SID "\"," LATER
		    "}", "JSON escape" },
		{ "escape in agent_id's name", HEAD,
		    "{\"agent\\u005fid\":\"" AID "\","
		    "\"agent_session_id\":\"" SID "\"," LATER "}",
		    "JSON escape" },
	};

	assert_crafted_refused(cases, sizeof(cases) / sizeof(cases[0]));
}

/*
 * The input that made the old differential target abort, signed: jansson
 * (libjwt) cannot read it, and libjwt reads before it checks the signature.
 */
static void
rejects_real_without_fraction_digits(void **state)
{
	const char	*why;
	char		*tok;

	tok = craft(HEAD, "{\"x\":[12.,5,{\"y\":null,\"z\":true}],"
	    "\"agent_id\":\"0190a8c4-0000-7000-8000-00000000000a\","
	    "\"agent_session_id\":\"0190E8c4-5e3f-7b2a-9c1d-4e5f6a7b8c9d\","
	    "\"exp\":1750003600,\"iat\":1750000000}", EVP_sha256(), &cur);
	assert_refused(tok, "bad signature");
	assert_int_equal(token_screen(tok, strlen(tok), &why), OTAS_ERR_TOKEN);
	assert_string_equal(why, "JSON syntax");
	free(tok);
}

/* Where json-c and jansson differ, the screen refuses before both. */
static void
screens_json_the_two_parsers_read_differently(void **state)
{
	static const char *const refused[] = {
		"{\"x\":\"a\tb\"}",		/* raw control byte */
		"{\"x\":\"\xc3\xa9\"}",	/* not ASCII */
		"{\"x\":\"\\u0000\"}",	/* NUL */
		"{\"x\":\"\\udc00\"}",	/* lone surrogate */
		"{\"x\":99999999999999999999}",	/* past 64 bits */
		"{\"x\":\"\\\\u0000\"}",	/* any escape */
		"{\"x\":\"\\\"\"}",
		"{\"x\":1,\"x\":1}",		/* duplicate */
		"{\"x\":12.}",			/* not RFC 8259 */
		"{\"x\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}",	/* 17 deep */
	};
	const char	*why;
	char		*tok;
	size_t		 i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		tok = craft(HEAD, refused[i], EVP_sha256(), &cur);
		if (token_screen(tok, strlen(tok), &why) == OTAS_OK)
			fail_msg("screen passed %s", refused[i]);
		free(tok);
	}
	/* 16 deep, 19 digits in a string: fine. */
	tok = craft(HEAD, "{\"x\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]],"
	    "\"y\":\"1234567890123456789\"}", EVP_sha256(), &cur);
	assert_int_equal(token_screen(tok, strlen(tok), &why), OTAS_OK);
	free(tok);
	/* Not canonical: leftover bits a decoder would drop. */
	assert_int_equal(token_screen("e30.e30.AB", 10, &why), OTAS_ERR_TOKEN);
	assert_int_equal(token_screen("e30.e30.AQ", 10, &why), OTAS_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sign_then_verify_round_trips),
		cmocka_unit_test(sign_gives_the_bytes_issued_before),
		cmocka_unit_test(sign_matches_libjwt_byte_for_byte),
		cmocka_unit_test(sign_emits_hs256_header_and_exactly_four_claims),
		cmocka_unit_test(sign_refuses_short_or_missing_secret),
		cmocka_unit_test(sign_refuses_malformed_claims),
		cmocka_unit_test(verify_reads_only_len_bytes),
		cmocka_unit_test(rejects_tampered_payload_or_signature),
		cmocka_unit_test(rejects_wrong_secret),
		cmocka_unit_test(accepts_previous_secret_only_when_passed),
		cmocka_unit_test(rejects_short_previous_secret),
		cmocka_unit_test(rejects_alg_none),
		cmocka_unit_test(rejects_hs384_with_right_secret),
		cmocka_unit_test(rejects_hs512_with_right_secret),
		cmocka_unit_test(rejects_crafted_headers_and_claims),
		cmocka_unit_test(rejects_iat_or_exp_not_a_positive_integer),
		cmocka_unit_test(exp_and_iat_are_held_to_now_with_the_leeway),
		cmocka_unit_test(accepts_crafted_token_with_integer_claims),
		cmocka_unit_test(rejects_token_over_max_len),
		cmocka_unit_test(rejects_empty_token),
		cmocka_unit_test(rejects_bytes_outside_base64url),
		cmocka_unit_test(rejects_nul_inside_token),
		cmocka_unit_test(rejects_three_dots),
		cmocka_unit_test(rejects_when_configured_secret_is_short),
		cmocka_unit_test(rejects_crit_header),
		cmocka_unit_test(rejects_duplicate_members),
		cmocka_unit_test(rejects_upper_case_or_escaped_uuid),
		cmocka_unit_test(rejects_real_without_fraction_digits),
		cmocka_unit_test(agrees_with_oracle_on_what_passes),
		cmocka_unit_test(agrees_with_oracle_on_what_fails),
		cmocka_unit_test(screens_json_the_two_parsers_read_differently),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
