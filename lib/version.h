/*
 * version — the release number, compiled in from the top-level VERSION file
 * (the only place it is written), and the `--version` answer every program
 * gives before it reads any setting.
 */
#ifndef OTAS_VERSION_H
#define OTAS_VERSION_H

/* "1.0.0": what VERSION said when this build was made. */
const char	*version_string(void);

/*
 * When argv is exactly { prog, "--version" } and the process is not a CGI
 * request, prints "PROG VERSION" on stdout and returns 1 (the program is
 * done: exit 0), or -1 when stdout cannot be written (exit 1); otherwise
 * returns 0, printing nothing, and the program goes on.
 */
int		 version_answer(const char *prog, int argc, char **argv);

#endif
