/*
 * base64url — RFC 4648 section 5 without padding: the alphabet of JWT
 * segments and of key secrets, so both are safe in a header and a URL.
 */
#ifndef OTAS_BASE64URL_H
#define OTAS_BASE64URL_H

#include <stddef.h>

/* Characters of the encoding of n bytes (no padding, no NUL). */
#define BASE64URL_LEN(n)	(((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Encodes in[0..n) into out (BASE64URL_LEN(n) + 1 bytes, NUL-ended). */
size_t	base64url_encode(const unsigned char *in, size_t n, char *out);

/* Whether c is one of the 64 characters. */
int	base64url_char(unsigned char c);

#endif
