/*
 * body — the request body: read with its size decided before reading
 * (CONTENT_LENGTH) and enforced while reading, then validated as strict
 * RFC 8259 JSON, and the raw bytes of its "meta" member located so they can
 * be stored exactly (PostgreSQL makes the jsonb; no double ever touches a
 * number).
 */
#ifndef OTAS_BODY_H
#define OTAS_BODY_H

#include <stddef.h>

#include "serve.h"
#include "status.h"

#define BODY_MAX_DEPTH 64

struct body_meta {
	const char	*json;		/* NUL-terminated meta text, or "{}" */
};

/*
 * Reads the body into buf (cap bytes, at least max + 1).  content_length is
 * req.content_length: -1 absent (read to the end, at most max), -2 invalid.
 * Returns OTAS_OK with *len set and buf[*len] == '\0', OTAS_ERR_TOO_LARGE
 * (decided before reading when the length is declared), OTAS_ERR_JSON for a
 * body shorter than declared or an invalid length, OTAS_ERR_SERVER on a read
 * error.  *why gets a static detail for the log.
 */
enum otas_status body_read(struct conn *c, long long content_length,
	    size_t max, char *buf, size_t cap, size_t *len, const char **why);

/*
 * Validates buf[0..len) (buf[len] must be '\0'; the buffer is modified: the
 * end of meta is NUL-terminated in place).  An empty body means meta {}.
 * Returns OTAS_OK and sets *meta, OTAS_ERR_JSON (not one strict JSON object
 * no deeper than BODY_MAX_DEPTH) or OTAS_ERR_META (meta neither an object
 * nor null, or holding a \u0000 jsonb cannot store).
 */
enum otas_status body_parse(char *buf, size_t len, struct body_meta *meta,
	    const char **why);

#endif
