/*
 * token_oracle — the verdict on a session token by rules written down
 * here, apart from lib/token.c and libjwt, as the independent oracle that
 * tests/unit/test_token.c and tests/fuzz/fuzz_token_diff.c hold the
 * verifier as shipped (our checks around libjwt) against.
 *
 * What PyJWT does with algorithms=["HS256"] and the claims required, plus
 * the programs' own rules, each done another way than token.c does it:
 *  - at most 4 KiB; exactly three non-empty segments, each the one
 *    base64url text of its bytes (OpenSSL decodes, re-encoding must give
 *    the segment back);
 *  - header and claims: printable ASCII, no backslash, no run of 19
 *    digits outside strings, nesting at most 16 deep and objects of at
 *    most 32 members (counted on the text: with no escape, a quote always
 *    opens or closes a string), then jansson with JSON_REJECT_DUPLICATES
 *    (libjwt calls jansson without it) must read an object;
 *  - header: "alg" the string "HS256", "typ" absent or a string equal to
 *    "JWT" in any case, no "crit";
 *  - HMAC-SHA256 of the first two segments under the current secret, then
 *    the previous one (each only when at least 32 bytes), with OpenSSL,
 *    compared with the third segment;
 *  - exp and iat JSON integers above 0, exp > now - leeway, iat <= now +
 *    leeway; agent_session_id and agent_id strings of 36 characters in the
 *    8-4-4-4-12 form of lower-case hex digits.
 *
 * jansson's json_object_get and json_object_iter_next share their names
 * with json-c's, which the programs' library links: members are looked up
 * with json_unpack only.  A header of static functions because two test
 * programs, built by different scripts, include it; nothing in lib/ may.
 */
#ifndef OTAS_TOKEN_ORACLE_H
#define OTAS_TOKEN_ORACLE_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64url.h"
#include "config.h"
#include "token.h"

#define ORACLE_MAX_DEPTH	16
#define ORACLE_MAX_MEMBERS	32

/*
 * The bytes of base64url segment s[0..n) into out (NUL-ended), or -1
 * when s is not the one encoding of them.
 */
static long
oracle_unb64url(const char *s, size_t n, unsigned char *out)
{
	char		 std[TOKEN_MAX_LEN + 4], back[TOKEN_MAX_LEN + 4];
	size_t		 i, pad;
	int		 len;

	if (n == 0 || n % 4 == 1 || n > TOKEN_MAX_LEN)
		return -1;
	for (i = 0; i < n; i++) {
		if (!(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= 'a' &&
		    s[i] <= 'z') && !(s[i] >= '0' && s[i] <= '9') &&
		    s[i] != '-' && s[i] != '_')
			return -1;
		std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	}
	pad = (4 - n % 4) % 4;
	memset(std + n, '=', pad);
	if ((len = EVP_DecodeBlock(out, (unsigned char *)std,
	    (int)(n + pad))) < 0)
		return -1;
	len -= (int)pad;	/* EVP_DecodeBlock counts the padding as zeros */
	out[len] = '\0';
	if (oracle_b64url(out, (size_t)len, back) != n ||
	    memcmp(back, s, n) != 0)
		return -1;
	return len;
}

/* The text rules, counted on the text; 0 or -1. */
static int
oracle_text_ok(const unsigned char *t, size_t n)
{
	int	 object[ORACLE_MAX_DEPTH + 1], members[ORACLE_MAX_DEPTH + 1];
	int	 depth = 0, in_string = 0;
	size_t	 i, digits = 0;

	for (i = 0; i < n; i++) {
		if (t[i] < 0x20 || t[i] > 0x7e || t[i] == '\\')
			return -1;
		if (t[i] == '"')
			in_string = !in_string;
		if (in_string)
			continue;
		digits = t[i] >= '0' && t[i] <= '9' ? digits + 1 : 0;
		if (digits > 18)
			return -1;
		if (t[i] == '{' || t[i] == '[') {
			if (++depth > ORACLE_MAX_DEPTH)
				return -1;
			object[depth] = t[i] == '{';
			members[depth] = 0;
		} else if ((t[i] == '}' || t[i] == ']') && depth > 0)
			depth--;
		else if (t[i] == ':' && depth > 0 && object[depth] &&
		    ++members[depth] > ORACLE_MAX_MEMBERS)
			return -1;
	}
	return 0;
}

/* Segment s[0..n) as a jansson object (json_decref it), or NULL. */
static json_t *
oracle_object(const char *s, size_t n)
{
	unsigned char	 text[TOKEN_MAX_LEN];
	long		 len;
	json_t		*o;

	if ((len = oracle_unb64url(s, n, text)) < 0 ||
	    oracle_text_ok(text, (size_t)len) == -1 ||
	    (o = json_loadb((const char *)text, (size_t)len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Member name of o, or NULL. */
static json_t *
oracle_member(json_t *o, const char *name)
{
	json_t	*v = NULL;

	if (json_unpack(o, "{s?o}", name, &v) != 0)
		return NULL;
	return v;
}

static int
oracle_header_ok(json_t *h)
{
	json_t	*alg = oracle_member(h, "alg"), *typ = oracle_member(h, "typ");

	return json_is_string(alg) && strcmp(json_string_value(alg),
	    "HS256") == 0 && json_string_length(alg) == 5 &&
	    (typ == NULL || (json_is_string(typ) &&
	    json_string_length(typ) == 3 &&
	    strcasecmp(json_string_value(typ), "JWT") == 0)) &&
	    oracle_member(h, "crit") == NULL;
}

/* HMAC-SHA256 under s of tok[0..signed_len) is sig[0..sig_len). */
static int
oracle_signed_by(const char *tok, size_t signed_len, const char *sig,
    size_t sig_len, const struct otas_secret *s)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		 b64[2 * EVP_MAX_MD_SIZE];

	if (s == NULL || s->bytes == NULL || s->len < CONFIG_SECRET_MIN ||
	    HMAC(EVP_sha256(), s->bytes, (int)s->len,
	    (const unsigned char *)tok, signed_len, mac, &maclen) == NULL)
		return 0;
	return oracle_b64url(mac, maclen, b64) == sig_len &&
	    CRYPTO_memcmp(b64, sig, sig_len) == 0;
}

static int
oracle_time(json_t *o, const char *name, long long *v)
{
	json_t	*t = oracle_member(o, name);

	if (!json_is_integer(t) || json_integer_value(t) <= 0)
		return -1;
	*v = json_integer_value(t);
	return 0;
}

static int
oracle_uuid(json_t *o, const char *name, char out[UUID_STR_LEN + 1])
{
	json_t		*u = oracle_member(o, name);
	const char	*s;
	size_t		 i;

	if (!json_is_string(u) || json_string_length(u) != 36)
		return -1;
	s = json_string_value(u);
	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return -1;
	memcpy(out, s, 37);
	return 0;
}

static int
oracle_claims(json_t *cl, long long now, long leeway,
    struct token_claims *c)
{
	if (leeway < 0)
		leeway = 0;
	/* Times a test uses are far from overflowing. */
	if (oracle_time(cl, "exp", &c->exp) == -1 ||
	    oracle_time(cl, "iat", &c->iat) == -1 ||
	    c->exp <= now - leeway || c->iat > now + leeway)
		return -1;
	if (oracle_uuid(cl, "agent_session_id", c->session_id) == -1 ||
	    oracle_uuid(cl, "agent_id", c->agent_id) == -1)
		return -1;
	return 0;
}

/* The three non-empty segments of tok; 0 or -1. */
struct oracle_parts {
	const char	*s[3];
	size_t		 n[3];
};

static int
oracle_split(const char *tok, size_t len, struct oracle_parts *p)
{
	size_t	 i, k = 0, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && tok[i] != '.')
			continue;
		if (k == 3 || i == start)
			return -1;
		p->s[k] = tok + start;
		p->n[k++] = i - start;
		start = i + 1;
	}
	return k == 3 ? 0 : -1;
}

/*
 * The signature, under the current secret or the previous one (a
 * signature segment that is not canonical base64url never matches).
 */
static int
oracle_signed(const struct oracle_parts *p, const struct otas_secret *cur,
    const struct otas_secret *prev)
{
	size_t	 signed_len = p->n[0] + 1 + p->n[1];

	return oracle_signed_by(p->s[0], signed_len, p->s[2], p->n[2], cur) ||
	    oracle_signed_by(p->s[0], signed_len, p->s[2], p->n[2], prev);
}

/* token_verify's contract, answered by these rules: 0 and *out, or -1. */
static int
oracle_verify(const char *tok, size_t len, const struct otas_secret *cur,
    const struct otas_secret *prev, long long now, long leeway,
    struct token_claims *out)
{
	struct oracle_parts	 p;
	json_t			*h = NULL, *cl = NULL;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	if (cur == NULL || cur->bytes == NULL || cur->len < CONFIG_SECRET_MIN ||
	    len > TOKEN_MAX_LEN || oracle_split(tok, len, &p) == -1)
		return -1;
	if ((h = oracle_object(p.s[0], p.n[0])) != NULL &&
	    oracle_header_ok(h) && oracle_signed(&p, cur, prev) &&
	    (cl = oracle_object(p.s[1], p.n[1])) != NULL)
		rc = oracle_claims(cl, now, leeway, out);
	json_decref(h);
	json_decref(cl);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

#endif
