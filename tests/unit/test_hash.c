/*
 * test_hash — Django pbkdf2_sha256 encodings and SHA-256.  The vectors were
 * computed with Python's hashlib.pbkdf2_hmac (what Django itself calls) and
 * pasted here, so a match means interoperability, not self-consistency.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct vector {
	const char	*pw;
	const char	*encoded;
};

static const struct vector vectors[] = {
	/* A reference key hashed by Django 3.2's default hasher. */
	{ "agent_abc123_s3cr3t",
	  "pbkdf2_sha256$260000$Zb3mQ9kT1xVw7yR2pL8nC4$"
	  "9bmXoNNSivBmL9uDfKvJve3saTW8Ti0vhhleQcXQiRM=" },
	{ "password",
	  "pbkdf2_sha256$1$salt$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=" },
	/* Old-style 12-character salt. */
	{ "correct horse",
	  "pbkdf2_sha256$1000$Zb3mQ9kT1xVw$"
	  "N8dlUEUSaF5rBxD1IxEd9/rST4AzGZQYyyjBIlO7dJI=" },
	/* '_' inside the secret, as token_urlsafe can produce. */
	{ "agent_Ab_c9_x-Y_s3_cr_3t",
	  "pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
	  "KzGDyT2cZDgkwzg09WhX0juC0UlPE3+iWYAVveUu3ck=" },
	{ "",
	  "pbkdf2_sha256$2$AAAAAAAAAAAAAAAAAAAAAA$"
	  "SANDw4Vn7BfzxBkk0MMW+/7qJksZJSA2dxrJmfx8j00=" },
	/* UTF-8 bytes, as Django's force_bytes gives them. */
	{ "p\xc3\xa4ssw\xc3\xb6rd",
	  "pbkdf2_sha256$7$Zb3mQ9kT1xVw7yR2pL8nC4$"
	  "qeCUdIdY9dutd6m9qckGzTV4w1UmnTOs/Z1JC+Pe5Rs=" },
};

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

#define GOOD_HASH "KzGDyT2cZDgkwzg09WhX0juC0UlPE3+iWYAVveUu3ck="

/* hash_verify of the text key (its length by strlen) against enc. */
static enum hash_result
verify(const char *key, const char *enc)
{
	return hash_verify(key, strlen(key), enc);
}

static void
verifies_django_vectors(void **state)
{
	size_t	 i;

	for (i = 0; i < NVECTORS; i++)
		if (hash_verify(vectors[i].pw, strlen(vectors[i].pw),
		    vectors[i].encoded) != HASH_MATCH)
			fail_msg("vector %zu did not match", i);
}

static void
mismatches_on_one_changed_byte_of_password(void **state)
{
	char	 pw[64];
	size_t	 i, j, len;

	for (i = 0; i < NVECTORS; i++) {
		len = strlen(vectors[i].pw);
		if (len == 0 || hash_iterations(vectors[i].encoded) > 1000)
			continue;
		for (j = 0; j < len; j++) {
			memcpy(pw, vectors[i].pw, len);
			pw[j] ^= 0x01;
			assert_int_equal(hash_verify(pw, len,
			    vectors[i].encoded), HASH_MISMATCH);
		}
	}
	/* The slow reference vector: one changed byte, once. */
	assert_int_equal(hash_verify("agent_abc123_s3cr3u", 19,
	    vectors[0].encoded), HASH_MISMATCH);
}

static void
mismatches_on_extra_or_missing_byte(void **state)
{
	const char	*pw = "agent_Ab_c9_x-Y_s3_cr_3t";

	assert_int_equal(hash_verify(pw, strlen(pw) - 1, vectors[3].encoded),
	    HASH_MISMATCH);
	assert_int_equal(hash_verify("agent_Ab_c9_x-Y_s3_cr_3tX",
	    strlen(pw) + 1, vectors[3].encoded), HASH_MISMATCH);
}

static void
uses_len_not_nul(void **state)
{
	const char	 pw[] = "agent_Ab_c9_x-Y_s3_cr_3t+garbage";

	assert_int_equal(hash_verify(pw, 24, vectors[3].encoded), HASH_MATCH);
}

static void
mismatches_on_changed_stored_hash(void **state)
{
	const char	*e = "pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
			    "LzGDyT2cZDgkwzg09WhX0juC0UlPE3+iWYAVveUu3ck=";

	const char	*late = "pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
			    "KzGDyT2cZDgkwzg09WhX0juC0UlPE3+iWYAVveUu4ck=";

	assert_int_equal(verify("agent_Ab_c9_x-Y_s3_cr_3t", e), HASH_MISMATCH);
	assert_int_equal(verify("agent_Ab_c9_x-Y_s3_cr_3t", late),
	    HASH_MISMATCH);
}

static void
rejects_malformed_encodings(void **state)
{
	static const char *bad[] = {
		NULL,
		"",
		"pbkdf2_sha1$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"argon2$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"PBKDF2_SHA256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256x$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		/* three fields, five fields */
		"pbkdf2_sha256$3$" GOOD_HASH,
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH "$",
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$x$" GOOD_HASH,
		"pbkdf2_sha256$3$Kq7Lm2Np9$Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		/* iterations */
		"pbkdf2_sha256$0$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$-1$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$03$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$012$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$1e3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$+3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$ 3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$3 $Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$0x10$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$10000001$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$99999999$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH,
		"pbkdf2_sha256$18446744073709551619$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
		    GOOD_HASH,
		/* salt */
		"pbkdf2_sha256$3$$" GOOD_HASH,
		/* hash field */
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$",
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
		    "KzGDyT2cZDgkwzg09WhX0juC0UlPE3+iWYAVveUu3ck",
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
		    "KzGDyT2cZDgkwzg09WhX0juC0UlPE3+iWYAVveUu3c=",
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH "=",
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$" GOOD_HASH "\n",
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
		    "KzGDyT2cZDgkwzg09WhX0juC0UlPE3-iWYAVveUu3ck=",
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
		    "KzGDyT2cZDgkwzg09WhX0juC0UlPE3+iWYAVveUu3ck ",
		"pbkdf2_sha256$3$Kq7Lm2Np9Rs4Tv6Wx8Yz1B$"
		    "KzGDyT2cZDgkwzg09WhX0juC0UlPE3+iWYAVveU=3ck=",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hash_verify("agent_Ab_c9_x-Y_s3_cr_3t", 24, bad[i]) !=
		    HASH_MALFORMED)
			fail_msg("accepted as well formed: [%s]",
			    bad[i] ? bad[i] : "(null)");
		if (hash_iterations(bad[i]) != -1)
			fail_msg("iterations of malformed: [%s]",
			    bad[i] ? bad[i] : "(null)");
	}
}

static void
accepts_max_iterations_in_parse(void **state)
{
	assert_int_equal(hash_iterations("pbkdf2_sha256$10000000$s$" GOOD_HASH),
	    HASH_MAX_ITERATIONS);
}

static void
iterations_parses_without_hashing(void **state)
{
	assert_int_equal(hash_iterations(vectors[0].encoded), 260000);
	assert_int_equal(hash_iterations(vectors[1].encoded), 1);
	assert_int_equal(hash_iterations(vectors[2].encoded), 1000);
}

static int
is_django_salt(const char *s, size_t len)
{
	size_t	 i;

	if (len != 22)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The salt field of an encoding, into out (23 bytes). */
static void
salt_of(const char *enc, char out[23])
{
	const char	*s, *e;

	s = strchr(strchr(enc, '$') + 1, '$') + 1;
	e = strchr(s, '$');
	assert_non_null(e);
	assert_true(is_django_salt(s, (size_t)(e - s)));
	memcpy(out, s, 22);
	out[22] = '\0';
}

static void
make_round_trips_through_verify(void **state)
{
	char	 enc[HASH_ENCODED_MAX];
	char	 salt[23];

	assert_int_equal(hash_make("agent_Ab_c9_x-Y_s3_cr_3t", 24, 1000, enc,
	    sizeof(enc)), 0);
	assert_int_equal(strncmp(enc, "pbkdf2_sha256$1000$", 19), 0);
	assert_int_equal(strlen(enc), 19 + 22 + 1 + 44);
	salt_of(enc, salt);
	assert_int_equal(hash_iterations(enc), 1000);
	assert_int_equal(verify("agent_Ab_c9_x-Y_s3_cr_3t", enc), HASH_MATCH);
	assert_int_equal(verify("agent_Ab_c9_x-Y_s3_cr_3T", enc),
	    HASH_MISMATCH);
}

static void
make_uses_a_fresh_salt_each_call(void **state)
{
	char	 a[HASH_ENCODED_MAX], b[HASH_ENCODED_MAX];
	char	 sa[23], sb[23];

	assert_int_equal(hash_make("same", 4, 1, a, sizeof(a)), 0);
	assert_int_equal(hash_make("same", 4, 1, b, sizeof(b)), 0);
	salt_of(a, sa);
	salt_of(b, sb);
	assert_string_not_equal(sa, sb);
	assert_string_not_equal(a, b);
}

static void
make_salts_cover_the_alphabet(void **state)
{
	char	 enc[HASH_ENCODED_MAX], salt[23];
	int	 seen[256] = { 0 }, kinds = 0, i, j;

	for (i = 0; i < 100; i++) {
		assert_int_equal(hash_make("x", 1, 1, enc, sizeof(enc)), 0);
		salt_of(enc, salt);
		for (j = 0; j < 22; j++)
			seen[(unsigned char)salt[j]]++;
	}
	for (i = 0; i < 256; i++)
		if (seen[i])
			kinds++;
	/* 2200 draws from 62 symbols: every one shows up. */
	assert_int_equal(kinds, 62);
}

static void
make_rejects_bad_arguments(void **state)
{
	char	 enc[HASH_ENCODED_MAX];

	assert_int_equal(hash_make("pw", 2, 0, enc, sizeof(enc)), -1);
	assert_string_equal(enc, "");
	assert_int_equal(hash_make("pw", 2, -5, enc, sizeof(enc)), -1);
	assert_int_equal(hash_make("pw", 2, HASH_MAX_ITERATIONS + 1, enc,
	    sizeof(enc)), -1);
	assert_int_equal(hash_make(NULL, 2, 1, enc, sizeof(enc)), -1);
	assert_int_equal(hash_make("pw", 2, 1, NULL, 0), -1);
}

static void
make_refuses_a_short_buffer(void **state)
{
	char	 enc[87];

	/* 1000 iterations make an 86-character encoding: 87 bytes with NUL. */
	assert_int_equal(hash_make("pw", 2, 1000, enc, 86), -1);
	assert_string_equal(enc, "");
	assert_int_equal(hash_make("pw", 2, 1000, enc, 87), 0);
	assert_int_equal(strlen(enc), 86);
	assert_int_equal(verify("pw", enc), HASH_MATCH);
}

static void
sha256_of_abc_is_the_standard_vector(void **state)
{
	static const unsigned char abc[HASH_SHA256_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	unsigned char d[HASH_SHA256_LEN];

	assert_int_equal(hash_sha256("abcdef", 3, d), 0);
	assert_memory_equal(d, abc, sizeof(abc));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sha256_of_abc_is_the_standard_vector),
		cmocka_unit_test(verifies_django_vectors),
		cmocka_unit_test(mismatches_on_one_changed_byte_of_password),
		cmocka_unit_test(mismatches_on_extra_or_missing_byte),
		cmocka_unit_test(uses_len_not_nul),
		cmocka_unit_test(mismatches_on_changed_stored_hash),
		cmocka_unit_test(rejects_malformed_encodings),
		cmocka_unit_test(accepts_max_iterations_in_parse),
		cmocka_unit_test(iterations_parses_without_hashing),
		cmocka_unit_test(make_round_trips_through_verify),
		cmocka_unit_test(make_uses_a_fresh_salt_each_call),
		cmocka_unit_test(make_salts_cover_the_alphabet),
		cmocka_unit_test(make_rejects_bad_arguments),
		cmocka_unit_test(make_refuses_a_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
