/*
 * become — check --as USER: the process turns into USER for good (its
 * groups, gid, uid, and the environment a login gives), before anything
 * is read, so check sees the settings, secret files and ~/.pgpass as the
 * programs running as USER would.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passwd.h"
#include "admin.h"

/*
 * The static build must not call getpwnam or initgroups: static glibc
 * loads the host's NSS modules for them and crashes in there (Debian's
 * libnss_systemd).  It reads /etc/passwd and /etc/group itself
 * (lib/passwd.c); the dynamic build asks NSS, so LDAP or systemd users
 * are found too.
 */
#define BECOME_FILE_MAX	(4 * 1024 * 1024)
#define BECOME_GROUPS	1024

struct who {
	struct passwd_entry	 e;
	gid_t			 groups[BECOME_GROUPS];
	int			 ngroups;
};

#ifdef OTAS_STATIC_BUILD
/* A whole file of at most BECOME_FILE_MAX bytes; caller frees. */
static char *
read_small(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	if ((buf = malloc(BECOME_FILE_MAX)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, BECOME_FILE_MAX, f);
	if (ferror(f) || n == BECOME_FILE_MAX) {
		fclose(f);
		free(buf);
		errno = n == BECOME_FILE_MAX ? EFBIG : EIO;
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static int
who_find(const char *user, struct who *w)
{
	char	*text;
	size_t	 len;
	int	 found;

	if ((text = read_small("/etc/passwd", &len)) == NULL)
		return fail(EXIT_FAIL, "check --as: cannot read /etc/passwd: "
		    "%s", strerror(errno));
	found = passwd_find(text, len, user, &w->e);
	free(text);
	if (!found)
		return fail(EXIT_FAIL, "check --as: no user %s in /etc/passwd "
		    "(the static otas-admin reads no other user database)",
		    user);
	if ((text = read_small("/etc/group", &len)) == NULL)
		return fail(EXIT_FAIL, "check --as: cannot read /etc/group: "
		    "%s", strerror(errno));
	w->ngroups = passwd_groups(text, len, w->e.name, w->e.gid, w->groups,
	    BECOME_GROUPS);
	free(text);
	if (w->ngroups < 0)
		return fail(EXIT_FAIL, "check --as %s: in more than %d groups",
		    w->e.name, BECOME_GROUPS);
	return 0;
}
#else
static int
who_find(const char *user, struct who *w)
{
	struct passwd	*pw;
	int		 n, ng = BECOME_GROUPS;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return fail(EXIT_FAIL, "check --as: no user %s%s%s", user,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
	n = snprintf(w->e.name, sizeof(w->e.name), "%s", pw->pw_name);
	if (n < 0 || (size_t)n >= sizeof(w->e.name) ||
	    (n = snprintf(w->e.home, sizeof(w->e.home), "%s", pw->pw_dir)) < 0 ||
	    (size_t)n >= sizeof(w->e.home))
		return fail(EXIT_FAIL, "check --as: user name or home too long");
	w->e.uid = pw->pw_uid;
	w->e.gid = pw->pw_gid;
	if (getgrouplist(w->e.name, w->e.gid, w->groups, &ng) == -1)
		return fail(EXIT_FAIL, "check --as %s: in more than %d groups",
		    w->e.name, BECOME_GROUPS);
	w->ngroups = ng;
	return 0;
}
#endif

/*
 * Becomes user for the rest of the process: its groups, then its gid, then
 * its uid, and HOME, USER and LOGNAME as a login would set them, so libpq
 * finds that user's ~/.pgpass and default role name.  A user other than
 * oneself needs root; a process still able to get root back afterwards is
 * a failure too.  Oneself (a shared host's customer, whom suEXEC runs the
 * programs as) is checked as is: nothing to become.
 */
int
admin_become(const char *user)
{
	static struct who	 w;	/* 4 KiB of groups: not on the stack */

	if (who_find(user, &w) != 0)
		return EXIT_FAIL;
	if (w.e.uid == getuid() && w.e.uid == geteuid() && w.e.uid != 0)
		return 0;
	if (geteuid() != 0)
		return fail(EXIT_FAIL, "check --as: only root can check as "
		    "another user (run it as %s itself, or as root)",
		    w.e.name);
	if (setgroups((size_t)w.ngroups, w.groups) == -1 ||
	    setgid(w.e.gid) == -1 || setuid(w.e.uid) == -1)
		return fail(EXIT_FAIL, "check --as %s: cannot become it: %s",
		    w.e.name, strerror(errno));
	if (w.e.uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return fail(EXIT_FAIL, "check --as %s: root could be regained",
		    w.e.name);
	if (setenv("HOME", w.e.home, 1) == -1 ||
	    setenv("USER", w.e.name, 1) == -1 ||
	    setenv("LOGNAME", w.e.name, 1) == -1)
		return fail(EXIT_FAIL, "out of memory");
	return 0;
}
