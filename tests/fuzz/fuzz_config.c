/*
 * fuzz_config — libFuzzer target for the settings file (lib/settings_file.c
 * finds, reads and splits it, lib/config.c judges each setting), the one
 * parser of a file a shared host's user uploads by hand.
 *
 * The input is written as the whole settings file (mode 0600, in a private
 * directory made once) and loaded through OTAS_CONFIG, so the real path
 * runs: open, read, line split, every setting's check, relative paths.
 * Checked against what config.h and settings_file.h promise: a refusal is
 * one printable line naming the file; a file holding a NUL byte, or a line
 * that is neither blank, a comment nor NAME=value, is never accepted; an
 * acceptance is released without a leak.  No OTAS_* variable is set, so
 * only the file counts.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern char **environ;

static char dir[] = "/tmp/fuzz_config.XXXXXX";
static char path[64];

/* The private directory goes when the fuzzer exits. */
static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void
setup(void)
{
	char **e;

	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/otas.conf", dir);
	/* Only the file may speak: drop every OTAS_* the shell passed. */
	for (e = environ; *e != NULL;)
		if (strncmp(*e, "OTAS_", 5) == 0) {
			char name[128];
			size_t n = strcspn(*e, "=");

			snprintf(name, sizeof(name), "%.*s", (int)n, *e);
			unsetenv(name);
			e = environ;
		} else
			e++;
	setenv("OTAS_CONFIG", path, 1);
}

/* A line the grammar refuses whatever its name: not blank, #, NAME=... */
static int
has_malformed_line(const uint8_t *d, size_t size)
{
	size_t i = 0, start, end;

	while (i < size) {
		start = i;
		while (i < size && d[i] != '\n')
			i++;
		end = i++;
		if (end > start && d[end - 1] == '\r')
			end--;
		while (start < end && (d[start] == ' ' || d[start] == '\t'))
			start++;
		if (start == end || d[start] == '#')
			continue;
		if (memchr(d + start, '=', end - start) == NULL ||
		    d[start] == '=')
			return 1;
	}
	return 0;
}

static void
check_refusal(const char *err)
{
	size_t i, n = strlen(err);

	if (n == 0 || strncmp(err, path, strlen(path)) != 0)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otas_config c;
	char err[512];
	int fd;

	if (path[0] == '\0')
		setup();
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, data, size) != (ssize_t)size || close(fd) == -1)
		abort();
	memset(err, 0, sizeof(err));
	if (config_load(&c, NULL, 0, err, sizeof(err)) == -1) {
		check_refusal(err);
		return 0;
	}
	if (memchr(data, '\0', size) != NULL || has_malformed_line(data, size))
		abort();
	if (c.settings_file == NULL || strcmp(c.settings_file, path) != 0)
		abort();
	config_free(&c);
	return 0;
}
