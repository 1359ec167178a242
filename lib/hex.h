/*
 * hex — hexadecimal in one place: a digit's value (uuid.c's validator), the
 * four digits of a JSON \uXXXX escape for body.c's parser (a token's
 * JSON has no escape at all: tokjson.c), and bytes written as lowercase
 * digits for every writer (uuid.c's ids, the body hash otas-session
 * stores beside an Idempotency-Key).
 */
#ifndef OTAS_HEX_H
#define OTAS_HEX_H

#include <stddef.h>

/* The value of one hex digit (either case), or -1. */
int	hex_digit(unsigned char c);

/* The value of the 4 hex digits at p[0..n) (either case), or -1. */
long	hex_u16(const unsigned char *p, size_t n);

/*
 * Writes the n bytes of in as 2n lowercase digits and a NUL: out needs
 * 2 * n + 1 bytes (for a SHA-256 digest, 65).
 */
void	hex_encode(const unsigned char *in, size_t n, char *out);

#endif
