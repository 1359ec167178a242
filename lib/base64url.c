/*
 * base64url — three bytes to four characters at a time, the one or two
 * bytes left over to two or three; nothing to pad, nothing to strip.
 * Decoding accepts only the canonical text (see base64url_canonical), so
 * every byte string has exactly one spelling.
 */
#include "base64url.h"

static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "abcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
base64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = abc[in[i] >> 2];
		out[o++] = abc[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = abc[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		out[o++] = abc[in[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = abc[in[i] >> 2];
		out[o++] = abc[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = abc[in[i] >> 2];
		out[o++] = abc[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = abc[(in[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

int
base64url_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

int
base64url_canonical(const char *s, size_t n)
{
	size_t	 i;
	int	 last = 0;

	for (i = 0; i < n; i++)
		if ((last = base64url_value((unsigned char)s[i])) == -1)
			return 0;
	switch (n % 4) {
	case 1:
		return 0;
	case 2:
		return (last & 0x0f) == 0;
	case 3:
		return (last & 0x03) == 0;
	default:
		return 1;
	}
}

size_t
base64url_decode(const char *s, size_t n, unsigned char *out)
{
	unsigned int	 acc = 0;
	int		 bits = 0;
	size_t		 i, o = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 6 | (unsigned int)base64url_value(
		    (unsigned char)s[i])) & 0xffffu;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}
