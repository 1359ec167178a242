/*
 * base64url — RFC 4648 section 5 without padding, both ways: the alphabet
 * of JWT segments and of key secrets, so both are safe in a header and a
 * URL.
 */
#ifndef OTAS_BASE64URL_H
#define OTAS_BASE64URL_H

#include <stddef.h>

/* Characters of the encoding of n bytes (no padding, no NUL). */
#define BASE64URL_LEN(n)	(((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Encodes in[0..n) into out (BASE64URL_LEN(n) + 1 bytes, NUL-ended). */
size_t	base64url_encode(const unsigned char *in, size_t n, char *out);

/* The value (0..63) of one of the 64 characters, or -1. */
int	base64url_value(unsigned char c);

/*
 * Whether s[0..n) is the one encoding of some byte string: alphabet only,
 * a length that leaves whole bytes, and zero bits after the last one.
 * (libb64 skipped stray bytes and ignored leftover bits; refusing them
 * means the text a signature covers is the text that is read.)
 */
int	base64url_canonical(const char *s, size_t n);

/* Canonical s[0..n) into out (3 * n / 4 bytes); returns the bytes written. */
size_t	base64url_decode(const char *s, size_t n, unsigned char *out);

#endif
