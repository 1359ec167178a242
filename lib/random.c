/*
 * random — alphanumerics by rejection sampling: bytes of 248 and above
 * (248 = 4 * 62) are thrown away so that every character is equally
 * likely.  The raw bytes are wiped once used, since they are the secret.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base64url.h"
#include "random.h"

static const char alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int
random_alnum(char *out, size_t n)
{
	const unsigned set = sizeof(alnum) - 1;
	unsigned char buf[64];
	size_t i, got = 0;

	while (got < n) {
		if (RAND_bytes(buf, sizeof(buf)) != 1) {
			OPENSSL_cleanse(buf, sizeof(buf));
			out[0] = '\0';
			return -1;
		}
		for (i = 0; i < sizeof(buf) && got < n; i++)
			if (buf[i] < 256 - 256 % set)
				out[got++] = alnum[buf[i] % set];
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	out[n] = '\0';
	return 0;
}

int
random_base64url(char *out, size_t nbytes)
{
	unsigned char raw[RANDOM_MAX_BYTES];

	out[0] = '\0';
	if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1)
		return -1;
	base64url_encode(raw, nbytes, out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}
