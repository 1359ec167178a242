/*
 * uuid — UUIDv7 (RFC 9562 §5.7) session ids made here, and the validator for
 * uuid strings that arrive from outside (token claims, admin arguments).
 */
#ifndef OTAS_UUID_H
#define OTAS_UUID_H

#include <stddef.h>

#define UUID_STR_LEN 36		/* without the terminating NUL */

/*
 * Writes a new UUIDv7 in canonical lower-case text form into out (37 bytes,
 * NUL-terminated).  Monotonic within a process: a later call never yields a
 * smaller id, even inside one millisecond.  Returns 0, or -1 when no random
 * bytes could be had (out is then an empty string).
 */
int	uuid7_make(char out[UUID_STR_LEN + 1]);

/* 1 when s[0..len) is a canonical 8-4-4-4-12 hex uuid (any version), else 0. */
int	uuid_valid(const char *s, size_t len);

#endif
