/*
 * random — secrets and salts drawn from OpenSSL's CSPRNG, the one place a
 * random text is made: [A-Za-z0-9] for Django salts and key prefixes,
 * base64url for key secrets.  (uuid.c keeps its own pool: it draws on
 * every request and must not pay a RAND_bytes call each time.)
 */
#ifndef OTAS_RANDOM_H
#define OTAS_RANDOM_H

#include <stddef.h>

/*
 * n characters of [A-Za-z0-9], each equally likely, then a NUL: out needs
 * n + 1 bytes.  0, or -1 when OpenSSL has no randomness.
 */
int	random_alnum(char *out, size_t n);

#define RANDOM_MAX_BYTES 64

/*
 * nbytes (at most RANDOM_MAX_BYTES) random bytes as unpadded base64url
 * into out, which needs BASE64URL_LEN(nbytes) + 1 bytes.  0, or -1.
 */
int	random_base64url(char *out, size_t nbytes);

#endif
