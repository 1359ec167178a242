/*
 * test_pghosts — how a multi-host libpq URL is split into one set of
 * parameters per host: entries matched by index, one port for all, the
 * other parameters unchanged, target_session_attrs replaceable, and the
 * URLs left to libpq whole (one host, lists libpq would refuse).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pghosts.h"

#define CAP	64

struct params {
	const char	*kw[CAP];
	const char	*val[CAP];
	int		 n;
};

static void
host_params(const struct pghosts *h, int i, const char *attrs,
    struct params *p)
{
	p->n = pghosts_params(h, i, attrs, p->kw, p->val, CAP);
	assert_true(p->n >= 0);
	assert_null(p->kw[p->n]);
}

/* The value of keyword in p, NULL when p does not give it. */
static const char *
value(const struct params *p, const char *keyword)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->kw[i], keyword) == 0)
			return p->val[i];
	return NULL;
}

static void
each_host_gets_its_own_host_and_port_and_every_other_parameter(void **st)
{
	struct pghosts h;
	struct params p;

	assert_int_equal(pghosts_parse(&h, "postgresql://u:pw@a:5432,b:5433/"
	    "otas?target_session_attrs=read-write&sslmode=disable"), 1);
	assert_int_equal(h.n, 2);
	host_params(&h, 1, NULL, &p);
	assert_string_equal(value(&p, "host"), "b");
	assert_string_equal(value(&p, "port"), "5433");
	assert_string_equal(value(&p, "user"), "u");
	assert_string_equal(value(&p, "password"), "pw");
	assert_string_equal(value(&p, "dbname"), "otas");
	assert_string_equal(value(&p, "target_session_attrs"), "read-write");
	assert_string_equal(value(&p, "sslmode"), "disable");
	host_params(&h, 0, NULL, &p);
	assert_string_equal(value(&p, "host"), "a");
	assert_string_equal(value(&p, "port"), "5432");
	pghosts_free(&h);
}

/*
 * The URL `pg_autoctl show uri --formation default` prints (postgres://,
 * no user, sslmode last) with the role appended as the pg_auto_failover
 * guide says: each host gets it, and sslmode too.
 */
static void
pg_autoctl_formation_uri_with_the_role_appended(void **st)
{
	struct pghosts h;
	struct params p;
	int i;

	assert_int_equal(pghosts_parse(&h, "postgres://10.0.0.11:5432,"
	    "10.0.0.12:5432/otas?target_session_attrs=read-write"
	    "&sslmode=require&user=otas_runtime"), 1);
	assert_int_equal(h.n, 2);
	assert_string_equal(pghosts_attrs(&h), "read-write");
	for (i = 0; i < 2; i++) {
		host_params(&h, i, NULL, &p);
		assert_string_equal(value(&p, "host"),
		    i == 0 ? "10.0.0.11" : "10.0.0.12");
		assert_string_equal(value(&p, "port"), "5432");
		assert_string_equal(value(&p, "user"), "otas_runtime");
		assert_string_equal(value(&p, "dbname"), "otas");
		assert_string_equal(value(&p, "sslmode"), "require");
		assert_string_equal(value(&p, "target_session_attrs"),
		    "read-write");
	}
	pghosts_free(&h);
}

/* got is want, both NULL or the same text; else fail naming the case. */
static void
assert_same(const char *name, const char *key, const char *got,
    const char *want)
{
	if (got == NULL && want == NULL)
		return;
	if (got == NULL || want == NULL || strcmp(got, want) != 0)
		fail_msg("%s: %s is %s, not %s", name, key,
		    got ? got : "(none)", want ? want : "(none)");
}

/* Host i of conninfo (of n hosts): its host and the value of key. */
static const struct {
	const char	*name;
	const char	*conninfo;
	int		 n, i;
	const char	*host, *key, *value;
} entries[] = {
	{ "one port applies to every host",
	    "host=a,b,c port=6000 dbname=otas", 3, 2, "c", "port", "6000" },
	{ "no port leaves the default",
	    "postgresql://a,b/otas", 2, 1, "b", "port", NULL },
	{ "hostaddr goes with the host of the same index",
	    "host=a,b hostaddr=10.0.0.1,10.0.0.2 dbname=otas", 2, 1, "b",
	    "hostaddr", "10.0.0.2" },
	{ "hostaddr alone",
	    "hostaddr=10.0.0.1,10.0.0.2", 2, 0, NULL, "hostaddr", "10.0.0.1" },
};

static void
each_host_gets_the_entries_of_its_index(void **st)
{
	struct pghosts h;
	struct params p;
	size_t i;

	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		if (pghosts_parse(&h, entries[i].conninfo) != 1)
			fail_msg("%s: not parsed", entries[i].name);
		assert_int_equal(h.n, entries[i].n);
		host_params(&h, entries[i].i, NULL, &p);
		assert_same(entries[i].name, "host", value(&p, "host"),
		    entries[i].host);
		assert_same(entries[i].name, entries[i].key,
		    value(&p, entries[i].key), entries[i].value);
		pghosts_free(&h);
	}
}

static void
an_empty_entry_is_left_to_libpqs_default(void **st)
{
	struct pghosts h;
	struct params p;
	char name[64];

	assert_int_equal(pghosts_parse(&h, "host=a,,c port=1,,3"), 1);
	host_params(&h, 1, NULL, &p);
	assert_null(value(&p, "host"));
	assert_null(value(&p, "port"));
	pghosts_name(&h, 1, name, sizeof(name));
	assert_string_equal(name, "default:default");
	pghosts_name(&h, 2, name, sizeof(name));
	assert_string_equal(name, "c:3");
	pghosts_free(&h);
}

static void
attrs_replace_target_session_attrs_only(void **st)
{
	struct pghosts h;
	struct params p;

	assert_int_equal(pghosts_parse(&h, "postgresql://a,b/otas?"
	    "target_session_attrs=prefer-standby"), 1);
	assert_string_equal(pghosts_attrs(&h), "prefer-standby");
	host_params(&h, 0, "standby", &p);
	assert_string_equal(value(&p, "target_session_attrs"), "standby");
	assert_string_equal(value(&p, "dbname"), "otas");
	pghosts_free(&h);
	assert_int_equal(pghosts_parse(&h, "postgresql://a,b/otas"), 1);
	assert_null(pghosts_attrs(&h));
	pghosts_free(&h);
}

static void
one_host_none_or_a_bad_url_is_left_to_libpq_whole(void **st)
{
	struct pghosts h;

	assert_int_equal(pghosts_parse(&h, NULL), 0);
	assert_int_equal(pghosts_parse(&h, "postgresql://a:5432/otas"), 0);
	assert_int_equal(pghosts_parse(&h, "dbname=otas"), 0);
	assert_int_equal(pghosts_parse(&h, "postgresql://a,b/otas?nosuch=1"),
	    0);
	assert_int_equal(pghosts_parse(&h, "host='a,b"), 0);
	assert_null(h.opts);
}

static void
lists_libpq_cannot_match_are_left_to_libpq(void **st)
{
	struct pghosts h;

	assert_int_equal(pghosts_parse(&h, "host=a,b port=1,2,3"), 0);
	assert_int_equal(pghosts_parse(&h, "host=a,b,c hostaddr=1.1.1.1,"
	    "2.2.2.2"), 0);
	assert_int_equal(pghosts_parse(&h, "host=a,b,c,d,e,f,g,h,i,j,k,l,m,"
	    "n,o,p,q"), 0);		/* more than PGHOSTS_MAX */
	assert_int_equal(pghosts_parse(&h, "host=a,b,c,d,e,f,g,h,i,j,k,l,m,"
	    "n,o,p"), 1);
	assert_int_equal(h.n, PGHOSTS_MAX);
	pghosts_free(&h);
}

static void
too_few_entries_for_the_parameters_is_refused(void **st)
{
	struct pghosts h;
	const char *kw[4], *val[4];

	assert_int_equal(pghosts_parse(&h, "host=a,b dbname=otas user=u"), 1);
	assert_int_equal(pghosts_params(&h, 0, NULL, kw, val, 3), -1);
	assert_int_equal(pghosts_params(&h, 2, NULL, kw, val, 3), -1);
	assert_int_equal(pghosts_params(&h, 0, NULL, kw, val, 4), 3);
	pghosts_free(&h);
}

static void
a_name_too_long_for_the_buffer_becomes_the_hosts_number(void **st)
{
	struct pghosts h;
	char name[8];

	assert_int_equal(pghosts_parse(&h, "host=/var/run/postgresql,b"), 1);
	pghosts_name(&h, 0, name, sizeof(name));
	assert_string_equal(name, "host 1");
	pghosts_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    each_host_gets_its_own_host_and_port_and_every_other_parameter),
		cmocka_unit_test(each_host_gets_the_entries_of_its_index),
		cmocka_unit_test(an_empty_entry_is_left_to_libpqs_default),
		cmocka_unit_test(attrs_replace_target_session_attrs_only),
		cmocka_unit_test(
		    one_host_none_or_a_bad_url_is_left_to_libpq_whole),
		cmocka_unit_test(lists_libpq_cannot_match_are_left_to_libpq),
		cmocka_unit_test(
		    too_few_entries_for_the_parameters_is_refused),
		cmocka_unit_test(
		    a_name_too_long_for_the_buffer_becomes_the_hosts_number),
		cmocka_unit_test(
		    pg_autoctl_formation_uri_with_the_role_appended),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
