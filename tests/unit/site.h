/*
 * site — a private directory under /tmp for the unit tests that read the
 * settings file (test_config, test_settings_file): its otas.conf and the
 * files beside it, written with a given mode, and all of it removed again.
 * Include after cmocka.h; the helpers fail the test on any error.
 */
#ifndef OTAS_TEST_SITE_H
#define OTAS_TEST_SITE_H

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct site {
	char	dir[64];
	char	conf[128];	/* dir/otas.conf */
	char	program[128];	/* dir/otas-session: argv[0] of a program
				   beside the file */
};

/* dir/name holding len bytes, with mode (chmod'ed: no umask). */
static void
site_write(const struct site *s, const char *name, const void *bytes,
    size_t len, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void
site_file(const struct site *s, const char *name, const char *text,
    mode_t mode)
{
	site_write(s, name, text, strlen(text), mode);
}

/* A fresh directory; its otas.conf (0600) holds conf unless NULL. */
static void
site_make(struct site *s, const char *conf)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/otas-unit-site.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->conf, sizeof(s->conf), "%s/otas.conf", s->dir);
	snprintf(s->program, sizeof(s->program), "%s/otas-session", s->dir);
	if (conf != NULL)
		site_file(s, "otas.conf", conf, 0600);
}

/* The directory and every file in it (a test removes its own subdirs). */
static void
site_remove(struct site *s)
{
	char path[512];
	struct dirent *e;
	DIR *d;

	assert_non_null(d = opendir(s->dir));
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
		assert_int_equal(unlink(path), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(s->dir), 0);
}

/*
 * The working directory and PATH the test program started with: tests
 * change both (a program run by its bare name), and each test's set-up
 * puts them back.
 */
static char site_start_dir[PATH_MAX], site_start_path[4096];

/* First thing in main: 0, or -1 when the directory cannot be named. */
static int
site_remember_start(void)
{
	const char *path = getenv("PATH");

	if (getcwd(site_start_dir, sizeof(site_start_dir)) == NULL)
		return -1;
	snprintf(site_start_path, sizeof(site_start_path), "%s",
	    path ? path : "/bin");
	return 0;
}

/* Back to the start's PATH and directory: 0, or -1 (chdir failed). */
static int
site_back_to_start(void)
{
	setenv("PATH", site_start_path, 1);
	return chdir(site_start_dir);
}

#endif
