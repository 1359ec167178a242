/*
 * pghosts — a libpq URL that names several hosts, taken apart into one
 * set of connection parameters per host.
 *
 * libpq walks a host list itself, but in the asynchronous connect db.c
 * uses it ignores connect_timeout, so a host that accepts and never
 * answers holds the whole deadline and the hosts after it are never
 * tried.  db.c therefore connects to one host at a time, each with its
 * share of the deadline, and this file says what libpq is given for host
 * i: every parameter of the URL as libpq parsed it (PQconninfoParse: no
 * URL parsing here), with the host, hostaddr and port entries of index i
 * only.  The comma lists are matched the way libpq matches them: the
 * hostaddr list as long as the host list, one port for all or one each.
 */
#ifndef OTAS_PGHOSTS_H
#define OTAS_PGHOSTS_H

#include <stddef.h>
#include <libpq-fe.h>

#define PGHOSTS_MAX	16	/* more: libpq walks the list alone */

struct pghosts {
	PQconninfoOption *opts;		/* the URL, as libpq parsed it */
	int		 n;		/* hosts, 2..PGHOSTS_MAX */
	char		*lists[3];	/* host, hostaddr, port, split */
	const char	*entry[3][PGHOSTS_MAX];	/* NULL: not in the URL */
};

/*
 * 1: url names 2..PGHOSTS_MAX hosts and *h holds them (pghosts_free).
 * 0: one host (or none, or lists libpq will refuse: it says why when it
 * is given the URL whole); *h holds nothing.  -1: out of memory.
 */
int	pghosts_parse(struct pghosts *h, const char *url);

/*
 * Host i's parameters into kw/val (cap entries, a NULL one included) for
 * PQconnectStartParams with expand_dbname 0; attrs, when not NULL,
 * replaces target_session_attrs.  Returns the entries written before the
 * NULL one, or -1 when cap is too small.
 */
int	pghosts_params(const struct pghosts *h, int i, const char *attrs,
	    const char **kw, const char **val, int cap);

/* The URL's value of keyword as libpq parsed it, or NULL: not set. */
const char *pghosts_option(const struct pghosts *h, const char *keyword);

/* The URL's target_session_attrs, or NULL when it sets none. */
const char *pghosts_attrs(const struct pghosts *h);

/* "host:port" of host i for the log ("default" for an empty part). */
void	pghosts_name(const struct pghosts *h, int i, char *out, size_t cap);

void	pghosts_free(struct pghosts *h);

#endif
