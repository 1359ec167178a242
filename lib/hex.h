/*
 * hex — the four hex digits of a JSON \uXXXX escape, read in one place for
 * both JSON readers (body.c's parser, token.c's screen).
 */
#ifndef OTAS_HEX_H
#define OTAS_HEX_H

#include <stddef.h>

/* The value of the 4 hex digits at p[0..n) (either case), or -1. */
long	hex_u16(const unsigned char *p, size_t n);

#endif
