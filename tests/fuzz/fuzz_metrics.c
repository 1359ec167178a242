/*
 * fuzz_metrics — libFuzzer target for the reader of the pool's metrics
 * file (lib/metrics.h): metrics_header_check and metrics_text on an image
 * as it could be read back from disk after a crash, a bad disk or another
 * program's writes.
 *
 * A valid image is 200 KiB of mostly zeros, too large for a fuzzer to
 * find, so the input is a list of patches to a valid one: 4 bytes of
 * offset (taken modulo the size), 1 byte of length, then that many bytes
 * written there; the header is as reachable as any slot.  Properties: no
 * crash or undefined behaviour; a header that passes the check gives text
 * (METRICS_TEXT_MAX is enough for any image), with no NUL in it and only
 * sample lines that start "otas_" or comment lines "# ".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *image;
static char text[METRICS_TEXT_MAX];

static void
patch(unsigned char *im, size_t len, const uint8_t *d, size_t size)
{
	size_t at, n;

	while (size >= 5) {
		at = ((size_t)d[0] << 24 | (size_t)d[1] << 16 |
		    (size_t)d[2] << 8 | d[3]) % len;
		n = d[4];
		d += 5;
		size -= 5;
		if (n > size)
			n = size;
		if (n > len - at)
			n = len - at;
		memcpy(im + at, d, n);
		d += n;
		size -= n;
	}
}

static void
lines_are_samples(const char *t, long n)
{
	long i = 0;

	if (memchr(t, '\0', (size_t)n) != NULL)
		abort();
	while (i < n) {
		if (strncmp(t + i, "otas_", 5) != 0 &&
		    strncmp(t + i, "# ", 2) != 0)
			abort();
		while (i < n && t[i] != '\n')
			i++;
		i++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = metrics_image_size();
	long n;

	if (image == NULL && posix_memalign(&image, 64, len) != 0)
		abort();
	metrics_image_init(image, 1700000000);
	patch(image, len, data, size);
	n = metrics_text(image, len, text, sizeof(text));
	if (metrics_header_check(image, len) == 0) {
		if (n < 0)
			abort();
		lines_are_samples(text, n);
	} else if (n != -1)
		abort();
	return 0;
}
