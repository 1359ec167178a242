/*
 * hex — digit by digit, any case, exactly four of them: a short or
 * non-hex escape is -1, never a partial value.
 */
#include "hex.h"

static int
digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
hex_u16(const unsigned char *p, size_t n)
{
	long v = 0;
	int i, d;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((d = digit(p[i])) < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}
