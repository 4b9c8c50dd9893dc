/* Unit tests for the live keys of a spec (scheduler/spec_live.c): which
 * changes a live pool takes, which it refuses and with which names, and
 * that sky_spec_take_live() moves every key the table marks live (a new
 * live row without its move in sky_spec_take_live fails here). */
#include "spec_helpers.h"

#include "scheduler/spec_keys.h"

/* old and new parsed; returns sky_spec_live_diff's answer, fixed in buf. */
static int diff(const char *old_text, const char *new_text, char *buf, size_t len)
{
	struct sky_spec a, b;
	char err[256];
	int rc;

	assert_int_equal(parse(old_text, &a, err, sizeof(err)), 0);
	assert_int_equal(parse(new_text, &b, err, sizeof(err)), 0);
	rc = sky_spec_live_diff(&a, &b, buf, len);
	sky_spec_free(&a);
	sky_spec_free(&b);
	return rc;
}

static void test_live_changes_pass(void **state)
{
	static const char *const news[] = {
		"nodes = 4\nslots = 2\n",
		"nodes = 1\nslots = 8\n",
		"nodes = 2\nslots = 2\nenv.A = 1\nenv.B = two\n",
		"nodes = 2\nslots = 2\nlifetime = 1h\nidle_timeout = 5m\nbudget = 3\n",
		"nodes = 2\nslots = 2\nmax_output = 10M\nmax_attempts = 5\n",
		"# the same, written otherwise\nslots=2\nnodes =2\nprovider = local\n",
	};
	char fixed[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(news) / sizeof(news[0]); i++) {
		assert_int_equal(diff("nodes = 2\nslots = 2\n", news[i], fixed, sizeof(fixed)), 0);
		assert_string_equal(fixed, "");
	}
}

static void test_fixed_changes_named(void **state)
{
	char fixed[256];

	(void)state;
	assert_int_equal(diff("nodes = 2\n", "nodes = 3\naccelerator = H100:8\nsetup = true\n",
			      fixed, sizeof(fixed)), -EBUSY);
	assert_string_equal(fixed, "accelerator, setup");
	assert_int_equal(diff("provider = local\n", "provider = aws, local\n", fixed,
			      sizeof(fixed)), -EBUSY);
	assert_string_equal(fixed, "provider");
	/* a hardware key in one section only */
	assert_int_equal(diff("[a]\nprovider = local\n[b]\nprovider = local\n",
			      "[a]\nprovider = local\n[b]\nprovider = local\nmemory = 4\n", fixed,
			      sizeof(fixed)), -EBUSY);
	assert_string_equal(fixed, "memory");
	assert_int_equal(diff("[a]\nprovider = local\n", "[b]\nprovider = local\n", fixed,
			      sizeof(fixed)), -EBUSY);
	assert_string_equal(fixed, "[sections]");
	assert_int_equal(diff("nodes = 1\n", "nodes = 1\n[a]\nprovider = local\n", fixed,
			      sizeof(fixed)), -EBUSY);
	assert_string_equal(fixed, "[sections]");
	/* a short buffer is cut, never overrun */
	assert_int_equal(diff("nodes = 2\n", "accelerator = H100\nsetup = x\nregion = us-\n",
			      fixed, 8), -EBUSY);
	assert_int_equal(strlen(fixed), 7);
}

static void test_live_key_list(void **state)
{
	char keys[256];

	(void)state;
	sky_spec_live_keys(keys, sizeof(keys));
	assert_string_equal(keys, "nodes, slots, lifetime, idle_timeout, budget, max_output, "
			    "hosts, max_attempts, env.*");
}

/* The live keys that changed, by name, but for the ones the caller names
 * with their values (resize.c's event: "nodes 2 -> 3, lifetime, env.*"). */
static void test_live_changes_named(void **state)
{
	static const char *const counts[] = { "nodes", "slots", NULL };
	struct sky_spec a, b;
	char err[256], names[256];

	(void)state;
	assert_int_equal(parse("nodes = 2\nslots = 2\nenv.A = 1\n", &a, err, sizeof(err)), 0);
	assert_int_equal(parse("nodes = 3\nslots = 2\nenv.A = 2\nlifetime = 1h\n", &b, err,
			       sizeof(err)), 0);
	sky_spec_live_changes(&a, &b, NULL, names, sizeof(names));
	assert_string_equal(names, "nodes, lifetime, env.*");
	sky_spec_live_changes(&a, &b, counts, names, sizeof(names));
	assert_string_equal(names, "lifetime, env.*");
	sky_spec_live_changes(&a, &a, NULL, names, sizeof(names));
	assert_string_equal(names, "");
	sky_spec_free(&a);
	sky_spec_free(&b);
}

/* For each live row: a spec that differs in it alone; after take_live the
 * old spec formats like the new one. */
static void test_take_live_moves_every_live_key(void **state)
{
	/* key, new value, and the old one where the key needs one */
	static const char *const values[][3] = {
		{ "nodes", "7" }, { "slots", "3" }, { "lifetime", "2h" },
		{ "idle_timeout", "10m" }, { "budget", "12.5" }, { "max_output", "5M" },
		{ "max_attempts", "9" }, { "env.", "X = y" }, { "hosts", "h1, me@h2:2222", "h1" },
	};
	size_t i, k, found;
	char err[256], text[256], old_text[256];

	(void)state;
	for (i = 0, found = 0; i < n_spec_keys; i++) {
		struct sky_spec old, new;
		char *a = NULL, *b = NULL;

		if (!spec_keys[i].live)
			continue;
		for (k = 0; k < sizeof(values) / sizeof(values[0]); k++)
			if (!strcmp(values[k][0], spec_keys[i].name))
				break;
		assert_true(k < sizeof(values) / sizeof(values[0]));   /* a value to try */
		found++;
		/* hosts are an ssh pool's; nodes stays put */
		const char *base = values[k][2] ? "provider = ssh\nnodes = 1\nenv.OLD = 1\n"
						: "env.OLD = 1\n";
		snprintf(old_text, sizeof(old_text), "%s%s%s%s", base,
			 values[k][2] ? spec_keys[i].name : "", values[k][2] ? " = " : "",
			 values[k][2] ? values[k][2] : "");
		snprintf(text, sizeof(text), "%s%s%s%s\n", base, spec_keys[i].name,
			 spec_keys[i].prefix ? "" : " = ", values[k][1]);
		assert_int_equal(parse(old_text, &old, err, sizeof(err)), 0);
		assert_int_equal(parse(text, &new, err, sizeof(err)), 0);
		sky_spec_live_changes(&old, &new, NULL, err, sizeof(err));
		assert_non_null(strstr(err, spec_keys[i].name));
		assert_int_equal(sky_spec_live_diff(&old, &new, err, sizeof(err)), 0);
		sky_spec_take_live(&old, &new);
		assert_int_equal(sky_spec_format(&old, &a), 0);
		assert_int_equal(sky_spec_format(&new, &b), 0);
		/* new holds old's environment now (to be freed with it) */
		if (!strcmp(spec_keys[i].name, "env.")) {
			assert_non_null(strstr(a, "env.OLD = 1\nenv.X = y\n"));
			assert_null(strstr(b, "env.X"));
		} else if (!strcmp(spec_keys[i].name, "hosts")) {
			/* so do hosts: a running reader copies its entry under the lock */
			assert_non_null(strstr(a, "@h1:22, me@h2:2222\n"));
			assert_null(strstr(b, "me@h2"));
		} else {
			assert_string_equal(a, b);
		}
		free(a);
		free(b);
		sky_spec_free(&old);
		sky_spec_free(&new);
	}
	assert_int_equal(found, sizeof(values) / sizeof(values[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_changes_pass),
		cmocka_unit_test(test_fixed_changes_named),
		cmocka_unit_test(test_live_key_list),
		cmocka_unit_test(test_live_changes_named),
		cmocka_unit_test(test_take_live_moves_every_live_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
