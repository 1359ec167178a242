/*
 * hash — the hashes of agent keys: Django's PBKDF2 password encoding, so
 * keys hashed by the original OTAS backend verify here and keys hashed here
 * verify there:
 *   pbkdf2_sha256$<iterations>$<salt>$<base64(PBKDF2-HMAC-SHA256(pw, salt, it, 32))>
 * and plain SHA-256, the name a verified key is remembered by.
 */
#ifndef OTAS_HASH_H
#define OTAS_HASH_H

#include <stddef.h>

#define HASH_MAX_ITERATIONS	10000000L
#define HASH_ENCODED_MAX	128	/* room for any encoding we make */
#define HASH_SHA256_LEN		32

enum hash_result {
	HASH_MATCH = 0,
	HASH_MISMATCH = 1,
	HASH_MALFORMED = 2	/* not a pbkdf2_sha256 encoding we accept */
};

/*
 * Verifies pw[0..len) against an encoded hash with a constant-time compare.
 * Strict parse: four '$' fields, algorithm "pbkdf2_sha256", iterations a
 * decimal in [1, HASH_MAX_ITERATIONS], salt non-empty and without '$'.
 */
enum hash_result hash_verify(const char *pw, size_t len, const char *encoded);

/* Iteration count of an encoding, or -1 when malformed.  Cheap. */
long	hash_iterations(const char *encoded);

/*
 * Encodes pw with a fresh 22-character [A-Za-z0-9] salt into out (cap bytes).
 * Returns 0, or -1 on a bad argument, lack of randomness or a short buffer.
 */
int	hash_make(const char *pw, size_t len, long iterations, char *out,
	    size_t cap);

/* SHA-256 of data[0..len) into out; 0, or -1 if OpenSSL fails. */
int	hash_sha256(const void *data, size_t len,
	    unsigned char out[HASH_SHA256_LEN]);

#endif
