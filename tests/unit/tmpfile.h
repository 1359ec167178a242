/*
 * tmpfile — a temporary file holding given bytes, for the unit tests that
 * read a file (test_config's secret files, test_body's stdin).  Include
 * after cmocka.h; the helper fails the test on any error.
 */
#ifndef OTAS_TEST_TMPFILE_H
#define OTAS_TEST_TMPFILE_H

#include <stdio.h>
#include <stdlib.h>

/* bytes[0..n) into a new file named from the template path (XXXXXX at
 * its end, rewritten in place); the caller unlinks path. */
static void
write_file(char path[], const char *bytes, size_t n)
{
	FILE *f;
	int fd;

	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "wb"));
	assert_int_equal(fwrite(bytes, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

#endif
