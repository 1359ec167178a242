/*
 * test_resp — the answers as a web server receives them.  Each answer is
 * sent through resp_send on a CGI-mode conn (fcgi NULL writes to stdout);
 * stdout's descriptor is pointed at a temporary file for the call and put
 * back after it, so cmocka's own output (TAP under tests/run) is untouched.
 * The text is then taken apart like a CGI gateway would: Status line,
 * headers, blank line, body.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "resp.h"

#define OUT_MAX (2 * RESP_MAX)
#define HDR_MAX 32

struct answer {
	char		 text[OUT_MAX + 1];
	size_t		 len;
	int		 http;
	char		 reason[64];
	int		 nhdr;
	char		*name[HDR_MAX];
	char		*value[HDR_MAX];
	const char	*body;
	size_t		 body_len;
};

/* Runs resp_send with stdout on a temporary file; returns its result. */
static int
send_and_capture(struct resp *r, struct answer *a)
{
	char path[] = "/tmp/test_resp.XXXXXX";
	struct conn c = { .envp = NULL, .fcgi = NULL };
	int fd, saved, rc;
	ssize_t n;

	memset(a, 0, sizeof(*a));
	assert_true((fd = mkstemp(path)) >= 0);
	unlink(path);
	fflush(stdout);
	assert_true((saved = dup(STDOUT_FILENO)) >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	rc = resp_send(r, &c);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	assert_true(lseek(fd, 0, SEEK_SET) == 0);
	while ((n = read(fd, a->text + a->len, OUT_MAX - a->len)) > 0)
		a->len += (size_t)n;
	assert_true(n == 0);
	close(fd);
	a->text[a->len] = '\0';
	return rc;
}

/* Splits a->text into status, headers and body; fails on bad framing. */
static void
split_answer(struct answer *a)
{
	char *p = a->text, *eol, *colon;
	int used;

	if (sscanf(p, "Status: %d %n", &a->http, &used) != 1)
		fail_msg("no Status line: %.40s", p);
	if ((eol = strstr(p, "\r\n")) == NULL)
		fail_msg("Status line not ended by CRLF");
	*eol = '\0';
	snprintf(a->reason, sizeof(a->reason), "%s", p + used);
	p = eol + 2;
	while (strncmp(p, "\r\n", 2) != 0) {
		if ((eol = strstr(p, "\r\n")) == NULL)
			fail_msg("header not ended by CRLF");
		*eol = '\0';
		if ((colon = strstr(p, ": ")) == NULL || a->nhdr == HDR_MAX)
			fail_msg("bad header line: %s", p);
		*colon = '\0';
		a->name[a->nhdr] = p;
		a->value[a->nhdr] = colon + 2;
		a->nhdr++;
		p = eol + 2;
	}
	a->body = p + 2;
	a->body_len = a->len - (size_t)(a->body - a->text);
}

static int
header_count(const struct answer *a, const char *name)
{
	int i, n = 0;

	for (i = 0; i < a->nhdr; i++)
		n += strcasecmp(a->name[i], name) == 0;
	return n;
}

static const char *
header(const struct answer *a, const char *name)
{
	int i;

	for (i = 0; i < a->nhdr; i++)
		if (strcasecmp(a->name[i], name) == 0)
			return a->value[i];
	return NULL;
}

/* What every answer of the contract carries, and a true Content-Length. */
static void
assert_common_headers(const struct answer *a)
{
	char want[32];

	assert_int_equal(header_count(a, "Content-Type"), 1);
	assert_string_equal(header(a, "Content-Type"), "application/json");
	assert_int_equal(header_count(a, "Cache-Control"), 1);
	assert_string_equal(header(a, "Cache-Control"), "no-store");
	assert_int_equal(header_count(a, "X-Content-Type-Options"), 1);
	assert_string_equal(header(a, "X-Content-Type-Options"), "nosniff");
	assert_int_equal(header_count(a, "Content-Length"), 1);
	snprintf(want, sizeof(want), "%zu", a->body_len);
	assert_string_equal(header(a, "Content-Length"), want);
}

static void
assert_error_answer(const struct answer *a, enum otas_status st)
{
	const struct otas_status_info *si = status_info(st);
	char body[128];

	assert_int_equal(a->http, si->http);
	assert_string_equal(a->reason, si->reason);
	assert_common_headers(a);
	snprintf(body, sizeof(body),
	    "{\"status\": 0, \"status_description\": \"%s\"}\n", si->code);
	assert_string_equal(a->body, body);
}

/* Sends r and splits what went out into a; resp_send's result. */
static int
sent(struct resp *r, struct answer *a)
{
	int rc = send_and_capture(r, a);

	split_answer(a);
	return rc;
}

/* The status after st that is an error (OTAS_STATUS_COUNT past the last). */
static int
next_error(int st)
{
	do
		st++;
	while (st < OTAS_STATUS_COUNT && status_ok((enum otas_status)st));
	return st;
}

#define EACH_ERROR(st)	for ((st) = next_error(OTAS_CREATED); \
			    (st) < OTAS_STATUS_COUNT; (st) = next_error(st))

/* Every test's answer and the answer it captures, made once (both are
 * large) and handed to each test as its state. */
struct pair {
	struct resp	r;
	struct answer	a;
};
#define R(state)	(&((struct pair *)*(state))->r)
#define A(state)	(&((struct pair *)*(state))->a)

static int
pair_new(void **state)
{
	return (*state = calloc(1, sizeof(struct pair))) == NULL ? -1 : 0;
}

static int
pair_free(void **state)
{
	free(*state);
	return 0;
}

/* Allow: POST on the 405 and on no other error. */
static void
assert_allow_only_on_405(const struct answer *a, int st)
{
	if (st == OTAS_ERR_METHOD) {
		assert_int_equal(a->http, 405);
		assert_int_equal(header_count(a, "Allow"), 1);
		assert_string_equal(header(a, "Allow"), "POST");
	} else
		assert_int_equal(header_count(a, "Allow"), 0);
}

/* Retry-After, a whole number of seconds, on the 503 and no other. */
static void
assert_retry_after_only_on_503(const struct answer *a, int st)
{
	char *end;
	long secs;

	if (st != OTAS_ERR_UNAVAILABLE) {
		assert_int_equal(header_count(a, "Retry-After"), 0);
		return;
	}
	assert_int_equal(a->http, 503);
	assert_int_equal(header_count(a, "Retry-After"), 1);
	secs = strtol(header(a, "Retry-After"), &end, 10);
	assert_true(*end == '\0' && secs > 0);
}

/* Each error: its status line, headers and body; Allow only on 405 and
 * Retry-After only on 503. */
static void
each_error_status_gives_its_status_line_headers_and_body(void **state)
{
	struct resp *r = R(state);
	struct answer *a = A(state);
	int st;

	EACH_ERROR(st) {
		resp_error(r, (enum otas_status)st);
		assert_int_equal(sent(r, a), 0);
		assert_error_answer(a, (enum otas_status)st);
		assert_int_equal(r->http, status_info(st)->http);
		assert_allow_only_on_405(a, st);
		assert_retry_after_only_on_503(a, st);
	}
}

static void
rate_limited_answer_has_the_draft_fields_and_retry_after(void **state)
{
	struct rate_answer lim = { 1, 5, 60, 0, 12 };
	struct resp *r = R(state);
	struct answer *a = A(state);

	resp_rate_limited(r, &lim);
	assert_int_equal(sent(r, a), 0);
	assert_error_answer(a, OTAS_ERR_RATE_LIMITED);
	assert_int_equal(a->http, 429);
	assert_string_equal(header(a, "RateLimit-Policy"),
	    "\"sessions\";q=5;w=60");
	assert_string_equal(header(a, "RateLimit"), "\"sessions\";r=0;t=12");
	assert_string_equal(header(a, "Retry-After"), "12");
	/* A wait under a second still asks for one. */
	lim.wait = 0;
	resp_rate_limited(r, &lim);
	sent(r, a);
	assert_string_equal(header(a, "Retry-After"), "1");
}

static void
a_limited_agents_session_carries_the_fields_and_no_retry_after(void **state)
{
	struct rate_answer lim = { 1, 2, 3600, 1, 1800 }, none = { 0 };
	struct resp *r = R(state);
	struct answer *a = A(state);

	resp_session_limited(r, "a.b.c", &lim);
	sent(r, a);
	assert_int_equal(a->http, 200);
	assert_common_headers(a);
	assert_string_equal(header(a, "RateLimit-Policy"),
	    "\"sessions\";q=2;w=3600");
	assert_string_equal(header(a, "RateLimit"),
	    "\"sessions\";r=1;t=1800");
	assert_int_equal(header_count(a, "Retry-After"), 0);
	resp_session_limited(r, "a.b.c", &none);
	sent(r, a);
	assert_int_equal(header_count(a, "RateLimit"), 0);
	assert_int_equal(header_count(a, "RateLimit-Policy"), 0);
}

static void
session_answer_has_exactly_the_spec_shape(void **state)
{
	const char *jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	    "eyJhZ2VudF9pZCI6IngifQ.c2lnbmF0dXJlLWJ5dGVz-_";
	struct resp *r = R(state);
	struct answer *a = A(state);
	json_object *root, *v, *resp;

	resp_session(r, jwt);
	assert_int_equal(sent(r, a), 0);
	assert_int_equal(a->http, 200);
	assert_string_equal(a->reason, "OK");
	assert_int_equal(r->http, 200);
	assert_common_headers(a);
	assert_int_equal(header_count(a, "Allow"), 0);
	assert_int_equal(header_count(a, "Retry-After"), 0);

	root = json_tokener_parse(a->body);
	assert_non_null(root);
	assert_true(json_object_is_type(root, json_type_object));
	assert_int_equal(json_object_object_length(root), 3);
	assert_true(json_object_object_get_ex(root, "status", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(root, "status_description", &v));
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), "agent_session_created");
	assert_true(json_object_object_get_ex(root, "response", &resp));
	assert_true(json_object_is_type(resp, json_type_object));
	assert_int_equal(json_object_object_length(resp), 2);
	assert_true(json_object_object_get_ex(resp, "Header_value", &v));
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v),
	    "X-OTAS-AGENT-SESSION-TOKEN");
	assert_true(json_object_object_get_ex(resp, "jwt_token", &v));
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), jwt);
	json_object_put(root);
}

/* Too much for the buffer: resp_send must answer a plain 500. */
static void
assert_overflow_becomes_500(struct resp *r, const char *leak)
{
	struct answer *a = malloc(sizeof(*a));

	assert_non_null(a);
	assert_true(r->overflow);
	assert_int_equal(sent(r, a), 0);
	assert_error_answer(a, OTAS_ERR_SERVER);
	assert_int_equal(r->st, OTAS_ERR_SERVER);	/* what the log says */
	assert_int_equal(header_count(a, "Allow"), 0);
	assert_null(strstr(a->text, leak));
	assert_true(a->len < RESP_MAX);
	free(a);
}

/* n bytes of c and a NUL, malloc'd: more than an answer can hold. */
static char *
filled(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
session_too_large_for_the_buffer_is_sent_as_500(void **state)
{
	struct resp *r = R(state);
	char *jwt = filled('J', RESP_MAX);

	resp_session(r, jwt);
	assert_overflow_becomes_500(r, "JJJJJJJJ");
	free(jwt);
}

static void
session_just_over_the_buffer_is_sent_as_500(void **state)
{
	struct resp *r = R(state);
	char *jwt = malloc(RESP_MAX);
	size_t n;
	int fit = -1;

	assert_non_null(jwt);
	/* Grow the token until the answer no longer fits, then check it. */
	for (n = RESP_MAX - 400; n < RESP_MAX - 1; n++) {
		memset(jwt, 'K', n);
		jwt[n] = '\0';
		resp_session(r, jwt);
		if (r->overflow) {
			fit = (int)n - 1;
			break;
		}
		assert_true(r->len <= RESP_MAX - 1);
	}
	assert_true(fit > 0);
	assert_overflow_becomes_500(r, "KKKKKKKK");
	free(jwt);
}

static void
header_too_large_for_the_buffer_is_sent_as_500(void **state)
{
	struct resp *r = R(state);
	char *value = filled('V', RESP_MAX);

	resp_start(r, OTAS_CREATED);
	resp_header(r, "X-Big", value);
	resp_body(r, "{}");
	assert_overflow_becomes_500(r, "VVVVVVVV");
	free(value);
}

static void
start_header_body_build_a_framed_answer(void **state)
{
	struct resp *r = R(state);
	struct answer *a = A(state);

	resp_start(r, OTAS_ERR_KEY);
	resp_header(r, "X-Extra", "yes");
	resp_body(r, "{\"a\": \"\xc3\xa9\"}");
	assert_false(r->overflow);
	sent(r, a);
	assert_int_equal(a->http, 401);
	assert_common_headers(a);
	assert_string_equal(header(a, "X-Extra"), "yes");
	/* Content-Length counts bytes, not characters, and the newline. */
	assert_string_equal(header(a, "Content-Length"), "12");
	assert_string_equal(a->body, "{\"a\": \"\xc3\xa9\"}\n");
}

static void
allow_answer_carries_the_variables_and_no_cache_headers(void **state)
{
	const char *sid = "0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f";
	const char *aid = "0190f2a4-7b3c-7d21-8e5f-ffffffffffff";
	struct resp *r = R(state);
	struct answer *a = A(state);
	char want[32];

	resp_allow(r, sid, aid, 1700000600LL);
	assert_int_equal(sent(r, a), 0);
	assert_int_equal(a->http, 200);
	assert_int_equal(r->st, OTAS_ALLOWED);
	assert_string_equal(header(a, "Variable-OTAS_AGENT_SESSION_ID"), sid);
	assert_string_equal(header(a, "Variable-OTAS_AGENT_ID"), aid);
	assert_string_equal(header(a, "Variable-OTAS_SESSION_EXPIRES"),
	    "1700000600");
	assert_string_equal(header(a, "Content-Type"), "application/json");
	/* mod_fcgid merges these into the protected answer: never here. */
	assert_int_equal(header_count(a, "Cache-Control"), 0);
	assert_int_equal(header_count(a, "X-Content-Type-Options"), 0);
	assert_string_equal(a->body,
	    "{\"status\": 1, \"status_description\": \"ok\"}\n");
	snprintf(want, sizeof(want), "%zu", a->body_len);
	assert_string_equal(header(a, "Content-Length"), want);
}

static void
echo_answer_is_the_three_variables_as_json(void **state)
{
	struct resp *r = R(state);
	struct answer *a = A(state);

	resp_echo(r, "0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f",
	    "0190f2a4-7b3c-7d21-8e5f-ffffffffffff", 1700000600LL);
	assert_int_equal(sent(r, a), 0);
	assert_int_equal(a->http, 200);
	assert_common_headers(a);
	assert_string_equal(a->body, "{\"status\": 1, \"status_description\": "
	    "\"ok\", \"response\": {\"agent_session_id\": "
	    "\"0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f\", \"agent_id\": "
	    "\"0190f2a4-7b3c-7d21-8e5f-ffffffffffff\", \"session_expires\": "
	    "1700000600}}\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_error_status_gives_its_status_line_headers_and_body),
		cmocka_unit_test(session_answer_has_exactly_the_spec_shape),
		cmocka_unit_test(session_too_large_for_the_buffer_is_sent_as_500),
		cmocka_unit_test(session_just_over_the_buffer_is_sent_as_500),
		cmocka_unit_test(header_too_large_for_the_buffer_is_sent_as_500),
		cmocka_unit_test(start_header_body_build_a_framed_answer),
		cmocka_unit_test(allow_answer_carries_the_variables_and_no_cache_headers),
		cmocka_unit_test(echo_answer_is_the_three_variables_as_json),
		cmocka_unit_test(
		    rate_limited_answer_has_the_draft_fields_and_retry_after),
		cmocka_unit_test(
		  a_limited_agents_session_carries_the_fields_and_no_retry_after),
	};

	return cmocka_run_group_tests(tests, pair_new, pair_free);
}
