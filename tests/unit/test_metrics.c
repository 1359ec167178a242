/*
 * test_metrics — the pool's metrics file and its text: a header of another
 * version or size is refused, counts come out under their program, status
 * and bucket, a process that exits or dies keeps its counts in the totals,
 * a file of another version is replaced, one others may write is not
 * used.  Each test works on its own file in a private directory; the
 * module's state is the process's, so every test ends with
 * metrics_close().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"

static char dir[] = "/tmp/test_metrics.XXXXXX";
static char path[256];
static char text[METRICS_TEXT_MAX];

static int
setup(void **state)
{
	static int n;

	snprintf(path, sizeof(path), "%s/m%d", dir, n++);
	return 0;
}

static int
teardown(void **state)
{
	metrics_close();
	unlink(path);
	return 0;
}

static void
open_as(const char *prog, int cgi)
{
	struct otas_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.metrics = 1;
	cfg.metrics_file = path;
	metrics_open(prog, &cfg, cgi);
}

static void
scrape(void)
{
	long n = metrics_scrape(text, sizeof(text));

	assert_true(n > 0);
	text[n] = '\0';
}

static void
has(const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (strstr(text, want) == NULL)
		fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void *
image(void)
{
	void *im = NULL;

	assert_int_equal(posix_memalign(&im, 64, metrics_image_size()), 0);
	metrics_image_init(im, 1700000000);
	return im;
}

static void
header_of_another_version_or_size_is_refused(void **state)
{
	unsigned char *im = image();
	size_t len = metrics_image_size();

	assert_int_equal(metrics_header_check(im, len), 0);
	assert_int_equal(metrics_header_check(im, len - 1), -1);
	assert_true(metrics_text(im, len, text, sizeof(text)) > 0);
	im[0] ^= 1;			/* magic */
	assert_int_equal(metrics_header_check(im, len), -1);
	assert_int_equal(metrics_text(im, len, text, sizeof(text)), -1);
	im[0] ^= 1;
	im[8] ^= 0x80;			/* version */
	assert_int_equal(metrics_header_check(im, len), -1);
	free(im);
}

static void
text_too_large_for_the_buffer_is_refused(void **state)
{
	void *im = image();

	assert_int_equal(metrics_text(im, metrics_image_size(), text, 100), -1);
	free(im);
}

static void
requests_count_under_program_code_and_bucket(void **state)
{
	open_as("otas-session", 0);
	metrics_threads(8);
	metrics_request(200, 1500);
	metrics_request(200, 900);
	metrics_request(401, 7000000);
	metrics_request(299, 10);
	metrics_count(METRICS_SESSIONS_CREATED);
	metrics_commit_rows(3);
	scrape();
	has("otas_requests_total{program=\"otas-session\",code=\"200\"} 2");
	has("otas_requests_total{program=\"otas-session\",code=\"401\"} 1");
	has("otas_requests_total{program=\"otas-session\",code=\"other\"} 1");
	has("otas_requests_total{program=\"otas-authz\",code=\"200\"} 0");
	has("otas_request_duration_seconds_bucket{program=\"otas-session\","
	    "le=\"0.001\"} 2");
	has("otas_request_duration_seconds_bucket{program=\"otas-session\","
	    "le=\"0.0025\"} 3");
	has("otas_request_duration_seconds_bucket{program=\"otas-session\","
	    "le=\"5\"} 3");
	has("otas_request_duration_seconds_bucket{program=\"otas-session\","
	    "le=\"+Inf\"} 4");
	has("otas_request_duration_seconds_count{program=\"otas-session\"} 4");
	has("otas_sessions_created_total{program=\"otas-session\"} 1");
	has("otas_db_group_commit_rows_bucket{program=\"otas-session\","
	    "le=\"2\"} 0");
	has("otas_db_group_commit_rows_bucket{program=\"otas-session\","
	    "le=\"4\"} 1");
	has("otas_db_group_commit_rows_sum{program=\"otas-session\"} 3.000000");
	has("otas_threads{program=\"otas-session\",state=\"idle\"} 8");
	has("otas_processes{program=\"otas-session\",state=\"idle\"} 1");
	has("otas_processes_started_total{program=\"otas-session\"} 1");
}

static void
busy_threads_and_processes_are_told_apart(void **state)
{
	open_as("otas-authz", 0);
	metrics_threads(4);
	metrics_busy(1);
	scrape();
	has("otas_threads{program=\"otas-authz\",state=\"busy\"} 1");
	has("otas_threads{program=\"otas-authz\",state=\"idle\"} 3");
	has("otas_processes{program=\"otas-authz\",state=\"busy\"} 1");
	metrics_busy(-1);
}

static void
an_exited_process_stays_counted(void **state)
{
	open_as("otas-session", 0);
	metrics_request(200, 10);
	metrics_close();
	open_as("otas-session", 0);
	metrics_request(200, 10);
	scrape();
	has("otas_requests_total{program=\"otas-session\",code=\"200\"} 2");
	has("otas_processes_started_total{program=\"otas-session\"} 2");
	has("otas_processes{program=\"otas-session\",state=\"idle\"} 1");
}

/* A child that counts and dies without metrics_close (as under SIGKILL). */
static void
a_killed_process_is_folded_by_the_next_scrape(void **state)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		open_as("otas-authz", 0);
		metrics_request(401, 10);
		metrics_request(401, 10);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	open_as("otas-session", 0);
	scrape();
	has("otas_requests_total{program=\"otas-authz\",code=\"401\"} 2");
	has("otas_processes{program=\"otas-authz\",state=\"idle\"} 0");
	scrape();	/* folded once, not twice */
	has("otas_requests_total{program=\"otas-authz\",code=\"401\"} 2");
}

static void
plain_cgi_counts_at_exit(void **state)
{
	open_as("otas-session", 1);
	metrics_request(503, 10);
	metrics_close();
	open_as("otas-session", 0);
	scrape();
	has("otas_requests_total{program=\"otas-session\",code=\"503\"} 1");
}

static void
a_file_of_another_version_is_replaced(void **state)
{
	char junk[4096];
	int fd;

	memset(junk, 'x', sizeof(junk));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (int)sizeof(junk));
	close(fd);
	open_as("otas-session", 0);
	metrics_request(200, 10);
	scrape();
	has("otas_requests_total{program=\"otas-session\",code=\"200\"} 1");
	has("otas_processes{program=\"otas-session\",state=\"idle\"} 1");
}

static void
a_file_others_may_write_is_not_shared(void **state)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0666), 0);
	close(fd);
	open_as("otas-session", 0);
	metrics_request(200, 10);
	metrics_close();
	open_as("otas-session", 0);
	scrape();	/* counts only itself: the first process's are gone */
	has("otas_requests_total{program=\"otas-session\",code=\"200\"} 0");
}

static void
another_program_counts_nothing(void **state)
{
	open_as("otas-echo", 0);
	metrics_request(200, 10);
	metrics_close();
	open_as("otas-session", 0);
	scrape();
	has("otas_requests_total{program=\"otas-session\",code=\"200\"} 0");
	has("otas_processes_started_total{program=\"otas-session\"} 1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_of_another_version_or_size_is_refused),
		cmocka_unit_test(text_too_large_for_the_buffer_is_refused),
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(requests_count_under_program_code_and_bucket),
		T(busy_threads_and_processes_are_told_apart),
		T(an_exited_process_stays_counted),
		T(a_killed_process_is_folded_by_the_next_scrape),
		T(plain_cgi_counts_at_exit),
		T(a_file_of_another_version_is_replaced),
		T(a_file_others_may_write_is_not_shared),
		T(another_program_counts_nothing),
#undef T
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
