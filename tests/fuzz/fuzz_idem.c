/*
 * fuzz_idem — libFuzzer target for idem_parse (lib/idem.h), the parser of
 * the Idempotency-Key header value a client sends.
 *
 * The input is the field value, not NUL-terminated.  Two properties: an
 * accepted value serialises back (RFC 8941 section 4.1.6: quote, escape
 * '"' and '\') to exactly the input without its surrounding spaces, and a
 * value is accepted exactly when a reference written from the grammar
 * (sf-string = DQUOTE *chr DQUOTE, 1 to 255 characters) accepts it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The grammar, read off RFC 8941 section 3.3.3 independently. */
static int
reference(const uint8_t *d, size_t size)
{
	size_t a = 0, b = size, i, chars = 0;

	while (a < b && d[a] == ' ')
		a++;
	while (b > a && d[b - 1] == ' ')
		b--;
	if (b - a < 2 || d[a] != '"' || d[b - 1] != '"')
		return 0;
	for (i = a + 1; i < b - 1; i++, chars++) {
		if (d[i] == '\\') {
			if (i + 1 >= b - 1 || (d[i + 1] != '"' &&
			    d[i + 1] != '\\'))
				return 0;
			i++;
		} else if (d[i] == '"' || d[i] < 0x20 || d[i] > 0x7e)
			return 0;
	}
	return chars >= 1 && chars <= IDEM_KEY_MAX;
}

static void
check_round_trip(const uint8_t *d, size_t size, const struct idem_key *k)
{
	char out[2 * IDEM_KEY_MAX + 2];
	size_t a = 0, n = 0, i;

	if (k->len == 0 || k->len > IDEM_KEY_MAX ||
	    strlen(k->value) != k->len)
		abort();
	out[n++] = '"';
	for (i = 0; i < k->len; i++) {
		if (k->value[i] == '"' || k->value[i] == '\\')
			out[n++] = '\\';
		out[n++] = k->value[i];
	}
	out[n++] = '"';
	while (a < size && d[a] == ' ')
		a++;
	if (size - a < n || memcmp(d + a, out, n) != 0)
		abort();
	for (i = a + n; i < size; i++)
		if (d[i] != ' ')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idem_key k;
	int rc;

	rc = idem_parse((const char *)data, size, &k);
	if ((rc == 0) != reference(data, size))
		abort();
	if (rc == 0)
		check_round_trip(data, size, &k);
	else if (k.len != 0)
		abort();
	return 0;
}
