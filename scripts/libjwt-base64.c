/*
 * libjwt-base64 — the two base64 functions libjwt's jwt.c calls
 * (jwt_Base64encode, jwt_Base64decode), for the static libjwt that
 * scripts/static-libjwt builds: Debian's libjwt source leaves out
 * upstream's base64.c (Debian links libb64 instead, a library it ships
 * only as a shared one).  Written here, for that build only; the dynamic
 * programs use Debian's libjwt as it is.
 *
 * The standard alphabet with '=' padding, both ways: jwt.c turns the
 * result into base64url itself (and back before decoding).  Decoding
 * refuses (returns 0, which jwt.c takes as an error) any byte outside the
 * alphabet, padding anywhere but at the end, and a length that is not a
 * multiple of 4; otas-authz has checked each segment's canonical
 * base64url before libjwt sees it, so this never meets worse.
 */
#include <string.h>

#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
jwt_Base64encode(char *out, const char *in, int len)
{
	const unsigned char	*p = (const unsigned char *)in;
	unsigned long		 v;
	int			 i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		    p[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)p[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o + 1;		/* with the NUL, as upstream's did */
}

/* The value of one alphabet character, or -1. */
static int
value(unsigned char c)
{
	const char	*at;

	if (c == '\0' || (at = strchr(alphabet, c)) == NULL)
		return -1;
	return (int)(at - alphabet);
}

int
jwt_Base64decode(char *out, const char *in)
{
	size_t		 n = strlen(in), i, pad = 0;
	unsigned long	 v;
	int		 o = 0, k, d;

	if (n == 0 || n % 4 != 0)
		return 0;
	while (pad < 2 && in[n - 1 - pad] == '=')
		pad++;
	for (i = 0; i < n; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + (size_t)k >= n - pad)
				d = 0;
			else if ((d = value((unsigned char)in[i + k])) < 0)
				return 0;
			v = v << 6 | (unsigned long)d;
		}
		out[o++] = (char)(v >> 16 & 255);
		if (i + 4 < n || pad < 2)
			out[o++] = (char)(v >> 8 & 255);
		if (i + 4 < n || pad < 1)
			out[o++] = (char)(v & 255);
	}
	return o;
}
