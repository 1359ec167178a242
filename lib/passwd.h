/*
 * passwd — the user and group databases read from the text of /etc/passwd
 * and /etc/group, for the one caller that must not ask NSS: the static
 * otas-admin's `check --as USER`.  Static glibc's getpwnam and initgroups
 * load the host's NSS modules (libnss_systemd.so.2 on Debian) into a
 * program linked without them, and crash there.
 *
 * The text is the caller's (read whole, bounded); nothing here allocates
 * or keeps a pointer into it.
 */
#ifndef OTAS_PASSWD_H
#define OTAS_PASSWD_H

#include <sys/types.h>
#include <stddef.h>

#define PASSWD_NAME_MAX	256
#define PASSWD_HOME_MAX	4096

struct passwd_entry {
	char	 name[PASSWD_NAME_MAX];
	char	 home[PASSWD_HOME_MAX];
	uid_t	 uid;
	gid_t	 gid;
};

/*
 * The line of passwd text (len bytes, NUL not needed) whose name is user,
 * or, when user is all digits, whose uid is that number and none is named
 * so.  Returns 1 with *e filled, 0 when no well-formed line matches.
 */
int	passwd_find(const char *text, size_t len, const char *user,
	    struct passwd_entry *e);

/*
 * The groups user belongs to by group text (len bytes): primary first,
 * then every group whose member list names user, each gid once, at most
 * cap.  Returns the count, or -1 when there are more than cap.
 */
int	passwd_groups(const char *text, size_t len, const char *user,
	    gid_t primary, gid_t *out, size_t cap);

#endif
