/*
 * settings_file — where the settings file is, its bytes, and its
 * NAME=value lines.
 *
 * The file exists for hosts where the environment cannot reach the
 * program: suEXEC clears it, mod_fcgid takes FcgidInitialEnv only from the
 * server configuration.  So the file is found without any environment —
 * beside the program, from argv[0] or the working directory (suEXEC and
 * mod_cgi chdir to the script's directory), never via /proc, which a chroot
 * may lack.  Its user wrote it by hand, perhaps on Windows: the grammar is
 * the smallest that says what a line means (no quotes, no blanks around
 * '='), and anything else is refused with its line rather than guessed at.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "settings_file.h"

static int refuse(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* -1 with the sentence in err; truncating it is fine, never overrunning. */
static int
refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* --------------------------------------------------------------- reading */

/* dir = the part of path before its last '/' ("/" for "/x"). */
static int
dir_of(const char *path, const char *slash, char *dir, size_t cap)
{
	int n;

	if (slash == path)
		n = snprintf(dir, cap, "/");
	else
		n = snprintf(dir, cap, "%.*s", (int)(slash - path), path);
	return n < 0 || (size_t)n >= cap ? -1 : 1;
}

ssize_t
settings_file_read(const char *path, char *buf, size_t max, struct stat *stp)
{
	struct stat st;
	size_t n = 0;
	ssize_t r = 0;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	if (stp != NULL)
		*stp = st;
	while (n <= max) {
		r = read(fd, buf + n, max + 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	e = errno;
	close(fd);
	errno = e;
	return r == -1 ? -1 : (ssize_t)n;
}

/*
 * f->dir = the absolute directory of path, and the file's name from there
 * in f->path, so messages in a log say which file wherever the program was
 * started.
 */
static int
file_dir(struct settings_file *f, const char *path, char *err,
    size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	char cwd[PATH_MAX], full[PATH_MAX + NAME_MAX + 2];
	int n;

	if (slash == path + 1 && path[0] == '.')	/* "./otas.conf" */
		slash = NULL;
	if (slash == path)
		n = snprintf(f->dir, sizeof(f->dir), "/");
	else if (slash != NULL && path[0] == '/')
		n = snprintf(f->dir, sizeof(f->dir), "%.*s",
		    (int)(slash - path), path);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return refuse(err, errlen, "cannot find the working "
		    "directory: %s", strerror(errno));
	else if (slash == NULL)
		n = snprintf(f->dir, sizeof(f->dir), "%s", cwd);
	else
		n = snprintf(f->dir, sizeof(f->dir), "%s/%.*s", cwd,
		    (int)(slash - path), path);
	if (n < 0 || (size_t)n >= sizeof(f->dir))
		return refuse(err, errlen, "%s: the path is too long", path);
	n = snprintf(full, sizeof(full), "%s%s%s", f->dir,
	    strcmp(f->dir, "/") == 0 ? "" : "/", base);
	if (n < 0 || (size_t)n >= sizeof(full))
		return refuse(err, errlen, "%s: the path is too long", path);
	if ((f->path = strdup(full)) == NULL)
		return refuse(err, errlen, "out of memory");
	return 0;
}

/*
 * Whether path's directory may be searched: when it may not, open fails
 * with EACCES whether the file exists or not, and the message says so.
 */
static int
dir_searchable(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int n;

	if (slash == NULL)
		return access(".", X_OK) == 0;
	n = slash == path ? snprintf(dir, sizeof(dir), "/") :
	    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return 1;	/* cannot tell: the plain message */
	return access(dir, X_OK) == 0;
}

/* 1 with the file read; 0 when optional and absent. */
static int
file_open(struct settings_file *f, const char *path, int optional,
    char *err, size_t errlen)
{
	ssize_t n;

	/* One byte past the limit to notice more, one for the NUL. */
	if ((f->text = malloc(SETTINGS_FILE_MAX + 2)) == NULL)
		return refuse(err, errlen, "out of memory");
	n = settings_file_read(path, f->text, SETTINGS_FILE_MAX, &f->st);
	if (n == -1 && optional && errno == ENOENT) {
		settings_file_close(f);
		return 0;
	}
	if (n == -1 && errno == EACCES && !dir_searchable(path))
		refuse(err, errlen, "cannot tell whether the settings file %s "
		    "exists: its directory cannot be searched by this user; "
		    "the programs, run as this user, refuse to start the same "
		    "way (make the directory searchable, or name the file "
		    "with OTAS_CONFIG)", path);
	else if (n == -1)
		refuse(err, errlen, "cannot read the settings file %s: %s",
		    path, strerror(errno));
	else if (n > SETTINGS_FILE_MAX)
		refuse(err, errlen, "the settings file %s is larger than %d "
		    "bytes", path, SETTINGS_FILE_MAX);
	else if (file_dir(f, path, err, errlen) == 0) {
		/* Named by its absolute path, wherever the program started. */
		if (settings_file_owned(f->path, &f->st, "the settings file",
		    err, errlen) == 0) {
			f->len = (size_t)n;
			f->text[f->len] = '\0';
			return 1;
		}
		free(f->path);
		f->path = NULL;
	}
	settings_file_close(f);
	return -1;
}

/* ----------------------------------------------------------------- trust */

/*
 * ssh's StrictModes: whoever may replace a file decides what the program
 * does, so the file must be the running user's or root's, in a directory
 * that is too, and that nobody else may write to (unless it is sticky, as
 * /tmp, where nobody can rename another's file).  Only the file's own
 * directory is checked: its parents are the host's, not the user's.
 */
int
settings_file_owned(const char *path, const struct stat *st,
    const char *what, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct stat ds;
	uid_t me = geteuid();

	if (st->st_uid != me && st->st_uid != 0)
		return refuse(err, errlen, "%s %s belongs to uid %lu, not to "
		    "the user the program runs as (uid %lu) or root: chown "
		    "it", what, path, (unsigned long)st->st_uid,
		    (unsigned long)me);
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (dir_of(path, slash, dir, sizeof(dir)) == -1)
		return refuse(err, errlen, "%s: the path is too long", path);
	if (stat(dir, &ds) == -1)
		return refuse(err, errlen, "cannot check the directory of %s "
		    "%s: %s", what, path, strerror(errno));
	if (ds.st_uid != me && ds.st_uid != 0)
		return refuse(err, errlen, "%s %s is in a directory of uid "
		    "%lu, not of the user the program runs as (uid %lu) or "
		    "root, who could replace it", what, path,
		    (unsigned long)ds.st_uid, (unsigned long)me);
	if ((ds.st_mode & (S_IWGRP | S_IWOTH)) && !(ds.st_mode & S_ISVTX))
		return refuse(err, errlen, "%s %s is in a directory that group "
		    "or others may write to, so they could replace it: chmod "
		    "go-w the directory", what, path);
	return 0;
}

/*
 * libpq's rule for .pgpass, PostgreSQL's for its key file: a file holding
 * a secret is for its owner's eyes only.  One exception, also
 * PostgreSQL's: a file root owns may be read (not written) by its group,
 * for root chose that group (root:www-data 0640 in the web-server
 * examples); a user's own file readable by a group on a shared host may be
 * readable by the web server, and so by every other customer.
 */
int
settings_file_private(const char *path, const struct stat *st,
    const char *what, const char *holds, char *err, size_t errlen)
{
	mode_t deny = S_IRWXO | S_IWGRP | S_IXGRP;

	if (st->st_uid != 0)
		deny |= S_IRGRP;
	if ((st->st_mode & deny) == 0)
		return 0;
	return refuse(err, errlen, "%s %s holds %s but group or others have "
	    "access to it: chmod 600 it%s", what, path, holds,
	    st->st_uid == 0 ? " (or 640, root owning it)" : "");
}

/* ----------------------------------------------- where the program lives */

/* The directory of the first PATH entry holding name; 0: none does. */
static int
path_search(const char *name, char *dir, size_t cap)
{
	const char *p = getenv("PATH"), *colon;
	char cand[PATH_MAX];
	size_t n;
	int w;

	while (p != NULL && *p != '\0') {
		colon = strchr(p, ':');
		n = colon != NULL ? (size_t)(colon - p) : strlen(p);
		w = snprintf(cand, sizeof(cand), "%.*s/%s", n > 0 ? (int)n : 1,
		    n > 0 ? p : ".", name);
		if (w > 0 && (size_t)w < sizeof(cand) &&
		    access(cand, X_OK) == 0)
			return dir_of(cand, strrchr(cand, '/'), dir, cap);
		p = colon != NULL ? colon + 1 : NULL;
	}
	return 0;
}

/*
 * The program's directory: argv[0] when it holds a '/' (mod_fcgid,
 * lighttpd, a shell); else SCRIPT_FILENAME (plain CGI); else the working
 * directory when the program is there (suEXEC execs the bare name after a
 * chdir); else the PATH entry a shell found it in.  Returns 1 with dir, 0
 * when none applies, -1 when too long.
 */
static int
program_dir(const char *argv0, char *dir, size_t cap)
{
	const char *sf = getenv("SCRIPT_FILENAME"), *slash;

	if (argv0 == NULL || argv0[0] == '\0')
		return 0;
	if ((slash = strrchr(argv0, '/')) != NULL)
		return dir_of(argv0, slash, dir, cap);
	if (sf != NULL && (slash = strrchr(sf, '/')) != NULL)
		return dir_of(sf, slash, dir, cap);
	if (access(argv0, F_OK) == 0)
		return snprintf(dir, cap, ".") == 1 ? 1 : -1;
	return path_search(argv0, dir, cap);
}

int
settings_file_open(struct settings_file *f, const char *argv0, char *err,
    size_t errlen)
{
	const char *named = getenv("OTAS_CONFIG");
	char dir[PATH_MAX], path[PATH_MAX + sizeof(SETTINGS_FILE_NAME) + 1];
	int rc, n;

	memset(f, 0, sizeof(*f));
	if (named != NULL && named[0] != '\0')
		return file_open(f, named, 0, err, errlen);
	if ((rc = program_dir(argv0, dir, sizeof(dir))) == 0)
		return 0;
	n = snprintf(path, sizeof(path), "%s/%s", dir, SETTINGS_FILE_NAME);
	if (rc == -1 || n < 0 || (size_t)n >= sizeof(path))
		return refuse(err, errlen, "the program's path is too long to "
		    "find %s beside it", SETTINGS_FILE_NAME);
	return file_open(f, path, 1, err, errlen);
}

void
settings_file_close(struct settings_file *f)
{
	if (f->text != NULL) {
		OPENSSL_cleanse(f->text, SETTINGS_FILE_MAX + 2);
		free(f->text);
	}
	f->text = NULL;
	f->len = 0;
}

/* ------------------------------------------------------------- the lines */

/* A name worth quoting back: letters, digits, '_' only (no log injection). */
static int
name_printable(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > SETTINGS_FILE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return 0;
	return 1;
}

/* One line, NUL-terminated in place: blank, "# comment" or NAME=value. */
static int
file_line(char *p, size_t len, settings_file_set *set, void *arg,
    const char **why)
{
	char *eq;
	size_t i = 0;

	if (len > 0 && p[len - 1] == '\r')	/* uploaded from Windows */
		p[--len] = '\0';
	if (memchr(p, '\0', len) != NULL) {
		*why = "the line holds a NUL byte";
		return -1;
	}
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == len || p[i] == '#')
		return 0;
	if ((eq = memchr(p + i, '=', len - i)) == NULL ||
	    !name_printable(p + i, (size_t)(eq - (p + i)))) {
		*why = "expected NAME=value (no blanks around '=', no quotes)";
		return -1;
	}
	return set(arg, p + i, (size_t)(eq - (p + i)), eq + 1);
}

int
settings_file_parse(struct settings_file *f, settings_file_set *set,
    void *arg, const char **why)
{
	char *text = f->text, *p = text, *nl;
	size_t n, len = f->len;

	*why = NULL;
	for (f->line = 1; p < text + len; f->line++) {
		nl = memchr(p, '\n', (size_t)(text + len - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(text + len - p);
		p[n] = '\0';	/* text has room for one byte past len */
		if (file_line(p, n, set, arg, why) == -1)
			return -1;
		p += n + 1;
	}
	return 0;
}
