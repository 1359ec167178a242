/*
 * test_status — the one table of outcomes: every enum value has an entry
 * that matches doc/api.md's table of answers ("The endpoint"), and a value
 * outside the enum can never produce anything but server_error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "status.h"

static void
every_status_has_an_entry_with_a_code(void **state)
{
	const struct otas_status_info *si;
	int st;

	for (st = 0; st < OTAS_STATUS_COUNT; st++) {
		si = status_info((enum otas_status)st);
		assert_non_null(si);
		assert_non_null(si->code);
		assert_non_null(si->reason);
		if (si->code[0] == '\0' || si->reason[0] == '\0')
			fail_msg("status %d has an empty code or reason", st);
		if (si->http < 200 || si->http > 599)
			fail_msg("status %d has HTTP %d", st, si->http);
	}
}

static void
codes_are_distinct(void **state)
{
	int a, b;

	for (a = 0; a < OTAS_STATUS_COUNT; a++)
		for (b = a + 1; b < OTAS_STATUS_COUNT; b++)
			assert_string_not_equal(
			    status_info((enum otas_status)a)->code,
			    status_info((enum otas_status)b)->code);
}

static void
entries_match_the_spec_table(void **state)
{
	static const struct {
		enum otas_status st;
		int		 http;
		const char	*code;
	} spec[] = {
		{ OTAS_CREATED, 200, "agent_session_created" },
		{ OTAS_ALLOWED, 200, "ok" },
		{ OTAS_ERR_METHOD, 405, "method_not_allowed" },
		{ OTAS_ERR_KEY, 401, "invalid_agent_key" },
		{ OTAS_ERR_TOO_LARGE, 413, "payload_too_large" },
		{ OTAS_ERR_JSON, 400, "invalid_json" },
		{ OTAS_ERR_META, 400, "invalid_meta" },
		{ OTAS_ERR_UNAVAILABLE, 503, "service_unavailable" },
		{ OTAS_ERR_SERVER, 500, "server_error" },
		{ OTAS_ERR_TOKEN, 401, "invalid_session_token" },
		{ OTAS_ERR_IDEM_KEY, 400, "invalid_idempotency_key" },
		{ OTAS_ERR_IDEM_IN_FLIGHT, 409, "idempotency_key_in_flight" },
		{ OTAS_ERR_IDEM_REUSED, 422, "idempotency_key_reused" },
		{ OTAS_READY, 200, "ready" },
		{ OTAS_ERR_SCHEMA, 503, "schema_not_current" },
		{ OTAS_ERR_RATE_LIMITED, 429, "rate_limited" },
		{ OTAS_ENDED, 200, "agent_session_ended" },
	};
	size_t i;

	assert_int_equal(sizeof(spec) / sizeof(spec[0]), OTAS_STATUS_COUNT);
	for (i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
		assert_int_equal(status_info(spec[i].st)->http, spec[i].http);
		assert_string_equal(status_info(spec[i].st)->code,
		    spec[i].code);
	}
}

static void
out_of_range_maps_to_server_error(void **state)
{
	const struct otas_status_info *server = status_info(OTAS_ERR_SERVER);
	const int bad[] = { OTAS_STATUS_COUNT, OTAS_STATUS_COUNT + 1, 1000,
	    -1, -1000 };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct otas_status_info *si =
		    status_info((enum otas_status)bad[i]);

		assert_ptr_equal(si, server);
		assert_int_equal(si->http, 500);
		assert_string_equal(si->code, "server_error");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_status_has_an_entry_with_a_code),
		cmocka_unit_test(codes_are_distinct),
		cmocka_unit_test(entries_match_the_spec_table),
		cmocka_unit_test(out_of_range_maps_to_server_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
