/*
 * passwd — /etc/passwd and /etc/group taken apart by hand (see passwd.h
 * for why not getpwnam).  Both files are lines of ':'-separated fields:
 *   passwd: name:password:uid:gid:gecos:home:shell
 *   group:  name:password:gid:member,member,...
 * A line that is not well formed (too few fields, a number that is not
 * one, a name or home too long) is skipped, as glibc's files module skips
 * it; "+"/"-" NIS compatibility lines are not names and never match.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

/* One field: a pointer into the line and its length. */
struct field {
	const char	*p;
	size_t		 len;
};

/*
 * Splits line (len bytes) at ':' into at most max fields.  Returns the
 * number of fields found (the last one runs to the end of the line).
 */
static size_t
split(const char *line, size_t len, struct field *f, size_t max)
{
	size_t	 n = 0, start = 0, i;

	for (i = 0; i <= len && n < max; i++)
		if (i == len || line[i] == ':') {
			f[n].p = line + start;
			f[n].len = i - start;
			n++;
			start = i + 1;
		}
	return n;
}

/* A decimal id of at most 10 digits below UINT_MAX; -1 if not one. */
static long long
id_of(const struct field *f)
{
	long long	 v = 0;
	size_t		 i;

	if (f->len == 0 || f->len > 10)
		return -1;
	for (i = 0; i < f->len; i++) {
		if (f->p[i] < '0' || f->p[i] > '9')
			return -1;
		v = v * 10 + (f->p[i] - '0');
	}
	return v < (long long)UINT_MAX ? v : -1;
}

static int
same(const struct field *f, const char *s)
{
	size_t	 len = strlen(s);

	return f->len == len && memcmp(f->p, s, len) == 0;
}

/* Whether s is all digits (a uid given instead of a name). */
static int
numeric(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * The next line of text at *off (without its newline) as start and length;
 * 0 at the end.
 */
static int
next_line(const char *text, size_t len, size_t *off, const char **line,
    size_t *llen)
{
	const char	*nl;

	if (*off >= len)
		return 0;
	*line = text + *off;
	nl = memchr(*line, '\n', len - *off);
	*llen = nl != NULL ? (size_t)(nl - *line) : len - *off;
	*off += *llen + 1;
	return 1;
}

/* Fills e from the fields of a passwd line; 0 if it is not well formed. */
static int
entry_of(const struct field *f, size_t n, struct passwd_entry *e)
{
	long long	 uid, gid;

	if (n != 7 || f[0].len == 0 || f[0].p[0] == '+' || f[0].p[0] == '-' ||
	    memchr(f[0].p, '\0', f[0].len) != NULL ||
	    memchr(f[5].p, '\0', f[5].len) != NULL ||
	    f[0].len >= sizeof(e->name) || f[5].len >= sizeof(e->home) ||
	    (uid = id_of(&f[2])) < 0 || (gid = id_of(&f[3])) < 0)
		return 0;
	memcpy(e->name, f[0].p, f[0].len);
	e->name[f[0].len] = '\0';
	memcpy(e->home, f[5].p, f[5].len);
	e->home[f[5].len] = '\0';
	e->uid = (uid_t)uid;
	e->gid = (gid_t)gid;
	return 1;
}

int
passwd_find(const char *text, size_t len, const char *user,
    struct passwd_entry *e)
{
	struct field		 f[8];
	struct passwd_entry	 cand;
	const char		*line;
	size_t			 off = 0, llen, n;
	int			 by_id = 0;
	long long		 want = -1;

	if (numeric(user)) {
		struct field u = { user, strlen(user) };

		want = id_of(&u);
	}
	while (next_line(text, len, &off, &line, &llen)) {
		n = split(line, llen, f, 8);
		if (!entry_of(f, n, &cand))
			continue;
		if (same(&f[0], user)) {
			*e = cand;
			return 1;
		}
		if (!by_id && want >= 0 && (long long)cand.uid == want) {
			*e = cand;
			by_id = 1;	/* a later line named so still wins */
		}
	}
	return by_id;
}

/* Whether the comma list of members in f names user. */
static int
member(const struct field *f, const char *user)
{
	struct field	 m;
	size_t		 i, start = 0;

	for (i = 0; i <= f->len; i++)
		if (i == f->len || f->p[i] == ',') {
			m.p = f->p + start;
			m.len = i - start;
			if (same(&m, user))
				return 1;
			start = i + 1;
		}
	return 0;
}

static int
add_gid(gid_t *out, size_t *n, size_t cap, gid_t g)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		if (out[i] == g)
			return 0;
	if (*n >= cap)
		return -1;
	out[(*n)++] = g;
	return 0;
}

int
passwd_groups(const char *text, size_t len, const char *user,
    gid_t primary, gid_t *out, size_t cap)
{
	struct field	 f[5];
	const char	*line;
	size_t		 off = 0, llen, n = 0;
	long long	 gid;

	if (add_gid(out, &n, cap, primary) == -1)
		return -1;
	while (next_line(text, len, &off, &line, &llen)) {
		if (split(line, llen, f, 5) != 4 || f[0].len == 0 ||
		    f[0].p[0] == '+' || f[0].p[0] == '-' ||
		    (gid = id_of(&f[2])) < 0 || !member(&f[3], user))
			continue;
		if (add_gid(out, &n, cap, (gid_t)gid) == -1)
			return -1;
	}
	return (int)n;
}
