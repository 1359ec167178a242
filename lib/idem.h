/*
 * idem — the Idempotency-Key request header of the session endpoint
 * (draft-ietf-httpapi-idempotency-key-header): an agent that retries a
 * create it never saw the answer to sends the same key, and gets the same
 * session and token instead of a second session.
 *
 * The header is a Structured Field Item whose value is a String (RFC 8941
 * section 3.3.3): `Idempotency-Key: "8e03978e-40d5"`.  We accept exactly a
 * String of 1 to IDEM_KEY_MAX characters, with optional spaces around it,
 * and nothing else: no parameters, no token or other item type, no second
 * member.  idem_parse decodes it into a fixed buffer the caller owns.
 */
#ifndef OTAS_IDEM_H
#define OTAS_IDEM_H

#include <stddef.h>

#define IDEM_KEY_MAX	255	/* characters of the decoded string */

struct idem_key {
	char	value[IDEM_KEY_MAX + 1];	/* decoded, NUL-terminated */
	size_t	len;				/* 1 .. IDEM_KEY_MAX */
};

/*
 * Parses the field value s[0..len) (need not be NUL-terminated).  Returns
 * 0 and fills out, or -1 when it is not one sf-string of 1 to IDEM_KEY_MAX
 * characters; out->len is 0 then.
 */
int	idem_parse(const char *s, size_t len, struct idem_key *out);

#endif
