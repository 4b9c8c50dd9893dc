/* Unit tests for name validation (common/names.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/names.h"

static void test_valid(void **state)
{
	static const char *const ok[] = {
		"a", "pool1", "my-pool_2.v3", "...", ".hidden", "a..b", "résultat",
		"データ", "emoji-\xf0\x9f\x9a\x80", "with space", "~", "-",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(sky_name_check(ok[i]), 0);
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", "/", "a/b", "/a", "a/", "tab\there", "new\nline", "\x01",
		"del\x7f", "esc\x1b[0m",
		"caf\xe9",                 /* Latin-1, not UTF-8 */
		"\xc0\xaf",                /* overlong '/' */
		"\xe0\x80\xaf",            /* overlong, three bytes */
		"\xed\xa0\x80",            /* UTF-16 surrogate */
		"\xf4\x90\x80\x80",        /* past U+10FFFF */
		"\xe2\x82",                /* truncated sequence */
		"\x80",                    /* lone continuation byte */
		"\xff",
		"nel\xc2\x85",            /* C1 control character */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sky_name_check(bad[i]), -EINVAL);
	assert_int_equal(sky_name_check(NULL), -EINVAL);
}

static void test_length(void **state)
{
	char name[SKY_NAME_MAX + 2];

	(void)state;
	memset(name, 'x', sizeof(name));
	name[255] = '\0';
	assert_int_equal(sky_name_check(name), 0);
	name[255] = 'x';
	name[256] = '\0';
	assert_int_equal(sky_name_check(name), -ENAMETOOLONG);
	/* the limit is in bytes, not characters: 128 two-byte 'é' are 256 bytes */
	for (int i = 0; i < 128; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[256] = '\0';
	assert_int_equal(sky_name_check(name), -ENAMETOOLONG);
	name[254] = '\0';
	assert_int_equal(sky_name_check(name), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
