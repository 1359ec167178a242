/*
 * span — the length first, so memcmp never reads past either end and a
 * prefix of a word is not the word.
 */
#include <string.h>

#include "span.h"

int
span_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}
