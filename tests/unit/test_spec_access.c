/* Unit tests of the spec keys that say how cloud nodes are reached
 * (scheduler/spec_access.c): image, ssh_user, ssh_cidr, boot_timeout; and
 * what a cloud pool may cost (budget). */
#include "spec_helpers.h"

static void test_cloud_keys(void **state)
{
	struct sky_spec s;
	char *out = NULL;

	(void)state;
	expect_ok("provider = aws\nimage = ami-0123456789abcdef0\nssh_user = ec2-user\n"
		  "ssh_cidr = 10.1.2.3\nboot_timeout = 20m\n", &s);
	assert_string_equal(s.image, "ami-0123456789abcdef0");
	assert_string_equal(s.ssh_user, "ec2-user");
	assert_string_equal(s.ssh_cidr, "10.1.2.3/32");   /* a bare address is a /32 */
	assert_int_equal(s.boot_timeout_s, 1200);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_non_null(strstr(out, "image = ami-0123456789abcdef0\n"));
	assert_non_null(strstr(out, "ssh_cidr = 10.1.2.3/32\n"));
	assert_non_null(strstr(out, "boot_timeout = 20m\n"));
	free(out);
	sky_spec_free(&s);
	expect_ok("provider = aws\nimage = ami-12345678\nssh_cidr = 0.0.0.0/0\n", &s);
	assert_string_equal(s.ssh_cidr, "0.0.0.0/0");
	sky_spec_free(&s);
	/* a container image: any name podman takes */
	expect_ok("provider = container\nimage = docker.io/library/debian:12\n", &s);
	assert_string_equal(s.image, "docker.io/library/debian:12");
	sky_spec_free(&s);
	expect_err("image = -v/:/x", "line 1: image: \"-v/:/x\" is neither an AWS image id "
		   "(ami-...) nor a container image name");
	expect_err("image = a b", "line 1: image: \"a b\" is neither an AWS image id "
		   "(ami-...) nor a container image name");
	expect_err("image = ami-123",
		   "line 1: image: \"ami-123\" is not an image id (ami- and 8 or 17 hex digits)");
	expect_err("image = ami-0123456789ABCDEF0",
		   "line 1: image: \"ami-0123456789ABCDEF0\" is not an image id (ami- and 8 or "
		   "17 hex digits)");
	expect_err("ssh_user = -oProxyCommand", "line 1: ssh_user: invalid user name "
		   "\"-oProxyCommand\"");
	expect_err("ssh_user = a b", "line 1: ssh_user: invalid user name \"a b\"");
	expect_err("ssh_cidr = 10.0.0.0/33",
		   "line 1: ssh_cidr: \"10.0.0.0/33\" is not an IPv4 network (a.b.c.d/n)");
	expect_err("ssh_cidr = 300.1.1.1/32",
		   "line 1: ssh_cidr: \"300.1.1.1/32\" is not an IPv4 network (a.b.c.d/n)");
	expect_err("ssh_cidr = 10.0.0.0/", "line 1: ssh_cidr: \"10.0.0.0/\" is not an IPv4 "
		   "network (a.b.c.d/n)");
	expect_ok("budget = $25.50\n", &s);
	assert_true(s.budget_usd == 25.5);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_non_null(strstr(out, "budget = 25.5\n"));
	free(out);
	sky_spec_free(&s);
	expect_err("budget = -3", "line 1: budget: invalid price \"-3\" (USD, e.g. 50)");
	expect_err("[a]\nbudget = 3\n",
		   "line 2: \"budget\" applies to the whole pool: set it before the first [section]");
	expect_err("boot_timeout = 0", "line 1: boot_timeout: invalid duration \"0\" (use e.g. 90s, 15m, 2h)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cloud_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
