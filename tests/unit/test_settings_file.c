/*
 * test_settings_file — the settings file found without /proc ($OTAS_CONFIG,
 * beside argv[0], SCRIPT_FILENAME, the working directory, PATH) and named
 * by its absolute path; read only when a regular file within the limit;
 * its lines split into NAME=value in order with their line numbers, and a
 * line of any other shape refused with its line.  What the settings mean
 * is test_config's.  Every test starts in the directory the run started
 * in, with PATH as it was and neither OTAS_CONFIG nor SCRIPT_FILENAME set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "settings_file.h"
#include "site.h"

static int
reset(void **state)
{
	unsetenv("OTAS_CONFIG");
	unsetenv("SCRIPT_FILENAME");
	return site_back_to_start();
}

/* ------------------------------------------- what open must do */

/* settings_file_open must find the site's file and read text from it. */
static void
assert_found(const struct site *s, const char *argv0, const char *text)
{
	struct settings_file f;
	char err[512] = "";

	if (settings_file_open(&f, argv0, err, sizeof(err)) != 1)
		fail_msg("%s not found for argv0 %s: %s", s->conf, argv0, err);
	assert_string_equal(f.path, s->conf);
	assert_string_equal(f.dir, s->dir);
	assert_int_equal(f.len, strlen(text));
	assert_memory_equal(f.text, text, f.len);
	assert_int_equal(f.text[f.len], '\0');
	settings_file_close(&f);
	assert_null(f.text);
	free(f.path);
}

/* settings_file_open must fail, naming path, saying words. */
static void
assert_open_refused(const char *argv0, const char *path, const char *words)
{
	struct settings_file f;
	char err[512];

	memset(err, 0, sizeof(err));
	if (settings_file_open(&f, argv0, err, sizeof(err)) != -1) {
		settings_file_close(&f);
		free(f.path);
		fail_msg("%s accepted", path);
	}
	if (strstr(err, path) == NULL || strstr(err, words) == NULL)
		fail_msg("want \"%s\" and \"%s\", got \"%s\"", path, words, err);
	assert_null(f.text);
}

/* ------------------------------------------------- finding the file */

static void
named_file_is_read_and_named_absolutely(void **state)
{
	struct site s;

	site_make(&s, "OTAS_TOKEN_TTL=60\n");
	setenv("OTAS_CONFIG", s.conf, 1);
	assert_found(&s, NULL, "OTAS_TOKEN_TTL=60\n");
	/* Relative to the working directory, named from / in messages. */
	assert_int_equal(chdir(s.dir), 0);
	setenv("OTAS_CONFIG", "./otas.conf", 1);
	assert_found(&s, NULL, "OTAS_TOKEN_TTL=60\n");
	setenv("OTAS_CONFIG", "otas.conf", 1);
	assert_found(&s, NULL, "OTAS_TOKEN_TTL=60\n");
	site_remove(&s);
}

static void
named_file_wins_over_one_beside_the_program(void **state)
{
	struct site named, beside;

	site_make(&named, "OTAS_TOKEN_TTL=61\n");
	site_make(&beside, "OTAS_TOKEN_TTL=62\n");
	setenv("OTAS_CONFIG", named.conf, 1);
	assert_found(&named, beside.program, "OTAS_TOKEN_TTL=61\n");
	site_remove(&named);
	site_remove(&beside);
}

static void
named_file_that_is_missing_is_an_error(void **state)
{
	setenv("OTAS_CONFIG", "/nonexistent/otas.conf", 1);
	assert_open_refused(NULL, "/nonexistent/otas.conf", "cannot read");
}

/*
 * How a program may be started, and so where it looks for the file beside
 * itself: its argv[0], the directory it runs in, SCRIPT_FILENAME, PATH,
 * and whether the program file is in the site's directory ("@" in a
 * string stands for that directory).
 */
static const struct {
	const char	*argv0, *cwd, *script_filename, *path;
	int		 program_there;
} started[] = {
	{ "@/otas-session", NULL, NULL, NULL, 0 },
	/* "./otas-admin" in a shell: the file is named by its absolute path. */
	{ "./otas-admin", "@", NULL, NULL, 0 },
	/* suEXEC and mod_cgi: chdir to the script's directory, exec the bare
	 * name. */
	{ "otas-session", "@", NULL, "/usr/bin:/bin", 1 },
	{ "otas-session", "/", "@/otas-session", NULL, 0 },
	{ "otas-session", "/", NULL, "/nonexistent:@:/bin", 1 },
};

/* text with its "@" (if any) replaced by dir, in buf. */
static const char *
at_site(char *buf, size_t size, const char *text, const char *dir)
{
	const char *at = strchr(text, '@');
	int n;

	if (at == NULL)
		return text;
	n = snprintf(buf, size, "%.*s%s%s", (int)(at - text), text, dir,
	    at + 1);
	assert_true(n >= 0 && (size_t)n < size);
	return buf;
}

static void
file_found_beside_the_program_however_it_was_started(void **state)
{
	struct site s;
	char buf[4][256];
	size_t i;

	for (i = 0; i < sizeof(started) / sizeof(started[0]); i++) {
		site_make(&s, "OTAS_TOKEN_LEEWAY=5\n");
		if (started[i].program_there)
			site_file(&s, "otas-session", "#!/bin/false\n", 0700);
		if (started[i].cwd)
			assert_int_equal(chdir(at_site(buf[0], sizeof(buf[0]),
			    started[i].cwd, s.dir)), 0);
		if (started[i].script_filename)
			setenv("SCRIPT_FILENAME", at_site(buf[1],
			    sizeof(buf[1]), started[i].script_filename, s.dir),
			    1);
		if (started[i].path)
			setenv("PATH", at_site(buf[2], sizeof(buf[2]),
			    started[i].path, s.dir), 1);
		assert_found(&s, at_site(buf[3], sizeof(buf[3]),
		    started[i].argv0, s.dir), "OTAS_TOKEN_LEEWAY=5\n");
		site_remove(&s);
		assert_int_equal(reset(NULL), 0);
	}
}

static void
no_file_beside_the_program_or_no_program_is_none(void **state)
{
	struct site s;
	struct settings_file f;
	char err[512];

	site_make(&s, NULL);
	assert_int_equal(settings_file_open(&f, s.program, err, sizeof(err)),
	    0);
	assert_null(f.path);
	assert_null(f.text);
	site_remove(&s);
	assert_int_equal(settings_file_open(&f, NULL, err, sizeof(err)), 0);
	assert_int_equal(settings_file_open(&f, "", err, sizeof(err)), 0);
}

static void
unreadable_file_beside_the_program_is_an_error(void **state)
{
	struct site s;

	/* A directory where the file should be: there, but not readable. */
	site_make(&s, NULL);
	assert_int_equal(mkdir(s.conf, 0700), 0);
	assert_open_refused(s.program, s.conf, "cannot read");
	assert_int_equal(rmdir(s.conf), 0);
	site_remove(&s);
}

static void
file_larger_than_64_kib_is_refused_and_at_64_kib_read(void **state)
{
	struct site s;
	struct settings_file f;
	char err[512], *big;
	const size_t n = SETTINGS_FILE_MAX;

	assert_non_null(big = malloc(n + 1));
	memset(big, '#', n + 1);
	site_make(&s, NULL);
	site_write(&s, "otas.conf", big, n, 0600);
	setenv("OTAS_CONFIG", s.conf, 1);
	assert_int_equal(settings_file_open(&f, NULL, err, sizeof(err)), 1);
	assert_int_equal(f.len, n);
	settings_file_close(&f);
	free(f.path);
	site_write(&s, "otas.conf", big, n + 1, 0600);
	free(big);
	assert_open_refused(NULL, s.conf, "larger than 65536 bytes");
	site_remove(&s);
}

static void
file_mode_is_reported_for_the_privacy_rule(void **state)
{
	struct site s;
	struct settings_file f;
	char err[512];

	site_make(&s, NULL);
	site_file(&s, "otas.conf", "#\n", 0644);
	setenv("OTAS_CONFIG", s.conf, 1);
	assert_int_equal(settings_file_open(&f, NULL, err, sizeof(err)), 1);
	assert_int_equal(f.st.st_mode & 0777, 0644);
	settings_file_close(&f);
	free(f.path);
	site_remove(&s);
}

/* ------------------------------------------------------------- trust */

static void
privacy_rule_allows_group_read_only_to_a_file_root_owns(void **state)
{
	static const struct { uid_t uid; mode_t mode; int ok; } cases[] = {
		{ 1000, 0600, 1 }, { 1000, 0400, 1 }, { 0, 0600, 1 },
		{ 0, 0640, 1 }, { 0, 0440, 1 },
		{ 1000, 0640, 0 }, { 1000, 0604, 0 }, { 1000, 0644, 0 },
		{ 1000, 0610, 0 }, { 0, 0660, 0 }, { 0, 0604, 0 },
		{ 0, 0620, 0 }, { 0, 0601, 0 },
	};
	struct stat st;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&st, 0, sizeof(st));
		st.st_uid = cases[i].uid;
		st.st_mode = S_IFREG | cases[i].mode;
		err[0] = '\0';
		if (settings_file_private("/x/jwt-secret", &st, "the JWT "
		    "secret file", "a JWT secret", err, sizeof(err)) !=
		    (cases[i].ok ? 0 : -1))
			fail_msg("uid %u mode %o: %s", (unsigned)cases[i].uid,
			    (unsigned)cases[i].mode, err);
		if (!cases[i].ok) {
			assert_non_null(strstr(err, "/x/jwt-secret holds a "
			    "JWT secret but group or others have access"));
			assert_non_null(strstr(err, "chmod 600"));
		}
	}
}

/* Root's tests: a file and a directory of another user need chown. */
static void
file_of_another_user_or_in_a_writable_directory_is_refused(void **state)
{
	struct site s;
	struct settings_file f;
	char err[512];

	if (geteuid() != 0)
		skip();
	site_make(&s, "#\n");
	setenv("OTAS_CONFIG", s.conf, 1);
	assert_int_equal(chown(s.conf, 65534, 65534), 0);
	assert_open_refused(NULL, s.conf, "belongs to uid 65534, not to the "
	    "user the program runs as (uid 0) or root");
	assert_int_equal(chown(s.conf, 0, 0), 0);
	assert_int_equal(chmod(s.dir, 0777), 0);
	assert_open_refused(NULL, s.conf, "in a directory that group or "
	    "others may write to");
	assert_int_equal(chmod(s.dir, 0770), 0);
	assert_open_refused(NULL, s.conf, "in a directory that group or "
	    "others may write to");
	/* Sticky, as /tmp: nobody else may rename or remove the file. */
	assert_int_equal(chmod(s.dir, 01777), 0);
	assert_int_equal(settings_file_open(&f, NULL, err, sizeof(err)), 1);
	settings_file_close(&f);
	free(f.path);
	assert_int_equal(chmod(s.dir, 0755), 0);
	assert_int_equal(chown(s.dir, 65534, 65534), 0);
	assert_open_refused(NULL, s.conf, "in a directory of uid 65534");
	assert_int_equal(chown(s.dir, 0, 0), 0);
	assert_int_equal(settings_file_open(&f, NULL, err, sizeof(err)), 1);
	settings_file_close(&f);
	free(f.path);
	site_remove(&s);
}

/* ----------------------------------------------------------- reading */

static void
read_stops_one_byte_past_the_limit(void **state)
{
	struct site s;
	char buf[9];

	site_make(&s, "0123456789abcdef");
	assert_int_equal(settings_file_read(s.conf, buf, 8, NULL), 9);
	assert_memory_equal(buf, "012345678", 9);
	site_file(&s, "otas.conf", "01234567", 0600);
	assert_int_equal(settings_file_read(s.conf, buf, 8, NULL), 8);
	assert_memory_equal(buf, "01234567", 8);
	site_remove(&s);
}

static void
read_refuses_a_fifo_without_waiting_and_a_directory(void **state)
{
	struct site s;
	char buf[16], fifo[160];

	site_make(&s, NULL);
	snprintf(fifo, sizeof(fifo), "%s/fifo", s.dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* No writer ever opens it: a blocking open would hang the test. */
	assert_int_equal(settings_file_read(fifo, buf, 8, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(settings_file_read(s.dir, buf, 8, NULL), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(settings_file_read("/nonexistent", buf, 8, NULL), -1);
	assert_int_equal(errno, ENOENT);
	site_remove(&s);
}

/* ------------------------------------------------------------- lines */

/* What set was handed, "LINE:NAME=VALUE\n" a call; it refuses STOP. */
struct seen {
	struct settings_file *f;
	char	 text[1024];
	size_t	 used;
};

static int
collect(void *arg, const char *name, size_t len, const char *value)
{
	struct seen *s = arg;
	int n;

	n = snprintf(s->text + s->used, sizeof(s->text) - s->used,
	    "%u:%.*s=%s\n", s->f->line, (int)len, name, value);
	assert_true(n > 0 && (size_t)n < sizeof(s->text) - s->used);
	s->used += (size_t)n;
	return len == 4 && memcmp(name, "STOP", 4) == 0 ? -1 : 0;
}

/* Parses bytes[0..len) as a file; returns the parse's result. */
static int
parse(const char *bytes, size_t len, struct seen *seen, const char **why,
    unsigned *line)
{
	struct settings_file f;
	int rc;

	memset(&f, 0, sizeof(f));
	assert_non_null(f.text = malloc(len + 1));
	memcpy(f.text, bytes, len);
	f.text[len] = '\0';
	f.len = len;
	memset(seen, 0, sizeof(*seen));
	seen->f = &f;
	rc = settings_file_parse(&f, collect, seen, why);
	*line = f.line;
	free(f.text);
	return rc;
}

#define PARSE(s, seen, why, line) parse(s, sizeof(s) - 1, seen, why, line)

static void
lines_are_handed_over_in_order_with_their_line_numbers(void **state)
{
	struct seen seen;
	const char *why;
	unsigned line;

	assert_int_equal(PARSE("# a comment\n\n \t \nA=1\n  # indented\n"
	    "\tB_2=two words = and more\r\nc=\nLAST=no newline", &seen,
	    &why, &line), 0);
	assert_string_equal(seen.text, "4:A=1\n6:B_2=two words = and more\n"
	    "7:c=\n8:LAST=no newline\n");
	assert_null(why);
}

static void
an_empty_file_has_no_lines(void **state)
{
	struct seen seen;
	const char *why;
	unsigned line;

	assert_int_equal(PARSE("", &seen, &why, &line), 0);
	assert_string_equal(seen.text, "");
	assert_int_equal(PARSE("\n\n#\n", &seen, &why, &line), 0);
	assert_string_equal(seen.text, "");
}

/* The line must be refused as no NAME=value, at line, before set sees it. */
static void
assert_line_refused(const char *text, unsigned want_line, const char *words)
{
	struct seen seen;
	const char *why;
	unsigned line;

	if (parse(text, strlen(text), &seen, &why, &line) != -1)
		fail_msg("accepted: %s", text);
	assert_non_null(why);
	if (strstr(why, words) == NULL)
		fail_msg("\"%s\": why is \"%s\"", text, why);
	assert_int_equal(line, want_line);
	assert_null(strstr(seen.text, "BAD"));
}

static void
lines_that_are_not_name_equals_value_are_refused_with_their_line(
    void **state)
{
	assert_line_refused("A=1\nBAD\n", 2, "NAME=value");
	assert_line_refused("BAD = 1\n", 1, "NAME=value");
	assert_line_refused("BAD =1\n", 1, "NAME=value");
	assert_line_refused("export BAD=1\n", 1, "NAME=value");
	assert_line_refused("#\n#\n=1\n", 3, "NAME=value");
	assert_line_refused("\"BAD\"=1\n", 1, "NAME=value");
	assert_line_refused("BAD-NAME=1\n", 1, "NAME=value");
	assert_line_refused("B\x1b[31mAD=1\n", 1, "NAME=value");
}

static void
names_of_up_to_64_characters_are_accepted(void **state)
{
	char text[SETTINGS_FILE_NAME_MAX + 8];
	struct seen seen;
	const char *why;
	unsigned line;

	memset(text, 'N', SETTINGS_FILE_NAME_MAX);
	snprintf(text + SETTINGS_FILE_NAME_MAX, 8, "=v\n");
	assert_int_equal(parse(text, strlen(text), &seen, &why, &line), 0);
	memset(text, 'N', SETTINGS_FILE_NAME_MAX + 1);
	snprintf(text + SETTINGS_FILE_NAME_MAX + 1, 7, "=v\n");
	assert_line_refused(text, 1, "NAME=value");
}

static void
nul_byte_in_a_line_is_refused_with_its_line(void **state)
{
	static const char text[] = "#\nA=6\0000\n";
	struct seen seen;
	const char *why;
	unsigned line;

	assert_int_equal(PARSE(text, &seen, &why, &line), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, "NUL"));
	assert_int_equal(line, 2);
	assert_string_equal(seen.text, "");
	/* Even in a comment: the file is not text. */
	assert_int_equal(PARSE("# a\000b\n", &seen, &why, &line), -1);
	assert_non_null(why);
}

static void
a_refusal_by_set_stops_the_parse_with_no_why(void **state)
{
	struct seen seen;
	const char *why;
	unsigned line;

	assert_int_equal(PARSE("A=1\nSTOP=now\nB=2\n", &seen, &why, &line), -1);
	assert_null(why);
	assert_int_equal(line, 2);
	assert_string_equal(seen.text, "1:A=1\n2:STOP=now\n");
}

#define T(f) cmocka_unit_test_setup(f, reset)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(named_file_is_read_and_named_absolutely),
		T(named_file_wins_over_one_beside_the_program),
		T(named_file_that_is_missing_is_an_error),
		T(file_found_beside_the_program_however_it_was_started),
		T(no_file_beside_the_program_or_no_program_is_none),
		T(unreadable_file_beside_the_program_is_an_error),
		T(file_larger_than_64_kib_is_refused_and_at_64_kib_read),
		T(file_mode_is_reported_for_the_privacy_rule),
		T(privacy_rule_allows_group_read_only_to_a_file_root_owns),
		T(file_of_another_user_or_in_a_writable_directory_is_refused),
		T(read_stops_one_byte_past_the_limit),
		T(read_refuses_a_fifo_without_waiting_and_a_directory),
		T(lines_are_handed_over_in_order_with_their_line_numbers),
		T(an_empty_file_has_no_lines),
		T(lines_that_are_not_name_equals_value_are_refused_with_their_line),
		T(names_of_up_to_64_characters_are_accepted),
		T(nul_byte_in_a_line_is_refused_with_its_line),
		T(a_refusal_by_set_stops_the_parse_with_no_why),
	};

	if (site_remember_start() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
