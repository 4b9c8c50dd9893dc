/* Unit tests for the AWS credentials loader (providers/aws_creds.c): each
 * test runs with a fresh temporary HOME and no AWS_* variable set. */
#include <errno.h>
#include <limits.h>
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
#include "providers/aws_auth.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SECRET2 "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
#define TOKEN "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKW"

extern char **environ;

static char home[PATH_MAX];

/* Collects the names first: unsetenv while walking environ skips some. */
static void unset_aws_env(void)
{
	char names[64][128];
	size_t n = 0, i;
	char **e;

	for (e = environ; *e && n < SKY_ARRAY_SIZE(names); e++) {
		const char *eq = strchr(*e, '=');

		if (!strncmp(*e, "AWS_", 4) && eq && (size_t)(eq - *e) < sizeof(names[0]))
			snprintf(names[n++], sizeof(names[0]), "%.*s", (int)(eq - *e), *e);
	}
	for (i = 0; i < n; i++)
		unsetenv(names[i]);
}

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	unset_aws_env();
	snprintf(home, sizeof(home), "%s/skyfs-test-awscreds.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(home))
		return -1;
	return setenv("HOME", home, 1);
}

static int teardown(void **state)
{
	(void)state;
	unset_aws_env();
	return sky_rm_rf(home);
}

/* Writes HOME/rel (parents made); returns the full path, valid until the
 * next call. */
static const char *put_file(const char *rel, const char *text)
{
	static char path[PATH_MAX];
	char dir[PATH_MAX];
	char *slash;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	assert_int_equal(sky_mkdir_p(dir, 0700), 0);
	assert_int_equal(sky_write_file_atomic(path, text, strlen(text), 0), 0);
	return path;
}

/* Loads, and checks what every call must hold: no secret in msg or source. */
static int load(struct sky_aws_creds *c, char *msg, size_t msglen)
{
	int rc = sky_aws_load_creds(c, msg, msglen);

	assert_null(strstr(msg, SECRET));
	assert_null(strstr(msg, SECRET2));
	assert_null(strstr(msg, TOKEN));
	assert_null(strstr(c->source, SECRET));
	assert_null(strstr(c->source, SECRET2));
	if (rc)
		assert_true(msg[0] != '\0');
	return rc;
}

static const char creds_default[] =
	"[default]\n"
	"aws_access_key_id = AKIDFILE\n"
	"aws_secret_access_key = " SECRET2 "\n";

static void test_env_wins(void **state)
{
	struct sky_aws_creds c;
	char msg[512];

	(void)state;
	put_file(".aws/credentials", creds_default);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDENV");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, "");
	assert_string_equal(c.source, "environment");

	setenv("AWS_SESSION_TOKEN", TOKEN, 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.session_token, TOKEN);

	/* half a pair is an error, not a fall back to the file */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(load(&c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "AWS_SECRET_ACCESS_KEY"));
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(c.secret_access_key, "");          /* wiped on failure */
}

static void test_credentials_file(void **state)
{
	struct sky_aws_creds c;
	char msg[512], want[PATH_MAX + 64];
	const char *path;

	(void)state;
	path = put_file(".aws/credentials",
			"[default]\n"
			"aws_access_key_id = AKIDFILE\n"
			"aws_secret_access_key = " SECRET2 "\n"
			"aws_session_token = " TOKEN "\n");
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDFILE");
	assert_string_equal(c.secret_access_key, SECRET2);
	assert_string_equal(c.session_token, TOKEN);
	assert_string_equal(c.region, "");
	snprintf(want, sizeof(want), "profile default in %s", path);
	assert_string_equal(c.source, want);
}

static void test_named_profile(void **state)
{
	struct sky_aws_creds c;
	char msg[512];

	(void)state;
	put_file(".aws/credentials",
		 "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = x\n"
		 "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = " SECRET "\n");
	put_file(".aws/config",
		 "[default]\nregion = us-east-1\n"
		 "[dev]\nregion = wrong-1\n"             /* not a profile in the config file */
		 "[profile dev]\nregion = eu-central-1\n");
	setenv("AWS_PROFILE", "dev", 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDDEV");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.region, "eu-central-1");
	assert_non_null(strstr(c.source, "profile dev in "));

	unsetenv("AWS_PROFILE");
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDDEF");
	assert_string_equal(c.region, "us-east-1");
}

static void test_config_profile(void **state)
{
	struct sky_aws_creds c;
	char msg[512];
	const char *path;

	(void)state;
	path = put_file(".aws/config",
			"[x]\naws_access_key_id = NOTME\naws_secret_access_key = nope\n"
			"[profile   x ]\naws_access_key_id = AKIDX\n"
			"aws_secret_access_key = " SECRET "\naws_session_token = " TOKEN "\n"
			"region = sa-east-1\n"
			"[profile default]\naws_access_key_id = AKIDPD\n"
			"aws_secret_access_key = " SECRET2 "\n");
	setenv("AWS_PROFILE", "x", 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDX");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, TOKEN);
	assert_string_equal(c.region, "sa-east-1");
	assert_non_null(strstr(c.source, path));

	/* "[profile default]" is the default profile too */
	unsetenv("AWS_PROFILE");
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDPD");

	/* the credentials file comes first */
	put_file(".aws/credentials", creds_default);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDFILE");
}

static void test_region_order(void **state)
{
	struct sky_aws_creds c;
	char msg[512];

	(void)state;
	put_file(".aws/credentials", creds_default);
	put_file(".aws/config", "[default]\nregion = eu-west-1\n");
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.region, "eu-west-1");
	setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.region, "us-west-2");
	setenv("AWS_REGION", "ap-south-1", 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.region, "ap-south-1");

	/* with keys from the environment the config file still gives the region */
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.region, "eu-west-1");

	setenv("AWS_REGION", "a-region-name-far-too-long-for-the-field", 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "AWS_REGION"));
}

static void test_file_overrides(void **state)
{
	struct sky_aws_creds c;
	char msg[512];
	const char *path;

	(void)state;
	put_file(".aws/credentials", creds_default);
	put_file(".aws/config", "[default]\nregion = eu-west-1\n");
	path = put_file("elsewhere/creds",
			"[default]\naws_access_key_id = AKIDOTHER\n"
			"aws_secret_access_key = " SECRET "\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	path = put_file("elsewhere/conf", "[default]\nregion = me-south-1\n");
	setenv("AWS_CONFIG_FILE", path, 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDOTHER");
	assert_string_equal(c.region, "me-south-1");

	/* "~/" is HOME, as the CLI expands it */
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", 1);
	setenv("AWS_CONFIG_FILE", "~/nothing-here", 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDFILE");
	assert_string_equal(c.region, "");
}

static void test_nothing_found(void **state)
{
	struct sky_aws_creds c;
	char msg[512];

	(void)state;
	assert_int_equal(load(&c, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, home));
	assert_non_null(strstr(msg, "default"));

	/* a profile without keys is not enough */
	put_file(".aws/config", "[default]\nregion = eu-west-1\n");
	assert_int_equal(load(&c, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "aws_access_key_id"));

	/* without HOME only the overrides can be read */
	unsetenv("HOME");
	assert_int_equal(load(&c, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "HOME is not set"));
	setenv("HOME", home, 1);

	/* msg may be NULL */
	assert_int_equal(sky_aws_load_creds(&c, NULL, 0), -ENOENT);
}

static void test_missing_profile(void **state)
{
	struct sky_aws_creds c;
	char msg[512];

	(void)state;
	put_file(".aws/credentials", creds_default);
	setenv("AWS_PROFILE", "staging-eu", 1);
	assert_int_equal(load(&c, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "AWS_PROFILE"));
	assert_non_null(strstr(msg, "staging-eu"));
	assert_string_equal(c.access_key_id, "");
}

static void test_half_a_profile(void **state)
{
	struct sky_aws_creds c;
	char msg[512];
	const char *path;

	(void)state;
	path = put_file(".aws/credentials", "# keys\n[default]\naws_access_key_id = AKIDHALF\n");
	assert_int_equal(load(&c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, "line 3"));
	assert_non_null(strstr(msg, "aws_secret_access_key"));

	/* the other half, with the secret the message must not show */
	assert_int_equal(unlink(path), 0);
	path = put_file(".aws/config", "[default]\naws_secret_access_key = " SECRET "\n");
	assert_int_equal(load(&c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, "line 2"));
}

static void test_syntax(void **state)
{
	struct sky_aws_creds c;
	char msg[512];

	(void)state;
	put_file(".aws/credentials",
		 "# a comment\n"
		 "; another\n"
		 "\n"
		 "   # an indented comment\n"
		 "[other]\n"
		 "aws_access_key_id=AKIDOTHER\n"
		 "\r\n"
		 "[ default ]   \r\n"
		 "  AWS_Access_Key_ID   =   AKIDSPACED  \r\n"
		 "  aws_secret_access_key:" SECRET "\r\n"
		 "s3 =\n"
		 "    aws_access_key_id = NESTED\n"     /* belongs to s3, as in configparser */
		 "    max_concurrent_requests = 20\n"
		 "aws_session_token =\n"               /* empty: no token */
		 "[later]\n"
		 "aws_access_key_id = AKIDLATER\n");
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key_id, "AKIDSPACED");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, "");
}

static void test_bad_files(void **state)
{
	static const struct {
		const char *text;
		const char *want;      /* in msg */
	} bad[] = {
		{ "[default]\n" SECRET "\n", "line 2" },          /* no '=': the line is not shown */
		{ "aws_secret_access_key = " SECRET "\n[default]\n", "line 1" },
		{ "[default\naws_secret_access_key = " SECRET "\n", "line 1" },
		{ "[default]\naws_access_key_id = A\naws_secret_access_key = " SECRET "\n"
		  "a\0b = c\n", "NUL" },
	};
	static const size_t len_nul = sizeof("[default]\naws_access_key_id = A\n"
					     "aws_secret_access_key = " SECRET "\na\0b = c\n") - 1;
	struct sky_aws_creds c;
	char msg[512], path[PATH_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		size_t len = i == 3 ? len_nul : strlen(bad[i].text);

		snprintf(path, sizeof(path), "%s/.aws", home);
		assert_int_equal(sky_mkdir_p(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/.aws/credentials", home);
		assert_int_equal(sky_write_file_atomic(path, bad[i].text, len, 0), 0);
		assert_int_equal(load(&c, msg, sizeof(msg)), -EINVAL);
		if (!strstr(msg, bad[i].want) || !strstr(msg, path))
			fail_msg("case %zu: %s", i, msg);
	}

	/* a directory where the file should be */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(load(&c, msg, sizeof(msg)) < 0);
	assert_non_null(strstr(msg, path));
}

static void test_long_lines(void **state)
{
	struct sky_aws_creds c;
	struct sky_buf b = { 0 };
	char msg[512];
	size_t i;

	(void)state;
	/* a 200 KiB comment, a token that just fits */
	assert_int_equal(sky_buf_append(&b, "#", 1), 0);
	for (i = 0; i < 200 * 1024; i++)
		assert_int_equal(sky_buf_append(&b, "x", 1), 0);
	assert_int_equal(sky_buf_printf(&b, "\n%s\naws_session_token = ", creds_default), 0);
	for (i = 0; i < sizeof(c.session_token) - 1; i++)
		assert_int_equal(sky_buf_append(&b, "T", 1), 0);
	assert_int_equal(sky_buf_append(&b, "\n", 1), 0);
	put_file(".aws/credentials", b.data);
	assert_int_equal(load(&c, msg, sizeof(msg)), 0);
	assert_int_equal(strlen(c.session_token), sizeof(c.session_token) - 1);

	/* one byte more does not fit: an error, never a truncated token */
	b.data[b.len - 1] = 'T';
	assert_int_equal(sky_buf_append(&b, "\n", 1), 0);
	put_file(".aws/credentials", b.data);
	assert_int_equal(load(&c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "aws_session_token"));

	/* over the size limit */
	while (b.len <= 1024 * 1024)
		assert_int_equal(sky_buf_printf(&b, "# %0120d\n", 0), 0);
	put_file(".aws/credentials", b.data);
	assert_int_equal(load(&c, msg, sizeof(msg)), -EFBIG);
	sky_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_env_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_a_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
