/*
 * version — OTAS_VERSION comes from the Makefile (it reads VERSION), so the
 * number a program, the tarball and the Debian package report is the same.
 * Only this file is compiled with it: a new release rebuilds one object.
 *
 * A CGI server may turn a query string without '=' into command-line
 * arguments (CGI/1.1, the "search" form), so `?--version` could reach argv:
 * under a web server (GATEWAY_INTERFACE set) the flag is not honoured and
 * the request is served as any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#ifndef OTAS_VERSION
#error "OTAS_VERSION must be defined (the Makefile passes it from VERSION)"
#endif

const char *
version_string(void)
{
	return OTAS_VERSION;
}

int
version_answer(const char *prog, int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--version") != 0 ||
	    getenv("GATEWAY_INTERFACE") != NULL)
		return 0;
	if (printf("%s %s\n", prog, OTAS_VERSION) < 0 || fflush(stdout) != 0)
		return -1;
	return 1;
}
