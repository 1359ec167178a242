/*
 * textbuf — printf into the free end of a fixed buffer, with truncation
 * seen rather than silent: the metrics page and the FastCGI answer are
 * built this way, and a cut one is never sent as if whole.
 */
#ifndef OTAS_TEXTBUF_H
#define OTAS_TEXTBUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Formats at buf + *len (cap bytes in all) and advances *len: 0, or -1
 * with *len unchanged when the text (and its NUL) does not fit.
 */
int	textbuf_vappend(char *buf, size_t cap, size_t *len, const char *fmt,
	    va_list ap) __attribute__((format(printf, 4, 0)));

#endif
