/*
 * fuzz_token_diff — differential target: the same token goes to our
 * verifier (token_verify) and to libjwt with the programs' checks
 * (tests/oracle/token_oracle.h); any disagreement, in the verdict or in
 * the claims of a token both accept, aborts.
 *
 * Random bytes almost never carry a valid HMAC, so they would only test
 * the refusals.  The first byte therefore picks the mode:
 *   even  the rest is the token, as it would arrive in the header;
 *   odd   the rest is header JSON, a 0x01 byte, claims JSON: the target
 *         signs them (bits 1-2 of the first byte pick the current secret,
 *         the previous one, a stranger's or a short one), so the JSON
 *         parsers and the claim checks of both sides meet signed input.
 * "now" is fixed so seeds in corpus/token_diff/ do not expire.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "token.h"
#include "../oracle/token_oracle.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char current[] = "otas-fuzz-current-secret-0123456789abcdef";
static unsigned char previous[] = "otas-fuzz-previous-secret-0123456789abcdef";
static unsigned char stranger[] = "otas-fuzz-stranger-secret-0123456789abcdef";

#define FUZZ_NOW	1750000000LL
#define FUZZ_LEEWAY	60L

/* OpenSSL's base64, not ours: base64url without padding of in[0..n) appended at out; its length. */
static size_t
oracle_b64url(const unsigned char *in, size_t n, char *out)
{
	int	 len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	int	 i;

	while (len > 0 && out[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	out[len] = '\0';
	return (size_t)len;
}

/*
 * header.claims.signature with HMAC-SHA256 under key, into out (at least
 * 4 * (hlen + clen) / 3 + 64 bytes); its length.
 */
static size_t
oracle_make(const char *header, size_t hlen, const char *claims,
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

static void
compare(const char *tok, size_t len)
{
	struct otas_secret	 cur = { current, sizeof(current) - 1 };
	struct otas_secret	 prev = { previous, sizeof(previous) - 1 };
	struct token_claims	 ours, theirs;
	const char		*why;
	int			 a, b;

	memset(&ours, 0, sizeof(ours));
	a = token_verify(tok, len, &cur, &prev, FUZZ_NOW, FUZZ_LEEWAY, &ours,
	    &why) == OTAS_OK ? 0 : -1;
	b = oracle_verify(tok, len, &cur, &prev, FUZZ_NOW, FUZZ_LEEWAY,
	    &theirs);
	if (a != b || (a == 0 && memcmp(&ours, &theirs, sizeof(ours)) != 0))
		abort();
}

static void
compare_signed(uint8_t mode, const uint8_t *data, size_t size)
{
	static const struct {
		const unsigned char	*bytes;
		size_t			 len;
	} keys[4] = {
		{ current, sizeof(current) - 1 },
		{ previous, sizeof(previous) - 1 },
		{ stranger, sizeof(stranger) - 1 },
		{ current, CONFIG_SECRET_MIN - 1 },
	};
	const uint8_t	*sep;
	char		*tok;
	size_t		 hlen, n;
	int		 k = (mode >> 1) & 3;

	if ((sep = memchr(data, 0x01, size)) == NULL)
		return;
	hlen = (size_t)(sep - data);
	if ((tok = malloc(2 * size + 128)) == NULL)
		return;
	n = oracle_make((const char *)data, hlen, (const char *)sep + 1,
	    size - hlen - 1, keys[k].bytes, keys[k].len, tok);
	compare(tok, n);
	free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*copy;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		compare_signed(data[0], data + 1, size - 1);
		return 0;
	}
	/* An exact-size heap copy, so ASan sees any read past the end. */
	if ((copy = malloc(size - 1 > 0 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	compare(copy, size - 1);
	free(copy);
	return 0;
}
