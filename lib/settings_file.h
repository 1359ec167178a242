/*
 * settings_file — finding, reading and splitting the settings file: the
 * one file of settings a shared host's user uploads by hand, so every byte
 * of it is distrusted.  What a setting means is config.c's table; this
 * module only says where the file is and which NAME=value lines it holds.
 */
#ifndef OTAS_SETTINGS_FILE_H
#define OTAS_SETTINGS_FILE_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define SETTINGS_FILE_NAME	"otas.conf"	/* looked for beside the program */
#define SETTINGS_FILE_MAX	(64 * 1024)	/* bytes */
#define SETTINGS_FILE_NAME_MAX	64	/* longest NAME the grammar accepts */

struct settings_file {
	char		*path;		/* absolute; the caller frees it */
	char		 dir[PATH_MAX];	/* its directory, for relative paths */
	char		*text;		/* its bytes and a NUL; parsed in place */
	size_t		 len;
	struct stat	 st;		/* for the caller's privacy rule */
	unsigned	 line;		/* the line being parsed, from 1 */
};

/*
 * Finds and reads the file: $OTAS_CONFIG, which must exist, else otas.conf
 * beside the program, which may not (argv0: main's argv[0]; NULL looks for
 * none).  The program's directory is found without /proc: argv[0] with a
 * '/', else SCRIPT_FILENAME's, else the working directory holding argv[0],
 * else the PATH entry holding it.  Returns 1 with f filled (release with
 * settings_file_close), 0 when there is no file, or -1 with one sentence in
 * err (naming the path, whatever bytes it holds).
 */
int	settings_file_open(struct settings_file *f, const char *argv0,
	    char *err, size_t errlen);

/* What settings_file_parse hands each line to; 0 goes on, -1 stops. */
typedef int settings_file_set(void *arg, const char *name, size_t name_len,
    const char *value);

/*
 * Calls set(arg, name, name_len, value) for each NAME=value line in order,
 * with f->line its line.  Blank lines and lines whose first non-blank is
 * '#' are skipped; a final '\r' is dropped.  NAME is 1 to
 * SETTINGS_FILE_NAME_MAX of [A-Za-z0-9_] (safe to quote back); value is
 * the rest of the line, NUL-terminated, "" for "NAME=".  Returns 0, or -1:
 * when set returned -1 (*why NULL: set said why), or when line f->line is
 * not of that grammar or holds a NUL byte (*why: a static sentence).
 */
int	settings_file_parse(struct settings_file *f, settings_file_set *set,
	    void *arg, const char **why);

/* Wipes and frees f->text (a file may hold secrets); f->path stays. */
void	settings_file_close(struct settings_file *f);

/*
 * The one read of a file the settings name (this one, a JWT secret file):
 * a regular file only, opened O_NONBLOCK so a FIFO or a device named by
 * mistake cannot hang the start.  Reads at most max + 1 bytes into buf
 * (which has that room) and returns the count: max + 1 means the file is
 * larger than max.  -1 with errno when it cannot (EISDIR, EINVAL: not a
 * regular file).  st, when not NULL, gets the file's fstat.
 */
ssize_t	settings_file_read(const char *path, char *buf, size_t max,
	    struct stat *st);

/*
 * ssh's StrictModes for a file the settings come from (st: its stat; what:
 * "the settings file", "the JWT secret file"): it and its directory must
 * belong to the running user or root, and the directory must not be
 * writable by group or others unless sticky.  0, or -1 with one sentence
 * in err naming what and path.  settings_file_open applies it itself.
 */
int	settings_file_owned(const char *path, const struct stat *st,
	    const char *what, char *err, size_t errlen);

/*
 * The one privacy rule of a file holding a secret (holds: what it holds,
 * for the message), the settings file's and the JWT secret files': no
 * access for others, none for the group either, except read access to a
 * file root owns (PostgreSQL's rule for its key file).  0, or -1 with one
 * sentence in err ("... group or others have access to it: chmod 600 it").
 */
int	settings_file_private(const char *path, const struct stat *st,
	    const char *what, const char *holds, char *err, size_t errlen);

#endif
