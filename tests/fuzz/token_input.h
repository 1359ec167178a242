/*
 * token_input — how one input of the token_diff corpus becomes a token,
 * for the differential fuzz target (fuzz_token_diff.c) and for
 * token_verdicts.c, which replays the corpus through the dynamic and the
 * static build (tests/integration/test_static.py).
 *
 * Random bytes almost never carry a valid HMAC, so they would only test
 * the refusals.  The first byte therefore picks the mode:
 *   even  the rest is the token, as it would arrive in the header;
 *   odd   the rest is header JSON, a 0x01 byte, claims JSON: they are
 *         signed here (bits 1-2 of the first byte pick the current secret,
 *         the previous one, a stranger's or a short one), so the JSON
 *         parsers and the claim checks meet signed input.
 * The verifier is asked with the current and the previous secret at a
 * fixed "now", so seeds in corpus/token_diff/ do not expire.  A header of
 * static functions: test programs include it, nothing in lib/ may.
 */
#ifndef OTAS_TOKEN_INPUT_H
#define OTAS_TOKEN_INPUT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../oracle/b64url.h"
#include "config.h"

#define INPUT_NOW	1750000000LL
#define INPUT_LEEWAY	60L

static unsigned char input_current[] =
    "otas-fuzz-current-secret-0123456789abcdef";
static unsigned char input_previous[] =
    "otas-fuzz-previous-secret-0123456789abcdef";
static unsigned char input_stranger[] =
    "otas-fuzz-stranger-secret-0123456789abcdef";

/*
 * header.claims.signature with HMAC-SHA256 under key, into out (at least
 * 4 * (hlen + clen) / 3 + 64 bytes); its length.
 */
static size_t
input_sign(const char *header, size_t hlen, const char *claims,
    size_t clen, const unsigned char *key, size_t klen, char *out)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	size_t		 n;

	n = oracle_b64url((const unsigned char *)header, hlen, out);
	out[n++] = '.';
	n += oracle_b64url((const unsigned char *)claims, clen, out + n);
	if (HMAC(EVP_sha256(), key, (int)klen, (unsigned char *)out, n, mac,
	    &maclen) == NULL)
		abort();
	out[n++] = '.';
	return n + oracle_b64url(mac, maclen, out + n);
}

/*
 * The token of input data[0..size) into *tok (malloc'd, exactly as long
 * as the token, so ASan sees a read past its end), its length in *len;
 * -1 when the input makes none.
 */
static int
input_token(const uint8_t *data, size_t size, char **tok, size_t *len)
{
	const struct {
		const unsigned char	*bytes;
		size_t			 len;
	} keys[4] = {
		{ input_current, sizeof(input_current) - 1 },
		{ input_previous, sizeof(input_previous) - 1 },
		{ input_stranger, sizeof(input_stranger) - 1 },
		{ input_current, CONFIG_SECRET_MIN - 1 },
	};
	const uint8_t	*sep;
	char		*buf;
	size_t		 hlen;
	int		 k;

	if (size == 0)
		return -1;
	if ((data[0] & 1) == 0) {
		*len = size - 1;
		if ((*tok = malloc(*len > 0 ? *len : 1)) == NULL)
			return -1;
		memcpy(*tok, data + 1, *len);
		return 0;
	}
	k = (data[0] >> 1) & 3;
	if ((sep = memchr(data + 1, 0x01, size - 1)) == NULL ||
	    (buf = malloc(2 * size + 128)) == NULL)
		return -1;
	hlen = (size_t)(sep - data - 1);
	*len = input_sign((const char *)data + 1, hlen, (const char *)sep + 1,
	    size - hlen - 2, keys[k].bytes, keys[k].len, buf);
	if ((*tok = malloc(*len > 0 ? *len : 1)) != NULL)
		memcpy(*tok, buf, *len);
	free(buf);
	return *tok == NULL ? -1 : 0;
}

#endif
