/*
 * body — the request body read from the connection, with its size decided
 * before reading (CONTENT_LENGTH) and enforced while reading.  Validating
 * it and finding its "meta" is body_json.h's subject.
 */
#ifndef OTAS_BODY_H
#define OTAS_BODY_H

#include <stddef.h>

#include "serve.h"
#include "status.h"

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

#endif
