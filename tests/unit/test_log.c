/*
 * test_log — what reaches the log line, read back from stderr: a database
 * message keeps its quotes; control characters and bytes outside ASCII
 * become '?' and a line ends once; in why="..." quotes and backslashes are
 * escaped, so the field ends where the line says even when it is cut; a
 * field ended by a space cannot hold a space or a quote; a message too long
 * for its line says it was cut; a start-up failure is "PROG: message".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

#define LINE_CAP 2048

static int capture_fd = -1;
static int saved_stderr = -1;

/* Sends stderr into a pipe until captured(); a line fits in its buffer. */
static void
capture(void)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_true((saved_stderr = dup(STDERR_FILENO)) >= 0);
	assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
	close(fds[1]);
	capture_fd = fds[0];
}

/* What was written since capture(), as a string; stderr restored. */
static const char *
captured(char *out, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	while (got + 1 < cap &&
	    (n = read(capture_fd, out + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	close(capture_fd);
	out[got] = '\0';
	return out;
}

static const char *
msg_line(char *out, size_t cap, const char *text)
{
	capture();
	log_msg("database: connect: %s", text);
	return captured(out, cap);
}

static const char *
request_line(char *out, size_t cap, const struct log_req *l)
{
	capture();
	log_request(l);
	return captured(out, cap);
}

static void
assert_one_line(const char *line)
{
	size_t n = strlen(line);

	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	assert_ptr_equal(strchr(line, '\n'), line + n - 1);
	assert_null(strchr(line, '\r'));
}

/* The why field's value, checked to end, unescaped, at the end of line. */
static void
assert_why_ends_the_line(const char *line)
{
	const char *p = strstr(line, " why=\"");

	assert_non_null(p);
	for (p += strlen(" why=\""); *p != '"'; p++) {
		assert_true(*p != '\0' && *p != '\n');
		if (*p == '\\') {
			p++;
			assert_true(*p == '"' || *p == '\\');
		}
	}
	assert_string_equal(p, "\"\n");
}

static void
database_message_keeps_its_quotes_readable(void **state)
{
	char line[LINE_CAP];

	msg_line(line, sizeof(line), "connection to server at \"127.0.0.1\", "
	    "port 5432 failed: Connection refused");
	assert_one_line(line);
	assert_non_null(strstr(line, "] database: connect: connection to "
	    "server at \"127.0.0.1\", port 5432 failed: Connection refused\n"));
}

static void
control_and_non_ascii_bytes_become_question_marks_in_one_line(
    void **state)
{
	char line[LINE_CAP];

	msg_line(line, sizeof(line), "a\nb\rc\td\x1b[1me\x7f\xc3\xa9");
	assert_one_line(line);
	assert_non_null(strstr(line, ": a?b?c?d?[1me???\n"));
}

/* The message of a log_msg line: what follows "] ", less its newline. */
static const char *
message_of(const char *line, char *out, size_t cap)
{
	const char *p = strstr(line, "] ");
	size_t n;

	assert_non_null(p);
	p += 2;
	n = strlen(p);
	assert_true(n > 0 && n < cap && p[n - 1] == '\n');
	memcpy(out, p, n - 1);
	out[n - 1] = '\0';
	return out;
}

/* text logged: on one line, its message part into msg (returned). */
static const char *
logged_message(const char *text, char msg[LINE_CAP])
{
	char line[LINE_CAP];

	capture();
	log_msg("%s", text);
	captured(line, sizeof(line));
	assert_one_line(line);
	return message_of(line, msg, LINE_CAP);
}

static void
message_of_the_longest_length_is_kept_whole(void **state)
{
	char text[LOG_MSG_MAX + 1], msg[LINE_CAP];

	memset(text, 'x', LOG_MSG_MAX);
	text[LOG_MSG_MAX] = '\0';
	assert_string_equal(logged_message(text, msg), text);
}

static void
longer_message_ends_in_the_cut_mark_on_its_one_line(void **state)
{
	char text[3 * LOG_MSG_MAX], msg[LINE_CAP];
	size_t kept = LOG_MSG_MAX - strlen(LOG_MSG_CUT), n;

	for (n = LOG_MSG_MAX + 1; n < sizeof(text); n += LOG_MSG_MAX) {
		memset(text, 'y', n);
		text[n] = '\0';
		logged_message(text, msg);
		assert_int_equal(strlen(msg), LOG_MSG_MAX);
		assert_memory_equal(msg, text, kept);
		assert_string_equal(msg + kept, LOG_MSG_CUT);
	}
}

static void
why_escapes_quotes_and_backslashes(void **state)
{
	char line[LINE_CAP];

	request_line(line, sizeof(line), &(struct log_req){ .id = "r1",
	    .http = 503, .code = "service_unavailable",
	    .why = "server at \"db\" said C:\\x" });
	assert_one_line(line);
	assert_non_null(strstr(line, " why=\"server at \\\"db\\\" said "
	    "C:\\\\x\"\n"));
	assert_why_ends_the_line(line);
}

static void
why_ends_where_the_line_says_even_when_cut(void **state)
{
	char line[LINE_CAP], why[600];
	const char *fill[] = { "\"", "\\", "a\"", "\\\"" };
	size_t k, n, len;

	/* Far longer than the field: each escape may meet the cut. */
	for (k = 0; k < sizeof(fill) / sizeof(fill[0]); k++) {
		len = strlen(fill[k]);
		for (n = 0; n + len < sizeof(why); n += len)
			memcpy(why + n, fill[k], len);
		why[n] = '\0';
		request_line(line, sizeof(line), &(struct log_req){
		    .id = "r2", .http = 401, .code = "invalid_agent_key",
		    .why = why });
		assert_one_line(line);
		assert_why_ends_the_line(line);
	}
}

static void
word_fields_hold_no_space_or_quote(void **state)
{
	char line[LINE_CAP];

	request_line(line, sizeof(line), &(struct log_req){
	    .id = "r3 status=200", .http = 401, .code = "invalid_agent_key",
	    .agent_id = "a\"b", .prefix = "p why=\"forged\"", .why = "real" });
	assert_one_line(line);
	assert_non_null(strstr(line, " id=r3?status=200 status=401 "));
	assert_non_null(strstr(line, " agent=a?b "));
	assert_non_null(strstr(line, " prefix=p?why=?forged? "));
	assert_ptr_equal(strstr(line, " why="), strstr(line, " why=\"real\""));
	assert_null(strstr(strstr(line, " why=") + 1, " why="));
}

static void
missing_fields_are_dashes(void **state)
{
	char line[LINE_CAP];

	request_line(line, sizeof(line), &(struct log_req){ .id = "r4",
	    .http = 200, .code = "agent_session_created" });
	assert_non_null(strstr(line, " agent=- prefix=- "));
	assert_non_null(strstr(line, " why=\"-\"\n"));
}

static void
start_failure_is_the_program_and_its_message_on_one_line(void **state)
{
	char line[LINE_CAP];

	capture();
	log_fail("OTAS_MAX_BODY: not a number: \"6\n4k\"");
	captured(line, sizeof(line));
	assert_string_equal(line,
	    "test_log: OTAS_MAX_BODY: not a number: \"6?4k\"\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(database_message_keeps_its_quotes_readable),
		cmocka_unit_test(
		    control_and_non_ascii_bytes_become_question_marks_in_one_line),
		cmocka_unit_test(message_of_the_longest_length_is_kept_whole),
		cmocka_unit_test(
		    longer_message_ends_in_the_cut_mark_on_its_one_line),
		cmocka_unit_test(why_escapes_quotes_and_backslashes),
		cmocka_unit_test(why_ends_where_the_line_says_even_when_cut),
		cmocka_unit_test(word_fields_hold_no_space_or_quote),
		cmocka_unit_test(missing_fields_are_dashes),
		cmocka_unit_test(
		    start_failure_is_the_program_and_its_message_on_one_line),
	};

	log_init("test_log");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
