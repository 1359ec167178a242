/*
 * span — text given as a pointer and a length (a setting's name inside a
 * line, a unit after its digits, a claim's value in a token), compared
 * with the NUL-terminated words of our own tables.
 */
#ifndef OTAS_SPAN_H
#define OTAS_SPAN_H

#include <stddef.h>

/* Whether s[0..len) is exactly word: same length, same bytes. */
int	span_is(const char *s, size_t len, const char *word);

#endif
