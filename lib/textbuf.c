/*
 * textbuf — vsnprintf's own count tells a cut: n >= room means it did not
 * fit, and n < 0 an encoding error; both leave *len where it was.
 */
#include <stdio.h>

#include "textbuf.h"

int
textbuf_vappend(char *buf, size_t cap, size_t *len, const char *fmt,
    va_list ap)
{
	int n;

	if (*len >= cap)
		return -1;
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}
