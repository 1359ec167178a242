/*
 * key — the agent key as presented: `agent_<prefix>_<secret>`.  Keys of the
 * original backend have prefixes from token_urlsafe(8), which may contain
 * '_' themselves, so the split is ambiguous: key_parse lists the candidate
 * prefixes (at most KEY_MAX_SPLITS, shortest first) and the database lookup
 * tries them all in one query.
 */
#ifndef OTAS_KEY_H
#define OTAS_KEY_H

#include <stddef.h>

#include "base64url.h"

#define KEY_MAX_LEN	512	/* longer is malformed, never looked up */
#define KEY_MAX_SPLITS	8
#define KEY_PREFIX_MAX	64
#define KEY_HEAD	"agent_"

/* Keys issued here: agent_ + 12 of [A-Za-z0-9] + _ + 32 random bytes. */
#define KEY_PREFIX_LEN	12
#define KEY_SECRET_BYTES 32
#define KEY_SECRET_LEN	BASE64URL_LEN(KEY_SECRET_BYTES)
#define KEY_ISSUED_LEN	(sizeof(KEY_HEAD) - 1 + KEY_PREFIX_LEN + 1 + \
			 KEY_SECRET_LEN)

struct key_parts {
	int	nprefix;
	char	prefix[KEY_MAX_SPLITS][KEY_PREFIX_MAX + 1];
};

/*
 * Parses key[0..len).  Returns 0 and fills out, or -1 when the key is
 * malformed: empty, over KEY_MAX_LEN, a byte outside [A-Za-z0-9_-], no
 * "agent_" head, or no split with a non-empty prefix and secret.
 */
int	key_parse(const char *key, size_t len, struct key_parts *out);

#endif
