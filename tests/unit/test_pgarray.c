/*
 * test_pgarray — the array literals every multi-value parameter is sent
 * as: braces, each element double-quoted, '"' and '\' escaped, nothing else
 * changed, and growth across many elements without losing any.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pgarray.h"

static const char *
add_all(struct pgarray *a, const char *const *items, int n)
{
	int i;

	for (i = 0; i < n; i++)
		assert_int_equal(pgarray_add(a, items[i], strlen(items[i])), 0);
	return pgarray_end(a);
}

static void
no_elements_is_the_empty_array(void **state)
{
	struct pgarray a = PGARRAY_INIT;

	assert_string_equal(pgarray_end(&a), "{}");
	pgarray_free(&a);
}

static const struct {
	const char	*name;
	const char	*items[4];
	int		 n;
	const char	*text;
} arrays[] = {
	{ "elements are quoted and comma-separated in order",
	    { "ab", "ab_-cd", "ab_-cd_efgh" }, 3,
	    "{\"ab\",\"ab_-cd\",\"ab_-cd_efgh\"}" },
	{ "quote and backslash are escaped and nothing else",
	    { "{\"a\": \"b\\\\c\"}", "", "NULL", " , {}" }, 4,
	    "{\"{\\\"a\\\": \\\"b\\\\\\\\c\\\"}\",\"\",\"NULL\",\" , {}\"}" },
};

static void
arrays_are_written_as_postgresql_reads_them(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
		struct pgarray a = PGARRAY_INIT;
		const char *got = add_all(&a, arrays[i].items, arrays[i].n);

		if (strcmp(got, arrays[i].text) != 0)
			fail_msg("%s: %s", arrays[i].name, got);
		pgarray_free(&a);
	}
}

static void
an_element_is_taken_by_length_not_up_to_a_nul(void **state)
{
	struct pgarray a = PGARRAY_INIT;

	assert_int_equal(pgarray_add(&a, "abcdef", 3), 0);
	assert_string_equal(pgarray_end(&a), "{\"abc\"}");
	pgarray_free(&a);
}

/* Many elements force several reallocations; every one must survive. */
static void
many_elements_are_all_kept(void **state)
{
	struct pgarray a = PGARRAY_INIT;
	char item[16], want[16];
	const char *out, *p;
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(item, sizeof(item), "e%d", i);
		assert_int_equal(pgarray_add(&a, item, strlen(item)), 0);
	}
	assert_non_null(out = pgarray_end(&a));
	assert_int_equal(out[0], '{');
	assert_int_equal(out[strlen(out) - 1], '}');
	for (i = 0, p = out + 1; i < 1000; i++) {
		snprintf(want, sizeof(want), "\"e%d\"", i);
		if (strncmp(p, want, strlen(want)) != 0)
			fail_msg("element %d missing at %.20s", i, p);
		p += strlen(want) + 1;
	}
	pgarray_free(&a);
}

static void
free_leaves_an_empty_array_ready_for_reuse(void **state)
{
	struct pgarray a = PGARRAY_INIT;

	assert_int_equal(pgarray_add(&a, "x", 1), 0);
	pgarray_free(&a);
	assert_null(a.buf);
	assert_string_equal(pgarray_end(&a), "{}");
	pgarray_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_elements_is_the_empty_array),
		cmocka_unit_test(arrays_are_written_as_postgresql_reads_them),
		cmocka_unit_test(an_element_is_taken_by_length_not_up_to_a_nul),
		cmocka_unit_test(many_elements_are_all_kept),
		cmocka_unit_test(free_leaves_an_empty_array_ready_for_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
