/*
 * test_passwd — /etc/passwd and /etc/group read without NSS: a user found
 * by name or by uid, malformed and NIS lines skipped, a name that is only
 * a prefix never matching; the groups a user is listed in, primary first,
 * each once, and a list longer than the room refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "passwd.h"

static const char PW[] =
    "root:x:0:0:root:/root:/bin/bash\n"
    "+nis::::::\n"
    "broken:x:12:\n"
    "bad:x:1x:3:b:/b:/bin/sh\n"
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
    "www:x:1001:1001::/home/www:/bin/sh\n"
    "33:x:4242:4242::/home/digits:/bin/sh";	/* no final newline */

static const char GR[] =
    "root:x:0:\n"
    "www-data:x:33:\n"
    "ssl-cert:x:110:www-data,postgres\n"
    "web:x:200:www,www-data\n"
    "again:x:110:www-data\n"
    "bad:x:1x:www-data\n"
    "+:::www-data\n"
    "short:x:300\n";

static void
a_user_is_found_by_name_with_uid_gid_and_home(void **state)
{
	struct passwd_entry e;

	assert_int_equal(passwd_find(PW, strlen(PW), "www-data", &e), 1);
	assert_string_equal(e.name, "www-data");
	assert_string_equal(e.home, "/var/www");
	assert_int_equal(e.uid, 33);
	assert_int_equal(e.gid, 33);
	assert_int_equal(passwd_find(PW, strlen(PW), "www", &e), 1);
	assert_int_equal(e.uid, 1001);
}

static void
a_name_wins_over_a_uid_and_a_uid_is_found_otherwise(void **state)
{
	struct passwd_entry e;

	/* "33" is a user's name: that line, not uid 33. */
	assert_int_equal(passwd_find(PW, strlen(PW), "33", &e), 1);
	assert_int_equal(e.uid, 4242);
	assert_string_equal(e.home, "/home/digits");
	assert_int_equal(passwd_find(PW, strlen(PW), "1001", &e), 1);
	assert_string_equal(e.name, "www");
}

static void
malformed_nis_and_prefix_lines_never_match(void **state)
{
	struct passwd_entry e;

	assert_int_equal(passwd_find(PW, strlen(PW), "broken", &e), 0);
	assert_int_equal(passwd_find(PW, strlen(PW), "bad", &e), 0);
	assert_int_equal(passwd_find(PW, strlen(PW), "+nis", &e), 0);
	assert_int_equal(passwd_find(PW, strlen(PW), "www-", &e), 0);
	assert_int_equal(passwd_find(PW, strlen(PW), "", &e), 0);
	assert_int_equal(passwd_find(PW, strlen(PW), "99999999999", &e), 0);
	/*
	 * The length bounds the text: the last line cut short is malformed,
	 * so "33" is uid 33 there.
	 */
	assert_int_equal(passwd_find(PW, strlen(PW) - 20, "33", &e), 1);
	assert_string_equal(e.name, "www-data");
}

static void
groups_are_the_primary_then_each_listing_once(void **state)
{
	gid_t g[8];

	assert_int_equal(passwd_groups(GR, strlen(GR), "www-data", 33, g, 8),
	    3);
	assert_int_equal(g[0], 33);
	assert_int_equal(g[1], 110);
	assert_int_equal(g[2], 200);
	assert_int_equal(passwd_groups(GR, strlen(GR), "www", 1001, g, 8), 2);
	assert_int_equal(g[1], 200);
	assert_int_equal(passwd_groups(GR, strlen(GR), "nobody", 65534, g, 8),
	    1);
}

static void
more_groups_than_room_are_refused(void **state)
{
	gid_t g[2];

	assert_int_equal(passwd_groups(GR, strlen(GR), "www-data", 33, g, 2),
	    -1);
	assert_int_equal(passwd_groups(GR, strlen(GR), "www", 1001, g, 2), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_user_is_found_by_name_with_uid_gid_and_home),
		cmocka_unit_test(
		    a_name_wins_over_a_uid_and_a_uid_is_found_otherwise),
		cmocka_unit_test(malformed_nis_and_prefix_lines_never_match),
		cmocka_unit_test(groups_are_the_primary_then_each_listing_once),
		cmocka_unit_test(more_groups_than_room_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
