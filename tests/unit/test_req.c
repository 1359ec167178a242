/*
 * test_req — req_parse over a CGI/FastCGI parameter block: names compared
 * whole, repeated OTAS headers counted (so the caller can refuse them),
 * CONTENT_LENGTH a plain decimal or nothing, and a request id that is safe
 * to print in a log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "req.h"

/* The characters set_id keeps; a generated id must be made of them too. */
static int
id_is_safe(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > REQ_ID_MAX)
		return 0;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.@") == n;
}

static long long
length_of(const char *entry)
{
	char *envp[] = { (char *)entry, NULL };
	struct req r;

	req_parse(envp, &r);
	return r.content_length;
}

static void
finds_method_key_token_and_length(void **state)
{
	char *envp[] = {
		"REQUEST_METHOD=POST",
		"HTTP_X_OTAS_AGENT_KEY=agent_abc_secret",
		"HTTP_X_OTAS_AGENT_SESSION_TOKEN=a.b.c",
		"CONTENT_LENGTH=12",
		NULL
	};
	struct req r;

	req_parse(envp, &r);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.key, "agent_abc_secret");
	assert_int_equal(r.key_len, 16);
	assert_int_equal(r.key_count, 1);
	assert_string_equal(r.token, "a.b.c");
	assert_int_equal(r.token_len, 5);
	assert_int_equal(r.token_count, 1);
	assert_int_equal(r.content_length, 12);
}

static void
empty_block_has_no_method_key_or_length(void **state)
{
	char *envp[] = { NULL };
	struct req r;

	req_parse(envp, &r);
	assert_string_equal(r.method, "");
	assert_null(r.key);
	assert_int_equal(r.key_count, 0);
	assert_null(r.token);
	assert_int_equal(r.token_count, 0);
	assert_int_equal(r.content_length, -1);
	assert_true(id_is_safe(r.id));
}

static void
null_block_is_an_empty_request(void **state)
{
	struct req r;

	req_parse(NULL, &r);
	assert_string_equal(r.method, "");
	assert_null(r.key);
	assert_int_equal(r.content_length, -1);
	assert_true(id_is_safe(r.id));
}

static void
key_counted_twice_when_the_parameter_appears_twice(void **state)
{
	char *envp[] = {
		"HTTP_X_OTAS_AGENT_KEY=agent_abc_one",
		"REQUEST_METHOD=POST",
		"HTTP_X_OTAS_AGENT_KEY=agent_abc_two",
		NULL
	};
	struct req r;

	req_parse(envp, &r);
	assert_int_equal(r.key_count, 2);
}

static void
idempotency_key_located_and_counted(void **state)
{
	char *once[] = { "HTTP_IDEMPOTENCY_KEY=\"abc\"", NULL };
	char *twice[] = { "HTTP_IDEMPOTENCY_KEY=\"a\"",
	    "HTTP_IDEMPOTENCY_KEY_X=1", "HTTP_IDEMPOTENCY_KEY=\"b\"", NULL };
	struct req r;

	req_parse(once, &r);
	assert_int_equal(r.idem_count, 1);
	assert_string_equal(r.idem, "\"abc\"");
	assert_int_equal(r.idem_len, 5);
	req_parse(twice, &r);
	assert_int_equal(r.idem_count, 2);
}

static void
same_key_value_twice_still_counts_twice(void **state)
{
	char *envp[] = {
		"HTTP_X_OTAS_AGENT_KEY=agent_abc_one",
		"HTTP_X_OTAS_AGENT_KEY=agent_abc_one",
		NULL
	};
	struct req r;

	req_parse(envp, &r);
	assert_int_equal(r.key_count, 2);
}

static void
token_counted_twice_when_the_parameter_appears_twice(void **state)
{
	char *envp[] = {
		"HTTP_X_OTAS_AGENT_SESSION_TOKEN=a.b.c",
		"HTTP_X_OTAS_AGENT_SESSION_TOKEN=d.e.f",
		NULL
	};
	struct req r;

	req_parse(envp, &r);
	assert_int_equal(r.token_count, 2);
	assert_int_equal(r.key_count, 0);
}

static void
names_that_merely_start_with_the_key_name_are_not_the_key(void **state)
{
	char *envp[] = {
		"HTTP_X_OTAS_AGENT_KEY2=agent_abc_one",
		"HTTP_X_OTAS_AGENT_KEY_=agent_abc_one",
		"HTTP_X_OTAS_AGENT_KE=agent_abc_one",
		"XHTTP_X_OTAS_AGENT_KEY=agent_abc_one",
		"HTTP_X_OTAS_AGENT_KEY",
		"http_x_otas_agent_key=agent_abc_one",
		"HTTP_X_OTAS_AGENT_SESSION_TOKEN2=a.b.c",
		NULL
	};
	struct req r;

	req_parse(envp, &r);
	assert_null(r.key);
	assert_int_equal(r.key_count, 0);
	assert_null(r.token);
	assert_int_equal(r.token_count, 0);
}

static void
empty_key_value_is_present_and_empty(void **state)
{
	char *envp[] = { "HTTP_X_OTAS_AGENT_KEY=", NULL };
	struct req r;

	req_parse(envp, &r);
	assert_non_null(r.key);
	assert_int_equal(r.key_len, 0);
	assert_int_equal(r.key_count, 1);
}

static void
key_value_may_contain_equals_sign(void **state)
{
	char *envp[] = { "HTTP_X_OTAS_AGENT_KEY=agent_a=b_c", NULL };
	struct req r;

	req_parse(envp, &r);
	assert_string_equal(r.key, "agent_a=b_c");
	assert_int_equal(r.key_len, 11);
}

static void
content_length_absent_or_empty_is_minus_one(void **state)
{
	char *envp[] = { "REQUEST_METHOD=POST", NULL };
	struct req r;

	req_parse(envp, &r);
	assert_int_equal(r.content_length, -1);
	assert_int_equal(length_of("CONTENT_LENGTH="), -1);
}

enum route { NONE, HEALTH, END, METRICS };

/* The route req_parse finds in one parameter; never two at once. */
static enum route
route(const char *param)
{
	char *envp[] = { "REQUEST_METHOD=GET", (char *)param, NULL };
	struct req r;

	req_parse(envp, &r);
	assert_true(r.health + r.end + r.metrics <= 1);
	return r.health ? HEALTH : r.end ? END : r.metrics ? METRICS : NONE;
}

#define URI	"REQUEST_URI="
#define V1	URI "/api/agent/v1"

/*
 * Each route is recognised with a query or a prefix (another mount point);
 * the readiness check also below it (should a server route it here), and
 * on the path the server routed, dot segments removed: ".../health/../x"
 * is no readiness check, while a segment that only looks like dots is a
 * name.  Absolute form: the path after the authority.  /metrics is a path
 * ending in it.  Only REQUEST_URI counts.
 */
static const struct {
	const char	*param;
	enum route	 want;
} routes[] = {
	{ V1 "/health/", HEALTH },
	{ V1 "/health/?probe=lb", HEALTH },
	{ URI "/otas/api/agent/v1/health/", HEALTH },
	{ V1 "/health/x", HEALTH },
	{ V1 "/health/../session/create/", NONE },
	{ V1 "/health/%2e%2E/session/create/", NONE },
	{ V1 "/health/./../session/create/?a=b", NONE },
	{ V1 "/health/..", NONE },
	{ URI "/health/../../../session/", NONE },
	{ V1 "/session/create/../../health/", HEALTH },
	{ V1 "/health/.", HEALTH },
	{ V1 "/health/%2e", HEALTH },
	{ V1 "/./health/", HEALTH },
	{ V1 "/x/../health/", HEALTH },
	{ URI "/a/.../health/", HEALTH },
	{ URI "/a/health/.../../x", HEALTH },
	{ URI "http://h:80/api/agent/v1/health/", HEALTH },
	{ URI "http://h/api/agent/v1/health/../session/create/", NONE },
	{ V1 "/session/create/", NONE },
	{ V1 "/session/create/?x=/health/", NONE },
	{ V1 "/healthz/", NONE },
	{ URI "/health", NONE },
	{ URI, NONE },
	{ "SCRIPT_NAME=/api/agent/v1/health/", NONE },
	{ V1 "/session/end/", END },
	{ V1 "/session/end/?x=1", END },
	{ URI "/otas/api/agent/v1/session/end/", END },
	{ V1 "/session/create/?x=/session/end/", NONE },
	{ V1 "/session/end", NONE },
	{ V1 "/session/ended/", NONE },
	{ "SCRIPT_NAME=/api/agent/v1/session/end/", NONE },
	{ URI "/metrics", METRICS },
	{ URI "/metrics?x=1", METRICS },
	{ URI "/~user/metrics", METRICS },
	{ URI "/metrics/", NONE },
	{ URI "/metricsx", NONE },
	{ V1 "/session/create/?next=/metrics", NONE },
	{ V1 "/health/metrics", HEALTH },
	{ "SCRIPT_NAME=/metrics", NONE },
};

static void
each_path_takes_the_route_the_table_gives(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (route(routes[i].param) != routes[i].want)
			fail_msg("%s: route %d, want %d", routes[i].param,
			    route(routes[i].param), routes[i].want);
}

static void
overlong_path_is_never_the_health_check(void **state)
{
	char uri[REQ_PATH_MAX + 64];
	size_t n = strlen(URI);

	memcpy(uri, URI, n);
	memset(uri + n, 'a', sizeof(uri) - n);
	memcpy(uri + n, "/health/", 8);
	uri[sizeof(uri) - 1] = '\0';
	assert_int_equal(route(uri), NONE);
	uri[n + REQ_PATH_MAX - 1] = '\0';	/* REQ_PATH_MAX - 1 bytes: fits */
	assert_int_equal(route(uri), HEALTH);
}

static void
remote_addr_is_located(void **state)
{
	char *envp[] = { "REMOTE_ADDR=127.0.0.2", NULL };
	struct req r;

	req_parse(envp, &r);
	assert_string_equal(r.remote, "127.0.0.2");
	req_parse(envp + 1, &r);
	assert_null(r.remote);
}

static void
content_length_decimal_is_taken(void **state)
{
	assert_int_equal(length_of("CONTENT_LENGTH=12"), 12);
	assert_int_equal(length_of("CONTENT_LENGTH=0"), 0);
	assert_int_equal(length_of("CONTENT_LENGTH=65536"), 65536);
	assert_int_equal(length_of("CONTENT_LENGTH=9223372036854775807"),
	    9223372036854775807LL);
}

static void
content_length_not_a_plain_decimal_is_minus_two(void **state)
{
	const char *bad[] = {
		"CONTENT_LENGTH=-1", "CONTENT_LENGTH=+5", "CONTENT_LENGTH= 5",
		"CONTENT_LENGTH=5 ", "CONTENT_LENGTH=5x", "CONTENT_LENGTH=x",
		"CONTENT_LENGTH=0x10", "CONTENT_LENGTH=1e3",
		"CONTENT_LENGTH=99999999999999999999999",
		"CONTENT_LENGTH=9223372036854775808",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (length_of(bad[i]) != -2)
			fail_msg("%s gave %lld", bad[i], length_of(bad[i]));
}

static void
request_id_taken_from_unique_id(void **state)
{
	char *envp[] = { "UNIQUE_ID=ZmXk7wAAAAEAAB@cAAAAAo.x-_", NULL };
	struct req r;

	req_parse(envp, &r);
	assert_string_equal(r.id, "ZmXk7wAAAAEAAB@cAAAAAo.x-_");
}

static void
request_id_taken_from_x_request_id(void **state)
{
	char *envp[] = { "HTTP_X_REQUEST_ID=3f2a9c1e-77b0-4d51-9a2e-0c4b", NULL };
	struct req r;

	req_parse(envp, &r);
	assert_string_equal(r.id, "3f2a9c1e-77b0-4d51-9a2e-0c4b");
}

static void
request_id_of_64_bytes_is_kept(void **state)
{
	char entry[128], *envp[] = { entry, NULL };
	struct req r;

	snprintf(entry, sizeof(entry), "UNIQUE_ID=%.*s", REQ_ID_MAX,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefXX");
	req_parse(envp, &r);
	assert_int_equal(strlen(r.id), REQ_ID_MAX);
	assert_string_equal(r.id, entry + strlen("UNIQUE_ID="));
}

/* Each value is refused; the id is generated and safe instead. */
static void
assert_id_generated(const char *entry, const char *value)
{
	char *envp[] = { (char *)entry, NULL };
	struct req r;

	req_parse(envp, &r);
	assert_true(id_is_safe(r.id));
	if (strcmp(r.id, value) == 0)
		fail_msg("unsafe id kept: %s", entry);
	if (strstr(r.id, "evil") != NULL)
		fail_msg("part of an unsafe id kept: %s", r.id);
}

static void
unsafe_request_ids_are_replaced_by_a_generated_one(void **state)
{
	const char *bad[] = {
		"UNIQUE_ID=evil id", "UNIQUE_ID=evil\nFAKE LOG LINE",
		"UNIQUE_ID=evil\"", "HTTP_X_REQUEST_ID=evil;rm",
		"HTTP_X_REQUEST_ID=evil/..", "HTTP_X_REQUEST_ID=evil\x1b[31m",
		"HTTP_X_REQUEST_ID=evil\xc3\xa9", "UNIQUE_ID=",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_id_generated(bad[i], strchr(bad[i], '=') + 1);
}

static void
request_id_of_65_bytes_is_replaced(void **state)
{
	char entry[128];

	snprintf(entry, sizeof(entry), "HTTP_X_REQUEST_ID=evil%.*s",
	    REQ_ID_MAX + 1 - 4,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_int_equal(strlen(entry) - strlen("HTTP_X_REQUEST_ID="),
	    REQ_ID_MAX + 1);
	assert_id_generated(entry, entry + strlen("HTTP_X_REQUEST_ID="));
}

static void
generated_ids_differ_between_requests(void **state)
{
	char *envp[] = { NULL };
	struct req a, b;

	req_parse(envp, &a);
	req_parse(envp, &b);
	assert_true(id_is_safe(a.id));
	assert_string_not_equal(a.id, b.id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_method_key_token_and_length),
		cmocka_unit_test(empty_block_has_no_method_key_or_length),
		cmocka_unit_test(null_block_is_an_empty_request),
		cmocka_unit_test(key_counted_twice_when_the_parameter_appears_twice),
		cmocka_unit_test(idempotency_key_located_and_counted),
		cmocka_unit_test(same_key_value_twice_still_counts_twice),
		cmocka_unit_test(token_counted_twice_when_the_parameter_appears_twice),
		cmocka_unit_test(names_that_merely_start_with_the_key_name_are_not_the_key),
		cmocka_unit_test(empty_key_value_is_present_and_empty),
		cmocka_unit_test(key_value_may_contain_equals_sign),
		cmocka_unit_test(content_length_absent_or_empty_is_minus_one),
		cmocka_unit_test(content_length_decimal_is_taken),
		cmocka_unit_test(content_length_not_a_plain_decimal_is_minus_two),
		cmocka_unit_test(request_id_taken_from_unique_id),
		cmocka_unit_test(request_id_taken_from_x_request_id),
		cmocka_unit_test(request_id_of_64_bytes_is_kept),
		cmocka_unit_test(unsafe_request_ids_are_replaced_by_a_generated_one),
		cmocka_unit_test(request_id_of_65_bytes_is_replaced),
		cmocka_unit_test(generated_ids_differ_between_requests),
		cmocka_unit_test(each_path_takes_the_route_the_table_gives),
		cmocka_unit_test(overlong_path_is_never_the_health_check),
		cmocka_unit_test(remote_addr_is_located),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
