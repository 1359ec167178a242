/*
 * body — the request body read from the FastCGI connection: its size
 * decided before reading (CONTENT_LENGTH) and enforced while reading, so
 * no more than the limit plus one byte is ever taken in.  What the bytes
 * mean is body_json.c's subject.
 */
#include "body.h"

enum otas_status
body_read(struct conn *c, long long content_length, size_t max, char *buf,
    size_t cap, size_t *len, const char **why)
{
	size_t want;
	long got;

	*len = 0;
	if (cap < max + 1) {
		*why = "body buffer smaller than the limit";
		return OTAS_ERR_SERVER;
	}
	if (content_length == -2) {
		*why = "CONTENT_LENGTH is not a number";
		return OTAS_ERR_JSON;
	}
	if (content_length > (long long)max) {
		*why = "declared body over the limit";
		return OTAS_ERR_TOO_LARGE;
	}
	/* Unknown length: read one byte past the limit to see it exceeded. */
	want = content_length < 0 ? max + 1 : (size_t)content_length;
	if ((got = conn_read(c, buf, want)) < 0) {
		*why = "reading the body failed";
		return OTAS_ERR_SERVER;
	}
	if ((size_t)got > max) {
		*why = "body over the limit";
		return OTAS_ERR_TOO_LARGE;
	}
	if (content_length >= 0 && (size_t)got != want) {
		*why = "body shorter than CONTENT_LENGTH";
		return OTAS_ERR_JSON;
	}
	buf[got] = '\0';
	*len = (size_t)got;
	return OTAS_OK;
}
