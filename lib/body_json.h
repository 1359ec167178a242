/*
 * body_json — the request body validated as strict RFC 8259 JSON, and the
 * raw bytes of its "meta" member located so they can be stored exactly
 * (PostgreSQL makes the jsonb; no double ever touches a number).  Text in,
 * verdict out: no connection, so the parser and its fuzz target need no
 * FastCGI library.
 */
#ifndef OTAS_BODY_JSON_H
#define OTAS_BODY_JSON_H

#include <stddef.h>

#include "status.h"

#define BODY_MAX_DEPTH 64

struct body_meta {
	const char	*json;		/* NUL-terminated meta text, or "{}" */
};

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
