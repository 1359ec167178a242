/*
 * idem — RFC 8941's String parsing (section 4.2.5) for one header value,
 * written out rather than taken from a library: Debian 12 packages no C
 * Structured Fields parser, and the one item type we accept is a dozen
 * lines.  Leading and trailing spaces are discarded as the field parsing
 * rules say (4.2); between the quotes only printable ASCII is allowed, and
 * a backslash may escape only '"' or '\'.  The length limit counts the
 * decoded characters, so an escaped quote is one character.
 */
#include <string.h>

#include "idem.h"

static size_t
skip_spaces(const char *s, size_t i, size_t len)
{
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* Decodes the string starting after its opening quote; index past it. */
static int
decode(const char *s, size_t *i, size_t len, struct idem_key *out)
{
	unsigned char c;

	while (*i < len) {
		c = (unsigned char)s[(*i)++];
		if (c == '"')
			return 0;
		if (c == '\\') {
			if (*i >= len)
				return -1;
			c = (unsigned char)s[(*i)++];
			if (c != '"' && c != '\\')
				return -1;
		} else if (c < 0x20 || c > 0x7e)
			return -1;
		if (out->len == IDEM_KEY_MAX)
			return -1;
		out->value[out->len++] = (char)c;
	}
	return -1;			/* no closing quote */
}

int
idem_parse(const char *s, size_t len, struct idem_key *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	i = skip_spaces(s, 0, len);
	if (i >= len || s[i++] != '"' || decode(s, &i, len, out) == -1 ||
	    out->len == 0 || skip_spaces(s, i, len) != len) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->value[out->len] = '\0';
	return 0;
}
