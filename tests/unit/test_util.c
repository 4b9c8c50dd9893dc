/* Unit tests for the shared helpers (common/util.c). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"

static void test_duration_valid(void **state)
{
	static const struct {
		const char *text;
		long secs;
	} cases[] = {
		{ "90s", 90 }, { "15m", 900 }, { "2h", 7200 }, { "1d", 86400 },
		{ "1h30m", 5400 }, { "1d2h3m4s", 93784 }, { "45", 45 }, { "1", 1 },
		{ "  10m  ", 600 }, { "0h5m", 300 }, { "90m", 5400 },
	};
	size_t i;
	long v;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = -1;
		assert_int_equal(sky_parse_duration(cases[i].text, &v), 0);
		assert_int_equal(v, cases[i].secs);
	}
}

static void test_duration_invalid(void **state)
{
	static const char *const bad[] = {
		"", "   ", "0", "0s", "0h0m", "5x", "h", "-5s", "+5s", "1.5h", "1h30",
		"1h 30m", "5 s", "s5", "10m!", "9223372036854775807d",
		"99999999999999999999", "9223372036854775807s1s",
	};
	size_t i;
	long v = 1234;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sky_parse_duration(bad[i], &v), -EINVAL);
	assert_int_equal(v, 1234);   /* untouched on failure */
	/* the largest value that fits is fine */
	assert_int_equal(sky_parse_duration("9223372036854775807", &v), 0);
	assert_int_equal(v, LONG_MAX);
}

/* sky_parse_time reads back what sky_fmt_time writes, to the millisecond
 * (the events file's first line gives a remounted pool its created time). */
static void test_time_round_trip(void **state)
{
	static const double times[] = { 1795000000.0, 1795000000.123, 0.5, 1795999999.999 };
	char buf[40], again[40];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		sky_fmt_time(times[i], buf, sizeof(buf));
		assert_true(fabs(sky_parse_time(buf) - times[i]) < 0.0015);
	}
	/* what is read back prints the same, to the millisecond */
	for (i = 0; i < 20000; i++) {
		sky_fmt_time(1795931006.0 + (double)i * 0.0137, buf, sizeof(buf));
		sky_fmt_time(sky_parse_time(buf), again, sizeof(again));
		assert_string_equal(buf, again);
	}
	assert_true(sky_parse_time("2026-11-29T05:43:26Z rest") == 1795931006.0);
	assert_true(sky_parse_time("2026-11-29T05:43:26.5Z") ==
		    sky_parse_time("2026-11-29T05:43:26Z") + 0.5);
	assert_true(sky_parse_time("") == 0);
	assert_true(sky_parse_time("pool created") == 0);
	assert_true(sky_parse_time("2026-13-45Tzz") == 0);
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(sky_edit_distance("", ""), 0);
	assert_int_equal(sky_edit_distance("nodes", "nodes"), 0);
	assert_int_equal(sky_edit_distance("nodez", "nodes"), 1);
	assert_int_equal(sky_edit_distance("NODES", "nodes"), 0);   /* case-insensitive */
	assert_int_equal(sky_edit_distance("node", "nodes"), 1);
	assert_int_equal(sky_edit_distance("slost", "slots"), 2);
	assert_int_equal(sky_edit_distance("", "abc"), 3);
	assert_int_equal(sky_edit_distance("abc", ""), 3);
	assert_int_equal(sky_edit_distance("kitten", "sitting"), 3);
	assert_int_equal(sky_edit_distance("provider", "xyz"), 8);
}

static char tmpdir[PATH_MAX];

static int make_tmpdir(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/skyfs-test-util.XXXXXX", base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	return sky_rm_rf(tmpdir);
}

static void test_write_read(void **state)
{
	char path[PATH_MAX + 16], *data = NULL;
	size_t len = 99;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/f", tmpdir);
	assert_int_equal(sky_read_file(path, &data, &len, 100), -ENOENT);
	assert_int_equal(sky_write_file_atomic(path, "hello", 5, 0), 0);
	assert_int_equal(sky_read_file(path, &data, &len, 100), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	/* the limit is inclusive: 5 bytes fit in 5, not in 4 */
	assert_int_equal(sky_read_file(path, &data, &len, 5), 0);
	free(data);
	data = NULL;
	assert_int_equal(sky_read_file(path, &data, &len, 4), -EFBIG);
	assert_null(data);
	/* replacing: the new content wholly, and no temporary file left */
	assert_int_equal(sky_write_file_atomic(path, "bye", 3, 1), 0);
	assert_int_equal(sky_read_file(path, &data, NULL, 100), 0);
	assert_string_equal(data, "bye");
	free(data);
	/* an empty file reads as an empty, NUL-terminated string */
	assert_int_equal(sky_write_file_atomic(path, "", 0, 0), 0);
	assert_int_equal(sky_read_file(path, &data, &len, 0), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* larger than one read chunk */
	{
		size_t n = 100000, i;
		char *big = malloc(n);

		assert_non_null(big);
		for (i = 0; i < n; i++)
			big[i] = (char)('a' + i % 26);
		assert_int_equal(sky_write_file_atomic(path, big, n, 0), 0);
		assert_int_equal(sky_read_file(path, &data, &len, n), 0);
		assert_int_equal(len, n);
		assert_memory_equal(data, big, n);
		free(data);
		assert_int_equal(sky_read_file(path, &data, &len, n - 1), -EFBIG);
		free(big);
	}
	snprintf(path, sizeof(path), "%s/missing-dir/f", tmpdir);
	assert_int_equal(sky_write_file_atomic(path, "x", 1, 0), -ENOENT);
}

static void test_rm_rf(void **state)
{
	char root[PATH_MAX + 16], path[PATH_MAX + 64];
	struct stat st;

	(void)state;
	snprintf(root, sizeof(root), "%s/tree", tmpdir);
	snprintf(path, sizeof(path), "%s/a/b/c", root);
	assert_int_equal(sky_mkdir_p(path, 0755), 0);
	assert_int_equal(sky_mkdir_p(path, 0755), 0);   /* already there */
	snprintf(path, sizeof(path), "%s/a/b/c/file", root);
	assert_int_equal(sky_write_file_atomic(path, "x", 1, 0), 0);
	snprintf(path, sizeof(path), "%s/a/top", root);
	assert_int_equal(sky_write_file_atomic(path, "y", 1, 0), 0);
	snprintf(path, sizeof(path), "%s/a/link", root);
	assert_int_equal(symlink(tmpdir, path), 0);   /* must not be followed */
	snprintf(path, sizeof(path), "%s/a/b/empty", root);
	assert_int_equal(mkdir(path, 0700), 0);

	assert_int_equal(sky_rm_rf(root), 0);
	assert_int_equal(lstat(root, &st), -1);
	assert_int_equal(stat(tmpdir, &st), 0);       /* the link's target survived */
	assert_int_equal(sky_rm_rf(root), 0);         /* missing is not an error */

	snprintf(path, sizeof(path), "%s/plain", tmpdir);
	assert_int_equal(sky_write_file_atomic(path, "z", 1, 0), 0);
	assert_int_equal(sky_rm_rf(path), 0);         /* a plain file too */
	assert_int_equal(lstat(path, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_valid),
		cmocka_unit_test(test_duration_invalid),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test_setup_teardown(test_write_read, make_tmpdir, remove_tmpdir),
		cmocka_unit_test_setup_teardown(test_rm_rf, make_tmpdir, remove_tmpdir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
