/*
 * hash — Django's pbkdf2_sha256 password encoding, verified and made with
 * OpenSSL, so that keys hashed by the original OTAS backend verify here and
 * keys hashed here verify there.
 *
 * The stored string is untrusted text from the database, so it is parsed
 * strictly before any work: exactly four '$' fields, the one algorithm we
 * implement, a plain decimal iteration count in a sane range (the count is
 * the cost an attacker would make us pay), a non-empty salt used as bytes
 * the way Django does (never decoded), and a 44-character base64 hash.
 * Like Django's verify(), the comparison is of base64 text: the fresh
 * encoding of PBKDF2(pw) against the stored field, always the same 44
 * bytes, with CRYPTO_memcmp so its time says nothing about the content.
 *
 * SHA-256 is fetched from OpenSSL's provider once per process: OpenSSL 3
 * looks EVP_sha256() up again on every use, which the hot path would feel.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "decimal.h"
#include "hash.h"
#include "random.h"

#define HASH_ALG	"pbkdf2_sha256"
#define HASH_DK_LEN	32	/* SHA-256 digest size: Django's dklen=None */
#define HASH_B64_LEN	44	/* base64 of 32 bytes, one '=' of padding */
#define HASH_SALT_LEN	22	/* Django >= 3.1: 128 bits of [A-Za-z0-9] */

struct hash_parsed {
	long		 iterations;
	const char	*salt;
	size_t		 salt_len;
	const char	*b64;		/* HASH_B64_LEN bytes */
};

/* Plain decimal, no leading zero, in [1, HASH_MAX_ITERATIONS]. */
static long
hash_parse_iterations(const char *s, size_t len)
{
	long long n;

	if (len == 0 || s[0] == '0' ||
	    decimal_parse(s, len, 1, HASH_MAX_ITERATIONS, &n) == -1)
		return -1;
	return (long)n;
}

static int
hash_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* 43 standard base64 characters and the one '=' that 32 bytes need. */
static int
hash_b64_field_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len != HASH_B64_LEN || s[HASH_B64_LEN - 1] != '=')
		return 0;
	for (i = 0; i < HASH_B64_LEN - 1; i++)
		if (!hash_b64_char(s[i]))
			return 0;
	return 1;
}

static int
hash_parse(const char *enc, struct hash_parsed *p)
{
	const char	*f[4];
	size_t		 flen[4], i;
	const char	*s, *d;

	if (enc == NULL)
		return -1;
	/* Split into exactly four fields; a fifth '$' fails the hash field. */
	s = enc;
	for (i = 0; i < 3; i++) {
		if ((d = strchr(s, '$')) == NULL)
			return -1;
		f[i] = s;
		flen[i] = (size_t)(d - s);
		s = d + 1;
	}
	f[3] = s;
	flen[3] = strlen(s);

	if (flen[0] != sizeof(HASH_ALG) - 1 ||
	    memcmp(f[0], HASH_ALG, flen[0]) != 0)
		return -1;
	if ((p->iterations = hash_parse_iterations(f[1], flen[1])) == -1)
		return -1;
	if (flen[2] == 0 || flen[2] > INT_MAX)
		return -1;
	if (!hash_b64_field_ok(f[3], flen[3]))
		return -1;
	p->salt = f[2];
	p->salt_len = flen[2];
	p->b64 = f[3];
	return 0;
}

/* base64(PBKDF2-HMAC-SHA256) into b64 (HASH_B64_LEN + 1 bytes). */
static int
hash_compute(const char *pw, size_t len, const char *salt, size_t salt_len,
    long iterations, char b64[HASH_B64_LEN + 1])
{
	unsigned char	 dk[HASH_DK_LEN];
	int		 n, rc = -1;

	if (len > INT_MAX || salt_len > INT_MAX || iterations < 1 ||
	    iterations > HASH_MAX_ITERATIONS)
		return -1;
	if (pw == NULL)
		pw = "";
	if (PKCS5_PBKDF2_HMAC(pw, (int)len, (const unsigned char *)salt,
	    (int)salt_len, (int)iterations, EVP_sha256(), sizeof(dk),
	    dk) == 1) {
		n = EVP_EncodeBlock((unsigned char *)b64, dk, sizeof(dk));
		if (n == HASH_B64_LEN)
			rc = 0;
	}
	OPENSSL_cleanse(dk, sizeof(dk));
	return rc;
}

enum hash_result
hash_verify(const char *pw, size_t len, const char *encoded)
{
	struct hash_parsed	 p;
	char			 b64[HASH_B64_LEN + 1];
	enum hash_result	 r;

	if (hash_parse(encoded, &p) == -1)
		return HASH_MALFORMED;
	if (pw == NULL && len != 0)
		return HASH_MISMATCH;
	if (hash_compute(pw, len, p.salt, p.salt_len, p.iterations,
	    b64) == -1)
		return HASH_MISMATCH;
	r = CRYPTO_memcmp(b64, p.b64, HASH_B64_LEN) == 0 ? HASH_MATCH :
	    HASH_MISMATCH;
	OPENSSL_cleanse(b64, sizeof(b64));
	return r;
}

long
hash_iterations(const char *encoded)
{
	struct hash_parsed	 p;

	if (hash_parse(encoded, &p) == -1)
		return -1;
	return p.iterations;
}

int
hash_make(const char *pw, size_t len, long iterations, char *out,
    size_t cap)
{
	char	 salt[HASH_SALT_LEN + 1], b64[HASH_B64_LEN + 1];
	int	 n;

	if (out == NULL || cap == 0)
		return -1;
	out[0] = '\0';
	if ((pw == NULL && len != 0) || iterations < 1 ||
	    iterations > HASH_MAX_ITERATIONS)
		return -1;
	if (random_alnum(salt, HASH_SALT_LEN) == -1 ||
	    hash_compute(pw, len, salt, HASH_SALT_LEN, iterations, b64) == -1)
		return -1;
	n = snprintf(out, cap, "%s$%ld$%s$%s", HASH_ALG, iterations, salt,
	    b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= cap) {
		OPENSSL_cleanse(out, cap);
		out[0] = '\0';
		return -1;
	}
	return 0;
}

static EVP_MD *hash_sha256_md;
static pthread_once_t hash_sha256_once = PTHREAD_ONCE_INIT;

static void
hash_sha256_fetch(void)
{
	hash_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int
hash_sha256(const void *data, size_t len, unsigned char out[HASH_SHA256_LEN])
{
	unsigned int n = 0;

	pthread_once(&hash_sha256_once, hash_sha256_fetch);
	if (hash_sha256_md == NULL ||
	    EVP_Digest(data, len, out, &n, hash_sha256_md, NULL) != 1 ||
	    n != HASH_SHA256_LEN)
		return -1;
	return 0;
}
