/*
 * fuzz_passwd — libFuzzer target for passwd_find and passwd_groups
 * (lib/passwd.h), the static otas-admin's reader of /etc/passwd and
 * /etc/group.
 *
 * The input's first line is the name looked for, the rest the file's text
 * (read as both files).  Properties: a user found has a NUL-terminated
 * name and home, and the name is the one asked for unless it was a uid;
 * the group list starts with the primary gid, holds each gid once, and
 * never exceeds its room.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct passwd_entry	 e;
	const char		*nl;
	char			 user[64];
	gid_t			 g[16];
	size_t			 ulen;
	int			 n, i, j;

	if ((nl = memchr(data, '\n', size)) == NULL)
		return 0;
	ulen = (size_t)(nl - (const char *)data);
	if (ulen >= sizeof(user) || memchr(data, '\0', ulen) != NULL)
		return 0;
	memcpy(user, data, ulen);
	user[ulen] = '\0';
	data += ulen + 1;
	size -= ulen + 1;
	if (passwd_find((const char *)data, size, user, &e) == 1) {
		if (memchr(e.name, '\0', sizeof(e.name)) == NULL ||
		    memchr(e.home, '\0', sizeof(e.home)) == NULL)
			abort();
		if (strcmp(e.name, user) != 0 &&
		    strspn(user, "0123456789") != ulen)
			abort();
	}
	n = passwd_groups((const char *)data, size, user, 7, g, 16);
	if (n < -1 || n == 0 || n > 16 || (n > 0 && g[0] != 7))
		abort();
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (g[i] == g[j])
				abort();
	return 0;
}
