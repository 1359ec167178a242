/*
 * token — the session JWT (HS256), signed and verified here with OpenSSL's
 * HMAC and json-c, in every build; libjwt is only the independent oracle
 * the tests compare against (tests/unit/test_token.c and the differential
 * fuzz target tests/fuzz/fuzz_token_diff.c).
 *
 * Why not libjwt in the programs: Debian ships it as a shared library only
 * and its source is not reachable, so the static build (`make static`)
 * cannot link it; one verifier in every build means the programs a shared
 * host runs are the ones the suite tests.  And libjwt 1.10 spent half of
 * the responder's CPU signing, trusts the token for its algorithm, skips
 * the signature check for a zero-length key, alloca()s segments as long as
 * the token and validates no claim.
 *
 * Signing: what we sign is always the same shape — a fixed header and four
 * claims we made ourselves — so the text is formatted here exactly as
 * libjwt would print it (compact, keys sorted), and a keyed HMAC context
 * made once per secret is copied for each token.
 *
 * Verifying is strict and in this order: at most 4 KiB; three canonical
 * base64url segments (one text per token); header and claims printable
 * ASCII JSON (where json-c and libjwt's jansson read the same thing); a
 * header object with "alg" exactly "HS256" (read before the signature, so
 * the log tells a wrong algorithm from a wrong secret); the signature,
 * compared in constant time; then the claims, each read with its JSON type
 * checked (a string "exp" or a real 2e9 is refused, not read as 0).
 * Nothing here is static and mutable, so threads may sign and verify at
 * once.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "base64url.h"
#include "hex.h"
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
	len += base64url_encode((const unsigned char *)claims, (size_t)n,
	    tok + len);
	if (token_hmac(ts, tok, len, mac) == -1)
		return NULL;
	tok[len++] = '.';
	len += base64url_encode(mac, sizeof(mac), tok + len);
	return strdup(tok);
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

/* \u0000 and surrogates: json-c and jansson decode them differently. */
static int
token_escape_refused(const unsigned char *hex, size_t n)
{
	long v = hex_u16(hex, n);	/* -1: not JSON, both refuse it */

	return v == 0 || (v >= 0xd800 && v <= 0xdfff);
}

/*
 * The JSON we read: printable ASCII (what every JWT library writes), no
 * escape of NUL or a surrogate, no run of 19 digits (so every integer fits
 * in 64 bits).  Inside that, json-c and jansson (libjwt's parser, the
 * oracle of the tests) agree; outside it they differ, so it is refused.
 */
static enum otas_status
token_json_plain(const unsigned char *js, size_t n, const char **why)
{
	size_t	 i, digits = 0;

	for (i = 0; i < n; i++) {
		if (js[i] < 0x20 || js[i] > 0x7e)
			return token_refuse(why, "JSON byte outside printable ASCII");
		digits = js[i] >= '0' && js[i] <= '9' ? digits + 1 : 0;
		if (digits > 18)
			return token_refuse(why, "JSON number too long");
		if (js[i] == '\\' && i + 1 < n) {
			if (js[i + 1] == 'u' &&
			    token_escape_refused(js + i + 2, n - i - 2))
				return token_refuse(why, "JSON escape of NUL or a surrogate");
			i++;	/* the escaped byte starts nothing */
		}
	}
	return OTAS_OK;
}

/*
 * A segment decoded into out, followed by a NUL for json-c, and screened.
 * out needs 3 * len / 4 + 1 bytes.
 */
static enum otas_status
token_json_text(const char *seg, size_t len, unsigned char *out, size_t *n,
    const char **why)
{
	*n = base64url_decode(seg, len, out);
	out[*n] = '\0';
	return token_json_plain(out, *n, why);
}

enum otas_status
token_screen(const char *tok, size_t len, const char **why)
{
	struct token_parts	 p;
	unsigned char		 buf[TOKEN_MAX_LEN];
	enum otas_status	 st;
	size_t			 n;

	if ((st = token_split(tok, len, &p, why)) != OTAS_OK ||
	    (st = token_json_text(p.seg[0], p.len[0], buf, &n, why)) != OTAS_OK)
		return st;
	return token_json_text(p.seg[1], p.len[1], buf, &n, why);
}

/*
 * HMAC-SHA256 of header.claims, compared with the signature's text in
 * constant time, as libjwt compares.  0: it matches.
 */
static int
token_signed_by(const struct token_parts *p, const struct otas_secret *s)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0;
	char		 b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	size_t		 signed_len = p->len[0] + 1 + p->len[1];

	if (!token_secret_ok(s) || HMAC(EVP_sha256(), s->bytes, (int)s->len,
	    (const unsigned char *)p->seg[0], signed_len, mac, &n) == NULL ||
	    n != 32)
		return -1;
	if (base64url_encode(mac, n, b64) != p->len[2])
		return -1;
	return CRYPTO_memcmp(b64, p->seg[2], p->len[2]) == 0 ? 0 : -1;
}

/*
 * A JSON object from text[0..n), or NULL.  Strict json-c: no trailing
 * bytes, comments or single quotes.  The depth allows any nesting a 4 KiB
 * token can hold, as jansson does (its limit, 2048, is out of reach).
 */
#define TOKEN_JSON_DEPTH 1536

static json_object *
token_json_object(const unsigned char *text, size_t n)
{
	struct json_tokener	*jt;
	json_object		*o;

	if (n >= INT_MAX ||
	    (jt = json_tokener_new_ex(TOKEN_JSON_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(jt, JSON_TOKENER_STRICT);
	/* n + 1 passes the NUL, so json-c knows the text has ended. */
	o = json_tokener_parse_ex(jt, (const char *)text, (int)n + 1);
	if (o != NULL && (json_tokener_get_parse_end(jt) != n ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(jt);
	return o;
}

/* json-c reads NaN, Infinity and 1e999 as doubles; jansson refuses them. */
static int
token_json_finite(json_object *o)
{
	size_t	 i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!token_json_finite(json_object_array_get_idx(o, i)))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!token_json_finite(v))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/* The string member name of o, or NULL. */
static const char *
token_json_string(json_object *o, const char *name, size_t *len)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/*
 * Exactly "HS256", as PyJWT wants (libjwt takes "hs256" too).  A string
 * "typ" must say JWT in any case, as libjwt insists.
 */
static enum otas_status
token_header_check(json_object *h, const char **why)
{
	const char	*alg, *typ;
	size_t		 n = 0;

	if ((alg = token_json_string(h, "alg", &n)) == NULL || n != 5 ||
	    memcmp(alg, "HS256", 5) != 0)
		return token_refuse(why, "algorithm not HS256");
	if ((typ = token_json_string(h, "typ", &n)) != NULL &&
	    (n != 3 || strncasecmp(typ, "JWT", 3) != 0))
		return token_refuse(why, "typ not JWT");
	return OTAS_OK;
}

/* A positive JSON integer: strings and reals are refused, not read as 0. */
static int
token_int_claim(json_object *o, const char *name, long long *v)
{
	json_object	*j;
	int64_t		 n;

	if (!json_object_object_get_ex(o, name, &j) ||
	    !json_object_is_type(j, json_type_int) ||
	    (n = json_object_get_int64(j)) <= 0)
		return -1;
	*v = n;
	return 0;
}

static int
token_uuid_claim(json_object *o, const char *name,
    char out[UUID_STR_LEN + 1])
{
	const char	*s;
	size_t		 len = 0;

	if ((s = token_json_string(o, name, &len)) == NULL ||
	    !uuid_valid(s, len))
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
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

/* The claims, each with its JSON type checked. */
static enum otas_status
token_claims_check(json_object *cl, long long now, long leeway,
    struct token_claims *c, const char **why)
{
	if (token_int_claim(cl, "exp", &c->exp) == -1)
		return token_refuse(why, "bad claim exp");
	if (token_int_claim(cl, "iat", &c->iat) == -1)
		return token_refuse(why, "bad claim iat");
	if (leeway < 0)
		leeway = 0;
	if (c->exp <= token_sub(now, leeway))
		return token_refuse(why, "expired");
	if (c->iat > token_add(now, leeway))
		return token_refuse(why, "issued in the future");
	if (token_uuid_claim(cl, "agent_session_id", c->session_id) == -1)
		return token_refuse(why, "bad claim agent_session_id");
	if (token_uuid_claim(cl, "agent_id", c->agent_id) == -1)
		return token_refuse(why, "bad claim agent_id");
	return OTAS_OK;
}

/* A segment's JSON object with only finite numbers, or NULL and *why. */
static json_object *
token_read_object(const unsigned char *text, size_t n, const char *what,
    const char **why)
{
	json_object	*o;

	if ((o = token_json_object(text, n)) == NULL) {
		*why = what;
		return NULL;
	}
	if (!token_json_finite(o)) {
		json_object_put(o);
		*why = "JSON number not finite";
		return NULL;
	}
	return o;
}

/* The header first, so the log names a wrong algorithm as such. */
static enum otas_status
token_read_header(const unsigned char *text, size_t n, const char **why)
{
	json_object		*h;
	enum otas_status	 st;

	if ((h = token_read_object(text, n, "header not a JSON object",
	    why)) == NULL)
		return OTAS_ERR_TOKEN;
	st = token_header_check(h, why);
	json_object_put(h);
	return st;
}

static enum otas_status
token_read_claims(const unsigned char *text, size_t n, long long now,
    long leeway, struct token_claims *c, const char **why)
{
	json_object		*cl;
	enum otas_status	 st;

	if ((cl = token_read_object(text, n, "claims not a JSON object",
	    why)) == NULL)
		return OTAS_ERR_TOKEN;
	st = token_claims_check(cl, now, leeway, c, why);
	json_object_put(cl);
	return st;
}

/*
 * Header, signature (with secret, then previous), claims: a tampered token
 * is logged as such, a wrong algorithm too.  A short previous secret is
 * never tried: see token_signed_by.  buf holds both decoded segments (a
 * 4 KiB token decodes to 3 KiB).
 */
static enum otas_status
token_read(const struct token_parts *p, const struct otas_secret *secret,
    const struct otas_secret *previous, long long now, long leeway,
    struct token_claims *c, const char **why)
{
	unsigned char		 buf[TOKEN_MAX_LEN], *claims;
	size_t			 hlen, clen;
	enum otas_status	 st;

	if ((st = token_json_text(p->seg[0], p->len[0], buf, &hlen,
	    why)) != OTAS_OK || (st = token_read_header(buf, hlen, why)) != OTAS_OK)
		return st;
	if (token_signed_by(p, secret) == -1 &&
	    token_signed_by(p, previous) == -1)
		return token_refuse(why, "bad signature");
	claims = buf + hlen + 1;
	if ((st = token_json_text(p->seg[1], p->len[1], claims, &clen,
	    why)) != OTAS_OK)
		return st;
	return token_read_claims(claims, clen, now, leeway, c, why);
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
	    (st = token_read(&p, secret, previous, now, leeway, &c,
	    why)) != OTAS_OK)
		return st;
	*why = "ok";
	if (out != NULL)
		*out = c;
	return OTAS_OK;
}
