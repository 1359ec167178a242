/*
 * pghosts — a multi-host libpq URL as one set of parameters per host (see
 * pghosts.h for why).  libpq parses the URL; this file only splits the
 * three comma lists it leaves as they are (host, hostaddr, port) and
 * matches their entries by index, as libpq does before it walks them.
 * Anything libpq would refuse (lists of different lengths) is left to
 * libpq, given the URL whole, so its message reaches the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pghosts.h"

enum list { HOST, HOSTADDR, PORT, NLISTS };

static const char *const list_keyword[NLISTS] = { "host", "hostaddr", "port" };

const char *
pghosts_option(const struct pghosts *h, const char *keyword)
{
	const PQconninfoOption *o;

	for (o = h->opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val;
	return NULL;
}

/*
 * Copies list k of the URL and cuts it at its commas (libpq knows no
 * escape for them).  Returns its number of entries (0: not set; only the
 * first PGHOSTS_MAX are kept) or -1 when out of memory.
 */
static int
split(struct pghosts *h, enum list k)
{
	const char *v = pghosts_option(h, list_keyword[k]);
	char *s;
	int n = 1;

	if (v == NULL || v[0] == '\0')
		return 0;
	if ((h->lists[k] = strdup(v)) == NULL)
		return -1;
	h->entry[k][0] = h->lists[k];
	for (s = h->lists[k]; (s = strchr(s, ',')) != NULL; n++) {
		*s++ = '\0';
		if (n < PGHOSTS_MAX)
			h->entry[k][n] = s;
	}
	return n;
}

/* 1 when the lists name 2..PGHOSTS_MAX hosts and match as libpq wants. */
static int
matched(struct pghosts *h, const int count[NLISTS])
{
	int n = count[HOST] > 0 ? count[HOST] : count[HOSTADDR], i;

	if (n < 2 || n > PGHOSTS_MAX)
		return 0;
	if (count[HOSTADDR] != 0 && count[HOSTADDR] != n)
		return 0;
	if (count[PORT] > 1 && count[PORT] != n)
		return 0;
	for (i = 1; count[PORT] == 1 && i < n; i++)
		h->entry[PORT][i] = h->entry[PORT][0];	/* one port for all */
	h->n = n;
	return 1;
}

int
pghosts_parse(struct pghosts *h, const char *url)
{
	int count[NLISTS], r;
	char *err = NULL;
	enum list k;

	memset(h, 0, sizeof(*h));
	if (url == NULL)
		return 0;
	if ((h->opts = PQconninfoParse(url, &err)) == NULL) {
		/* No message: out of memory.  A bad URL: libpq says why. */
		r = err == NULL ? -1 : 0;
		PQfreemem(err);
		return r;
	}
	for (k = HOST; k < NLISTS; k++)
		if ((count[k] = split(h, k)) == -1) {
			pghosts_free(h);
			return -1;
		}
	if ((r = matched(h, count)) != 1)
		pghosts_free(h);
	return r;
}

/* What host i is given for o: its entry, attrs, or the URL's value. */
static const char *
value_for(const struct pghosts *h, const PQconninfoOption *o, int i,
    const char *attrs)
{
	enum list k;

	for (k = HOST; k < NLISTS; k++)
		if (strcmp(o->keyword, list_keyword[k]) == 0)
			return h->entry[k][i];
	if (attrs != NULL && strcmp(o->keyword, "target_session_attrs") == 0)
		return attrs;
	return o->val;
}

int
pghosts_params(const struct pghosts *h, int i, const char *attrs,
    const char **kw, const char **val, int cap)
{
	const PQconninfoOption *o;
	const char *v;
	int n = 0;

	if (i < 0 || i >= h->n || cap < 1)
		return -1;
	for (o = h->opts; o->keyword != NULL; o++) {
		/* libpq skips empty values too; unset ones take its defaults. */
		if ((v = value_for(h, o, i, attrs)) == NULL || v[0] == '\0')
			continue;
		if (n + 1 >= cap)
			return -1;
		kw[n] = o->keyword;
		val[n++] = v;
	}
	kw[n] = NULL;
	val[n] = NULL;
	return n;
}

const char *
pghosts_attrs(const struct pghosts *h)
{
	const char *v = pghosts_option(h, "target_session_attrs");

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static const char *
part(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "default";
}

void
pghosts_name(const struct pghosts *h, int i, char *out, size_t cap)
{
	const char *host = h->entry[HOST][i];
	int w;

	if (host == NULL || host[0] == '\0')
		host = h->entry[HOSTADDR][i];
	w = snprintf(out, cap, "%s:%s", part(host), part(h->entry[PORT][i]));
	if (w < 0 || (size_t)w >= cap)
		snprintf(out, cap, "host %d", i + 1);	/* a long socket path */
}

void
pghosts_free(struct pghosts *h)
{
	enum list k;

	PQconninfoFree(h->opts);
	for (k = HOST; k < NLISTS; k++)
		free(h->lists[k]);
	memset(h, 0, sizeof(*h));
}
