/*
 * test_span — a counted span equals a word only whole: not a prefix, not
 * an extension, and no byte past len is looked at.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "span.h"

static void
whole_word_only(void **state)
{
	static const struct {
		const char	*s;
		size_t		 len;
		const char	*word;
		int		 want;
	} cases[] = {
		{ "off", 3, "off", 1 },
		{ "of", 2, "off", 0 },		/* a prefix */
		{ "offx", 4, "off", 0 },	/* longer */
		{ "offx", 3, "off", 1 },	/* only len bytes count */
		{ "OFF", 3, "off", 0 },		/* bytes, not case */
		{ "", 0, "", 1 },
		{ "x", 0, "", 1 },
		{ "", 0, "s", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(span_is(cases[i].s, cases[i].len,
		    cases[i].word), cases[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_word_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
