/*
 * b64url — base64url without padding by OpenSSL's base64 rewritten, apart
 * from lib/base64url.c: the one encoder of the token tests, for the oracle
 * (token_oracle.h) and the fuzz corpus's signer (tests/fuzz/token_input.h).
 * A header of static functions: test programs include it, nothing in lib/
 * may.
 */
#ifndef OTAS_ORACLE_B64URL_H
#define OTAS_ORACLE_B64URL_H

#include <stddef.h>

#include <openssl/evp.h>

/* base64 of in[0..n) rewritten as base64url without padding; its length. */
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

#endif
