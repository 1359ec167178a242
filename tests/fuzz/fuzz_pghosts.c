/*
 * fuzz_pghosts — libFuzzer target for pghosts_parse/pghosts_params
 * (lib/pghosts.h), which split the database URL of the settings (file or
 * environment) into one set of connection parameters per host.
 *
 * The input is the URL or conninfo string.  Properties: a URL taken apart
 * names 2..PGHOSTS_MAX hosts; each host's parameters are NULL-terminated,
 * name every keyword at most once, and hold as host, hostaddr and port
 * exactly the field of that index of libpq's own comma list (read off it
 * here independently; one port stands for all); its name for the log is a
 * string inside its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pghosts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Field i of list s (all of s when it has no comma), as length. */
static int
field(const char *s, int i, const char **start, size_t *len)
{
	const char *end;

	if (s == NULL || s[0] == '\0')
		return 0;
	if (strchr(s, ',') == NULL)
		i = 0;
	for (; i > 0; i--)
		if ((s = strchr(s, ',')) == NULL)
			abort();
		else
			s++;
	end = strchr(s, ',');
	*start = s;
	*len = end != NULL ? (size_t)(end - s) : strlen(s);
	return *len > 0;
}

static void
check_list(const struct pghosts *h, int i, const char *kw[], const char
    *val[], int n, const char *keyword)
{
	const char *want, *got = NULL;
	size_t len = 0;
	int j, has;

	has = field(pghosts_option(h, keyword), i, &want, &len);
	for (j = 0; j < n; j++)
		if (strcmp(kw[j], keyword) == 0)
			got = val[j];
	if (has != (got != NULL) || (has && (strlen(got) != len ||
	    memcmp(got, want, len) != 0)))
		abort();
}

static void
check_host(const struct pghosts *h, int i)
{
	const char *kw[64], *val[64];
	char name[32];
	int n, j, k;

	if ((n = pghosts_params(h, i, "any", kw, val, 64)) < 0 ||
	    kw[n] != NULL || val[n] != NULL)
		abort();
	for (j = 0; j < n; j++)
		for (k = j + 1; k < n; k++)
			if (strcmp(kw[j], kw[k]) == 0)
				abort();
	check_list(h, i, kw, val, n, "host");
	check_list(h, i, kw, val, n, "hostaddr");
	check_list(h, i, kw, val, n, "port");
	pghosts_name(h, i, name, sizeof(name));
	if (memchr(name, '\0', sizeof(name)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pghosts h;
	char *url;
	int i, r;

	if ((url = malloc(size + 1)) == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	r = pghosts_parse(&h, url);
	free(url);		/* h keeps nothing of it */
	if (r == 1) {
		if (h.n < 2 || h.n > PGHOSTS_MAX)
			abort();
		for (i = 0; i < h.n; i++)
			check_host(&h, i);
		pghosts_free(&h);
	} else if (r == 0 && h.opts != NULL)
		abort();
	return 0;
}
