/*
 * token — the session JWT (HS256), signed and verified with libjwt in
 * every build: Debian's libjwt 1.10.2 in the dynamic programs and the
 * package, a static libjwt 1.17.2 built from Debian's source in
 * `make static` (scripts/static-libjwt).  Both write the same bytes for
 * the same claims (jansson's compact form, keys sorted), which PyJWT and
 * the original backend read; tests/unit/test_token.c pins them.
 *
 * libjwt checks the signature and parses the JSON; it does not validate
 * claims, takes the algorithm from the token, skips the signature for a
 * zero-length key, alloca()s as much as the token is long, and its two
 * versions differ on "typ" and on the case of "alg".  So around it, in
 * this order:
 *  - before: at most 4 KiB; three canonical base64url segments (one text
 *    per token); header JSON under tokjson's rules (printable ASCII, no
 *    escape, no duplicate name: {"alg":"none","alg":"HS256"} is refused);
 *    "alg" exactly "HS256", read before the signature so the log tells a
 *    wrong algorithm from a wrong secret; "typ" absent or "JWT"; no
 *    "crit" (RFC 7515 §4.1.11: we understand no extension);
 *  - libjwt: jwt_decode with the secret, then the previous one, never
 *    with a secret under CONFIG_SECRET_MIN bytes; jwt_get_alg() must say
 *    HS256 again;
 *  - after: the claims JSON under tokjson's rules, exp and iat JSON
 *    integers (a string or a real is refused, not read as 0) within the
 *    leeway, both uuid claims in canonical lower-case form (they are
 *    handed on to the application as they are).
 * Nothing here is static and mutable, and libjwt keeps no shared state
 * (each call makes its own jwt_t), so threads may sign and verify at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jwt.h>
#include <openssl/crypto.h>

#include "base64url.h"
#include "span.h"
#include "tokjson.h"
#include "token.h"

/* Every refusal of a token is the same answer; only the log's why differs. */
static enum otas_status
token_refuse(const char **why, const char *reason)
{
	*why = reason;
	return OTAS_ERR_TOKEN;
}

/* A secret libjwt will really check a signature with. */
static int
token_secret_ok(const struct otas_secret *s)
{
	return s != NULL && s->bytes != NULL && s->len >= CONFIG_SECRET_MIN &&
	    s->len <= INT_MAX;
}

/* A uuid as we write one: 8-4-4-4-12 hex digits, none upper-case. */
static int
token_uuid_ok(const char *s, size_t len)
{
	size_t	 i;

	if (!uuid_valid(s, len))
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			return 0;
	return 1;
}

static int
token_claims_ok(const struct token_claims *c)
{
	return token_uuid_ok(c->session_id, strnlen(c->session_id,
	    sizeof(c->session_id))) &&
	    token_uuid_ok(c->agent_id, strnlen(c->agent_id,
	    sizeof(c->agent_id))) &&
	    c->iat > 0 && c->exp > 0 && c->iat <= LONG_MAX &&
	    c->exp <= LONG_MAX;
}

/* The signer owns a copy of the secret, made once at start. */
struct token_signer {
	unsigned char	*key;
	int		 len;
};

struct token_signer *
token_signer_new(const struct otas_secret *secret)
{
	struct token_signer	*ts;

	if (!token_secret_ok(secret) ||
	    (ts = calloc(1, sizeof(*ts))) == NULL)
		return NULL;
	if ((ts->key = malloc(secret->len)) == NULL) {
		free(ts);
		return NULL;
	}
	memcpy(ts->key, secret->bytes, secret->len);
	ts->len = (int)secret->len;
	return ts;
}

void
token_signer_free(struct token_signer *ts)
{
	if (ts == NULL)
		return;
	OPENSSL_cleanse(ts->key, (size_t)ts->len);
	free(ts->key);
	free(ts);
}

/*
 * The four claims, each added once (libjwt's duplicate check depends on
 * the type), then the algorithm and key.  0 or -1.
 */
static int
token_fill(jwt_t *jwt, const struct token_signer *ts,
    const struct token_claims *c)
{
	return jwt_add_grant(jwt, "agent_id", c->agent_id) == 0 &&
	    jwt_add_grant(jwt, "agent_session_id", c->session_id) == 0 &&
	    jwt_add_grant_int(jwt, "exp", (long)c->exp) == 0 &&
	    jwt_add_grant_int(jwt, "iat", (long)c->iat) == 0 &&
	    jwt_set_alg(jwt, JWT_ALG_HS256, ts->key, ts->len) == 0 ? 0 : -1;
}

char *
token_signer_sign(const struct token_signer *ts, const struct token_claims *c)
{
	jwt_t	*jwt = NULL;
	char	*tok = NULL;

	if (ts == NULL || c == NULL || !token_claims_ok(c))
		return NULL;
	if (jwt_new(&jwt) == 0 && token_fill(jwt, ts, c) == 0)
		tok = jwt_encode_str(jwt);
	jwt_free(jwt);
	return tok;
}

/* The three segments of a compact JWS, found by token_split. */
struct token_parts {
	const char	*seg[3];
	size_t		 len[3];
};

/*
 * The compact JWS shape: three non-empty segments of base64url, each in
 * its canonical form.
 */
static enum otas_status
token_split(const char *tok, size_t len, struct token_parts *p,
    const char **why)
{
	size_t	 i, k = 0, start = 0;

	if (tok == NULL || len == 0)
		return token_refuse(why, "empty");
	if (len > TOKEN_MAX_LEN)
		return token_refuse(why, "too long");
	for (i = 0; i < len; i++) {
		if (tok[i] != '.') {
			if (base64url_value((unsigned char)tok[i]) == -1)
				return token_refuse(why, "byte outside base64url");
			continue;
		}
		if (i == start)
			return token_refuse(why, "empty segment");
		if (k < 2) {
			p->seg[k] = tok + start;
			p->len[k] = i - start;
		}
		k++;
		start = i + 1;
	}
	if (k != 2)
		return token_refuse(why, "not three segments");
	if (start == len)
		return token_refuse(why, "empty segment");
	p->seg[2] = tok + start;
	p->len[2] = len - start;
	for (k = 0; k < 3; k++)
		if (!base64url_canonical(p->seg[k], p->len[k]))
			return token_refuse(why, "segment not canonical base64url");
	return OTAS_OK;
}

/*
 * Segment k decoded into out (3 * len / 4 bytes, at most 3 KiB) and
 * scanned into o.
 */
static enum otas_status
token_json(const struct token_parts *p, int k, char *out,
    struct tokjson_object *o, const char **why)
{
	size_t	 n = base64url_decode(p->seg[k], p->len[k],
		    (unsigned char *)out);

	return tokjson_scan(out, n, o, why);
}

static int
token_is(const struct tokjson_member *m, const char *s)
{
	return m != NULL && m->kind == TOKJSON_STRING &&
	    span_is(m->value, m->value_len, s);
}

/*
 * Exactly "HS256", as PyJWT wants (libjwt 1.10 takes "hs256" too); "typ"
 * absent or JWT in any case (1.10 insists on it, 1.17 takes anything);
 * no "crit".
 */
static enum otas_status
token_header_check(const struct tokjson_object *h, const char **why)
{
	const struct tokjson_member	*typ = tokjson_get(h, "typ");

	if (!token_is(tokjson_get(h, "alg"), "HS256"))
		return token_refuse(why, "algorithm not HS256");
	if (typ != NULL && (typ->kind != TOKJSON_STRING ||
	    typ->value_len != 3 || strncasecmp(typ->value, "JWT", 3) != 0))
		return token_refuse(why, "typ not JWT");
	if (tokjson_get(h, "crit") != NULL)
		return token_refuse(why, "crit header");
	return OTAS_OK;
}

enum otas_status
token_screen(const char *tok, size_t len, const char **why)
{
	struct token_parts	 p;
	struct tokjson_object	 o;
	char			 buf[TOKEN_MAX_LEN];
	enum otas_status	 st;

	if ((st = token_split(tok, len, &p, why)) != OTAS_OK ||
	    (st = token_json(&p, 0, buf, &o, why)) != OTAS_OK)
		return st;
	return token_json(&p, 1, buf, &o, why);
}

/* jwt_decode of the NUL-ended token with s; the jwt_t or NULL. */
static jwt_t *
token_decode(const char *tok, const struct otas_secret *s)
{
	jwt_t	*jwt = NULL;

	if (!token_secret_ok(s) ||
	    jwt_decode(&jwt, tok, s->bytes, (int)s->len) != 0)
		return NULL;
	return jwt;
}

/*
 * A positive JSON integer: the scan says it is one (a string or a real
 * is refused, where jwt_get_grant_int would read 0), libjwt reads it.
 */
static int
token_int_claim(jwt_t *jwt, const struct tokjson_object *cl,
    const char *name, long long *v)
{
	const struct tokjson_member	*m = tokjson_get(cl, name);
	long				 n;

	if (m == NULL || m->kind != TOKJSON_INTEGER)
		return -1;
	errno = 0;
	n = jwt_get_grant_int(jwt, name);
	if (errno != 0 || n <= 0)
		return -1;
	*v = n;
	return 0;
}

static int
token_uuid_claim(jwt_t *jwt, const struct tokjson_object *cl,
    const char *name, char out[UUID_STR_LEN + 1])
{
	const struct tokjson_member	*m = tokjson_get(cl, name);
	const char			*s;

	if (m == NULL || m->kind != TOKJSON_STRING ||
	    (s = jwt_get_grant(jwt, name)) == NULL ||
	    !token_uuid_ok(s, strlen(s)))
		return -1;
	memcpy(out, s, UUID_STR_LEN + 1);
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

/* The claims libjwt verified, each with its JSON type checked. */
static enum otas_status
token_claims_check(jwt_t *jwt, const struct tokjson_object *cl,
    long long now, long leeway, struct token_claims *c, const char **why)
{
	if (token_int_claim(jwt, cl, "exp", &c->exp) == -1)
		return token_refuse(why, "bad claim exp");
	if (token_int_claim(jwt, cl, "iat", &c->iat) == -1)
		return token_refuse(why, "bad claim iat");
	if (leeway < 0)
		leeway = 0;
	if (c->exp <= token_sub(now, leeway))
		return token_refuse(why, "expired");
	if (c->iat > token_add(now, leeway))
		return token_refuse(why, "issued in the future");
	if (token_uuid_claim(jwt, cl, "agent_session_id", c->session_id) == -1)
		return token_refuse(why, "bad claim agent_session_id");
	if (token_uuid_claim(jwt, cl, "agent_id", c->agent_id) == -1)
		return token_refuse(why, "bad claim agent_id");
	return OTAS_OK;
}

/*
 * Header, then libjwt (signature with secret, then previous), then the
 * claims: a tampered token is logged as such, a wrong algorithm too.
 * libjwt parses the claims before it checks the signature, so claims it
 * cannot read are logged as a bad signature too: only a forger, who has
 * no secret, sends them.  text holds the token NUL-ended for libjwt, then
 * a decoded segment.
 */
static enum otas_status
token_read(const char *tok, size_t len, const struct token_parts *p,
    const struct otas_secret *secret, const struct otas_secret *previous,
    long long now, long leeway, struct token_claims *c, const char **why)
{
	struct tokjson_object	 o;
	char			 text[TOKEN_MAX_LEN + 1];
	enum otas_status	 st;
	jwt_t			*jwt;

	if ((st = token_json(p, 0, text, &o, why)) != OTAS_OK ||
	    (st = token_header_check(&o, why)) != OTAS_OK)
		return st;
	memcpy(text, tok, len);
	text[len] = '\0';
	if ((jwt = token_decode(text, secret)) == NULL &&
	    (jwt = token_decode(text, previous)) == NULL)
		return token_refuse(why, "bad signature");
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		st = token_refuse(why, "algorithm not HS256");
	else if ((st = token_json(p, 1, text, &o, why)) == OTAS_OK)
		st = token_claims_check(jwt, &o, now, leeway, c, why);
	jwt_free(jwt);
	return st;
}

enum otas_status
token_verify(const char *tok, size_t len, const struct otas_secret *secret,
    const struct otas_secret *previous, long long now, long leeway,
    struct token_claims *out, const char **why)
{
	struct token_parts	 p;
	struct token_claims	 c;
	enum otas_status	 st;

	memset(&c, 0, sizeof(c));
	if (!token_secret_ok(secret))
		return token_refuse(why, "no usable secret");
	if ((st = token_split(tok, len, &p, why)) != OTAS_OK ||
	    (st = token_read(tok, len, &p, secret, previous, now, leeway, &c,
	    why)) != OTAS_OK)
		return st;
	*why = "ok";
	if (out != NULL)
		*out = c;
	return OTAS_OK;
}
