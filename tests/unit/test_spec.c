/* Unit tests for the pool spec parser (scheduler/spec.c, spec_keys.c): both
 * syntaxes, the pool-wide keys valid and invalid, accelerator names checked
 * against the shipped catalog, byte and size checks, and the canonical
 * rendering. Hardware keys, alternatives and the ssh keys are in
 * test_spec_alts.c. */
#include "spec_helpers.h"


static void test_empty_is_defaults(void **state)
{
	static const char *const texts[] = {
		"", "\n\n", "# only a comment\n", "  \t\n# a\n   # b\n\n", "\r\n", "{}",
		"  \n {  }\n",
	};
	struct sky_spec s;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(parse(texts[i], &s, err, sizeof(err)), 0);
		assert_string_equal(err, "");
		assert_defaults(&s);
		sky_spec_free(&s);
		assert_zeroed(&s);
	}
}

static void test_kv_full(void **state)
{
	const char *text =
		"# pool for training\n"
		"provider = local\n"
		"nodes = 4   # four nodes\n"
		"slots=2\n"
		"\taccelerator\t=\tA100:8\t\n"
		"\n"
		"setup = pip install -r requirements.txt\n"
		"lifetime = 1h30m\n"
		"idle_timeout = 15m\n"
		"env.B = 2\n"
		"env.A = one two  \n"
		"env._x9 = résultat ✓\n";
	struct sky_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &s, err, sizeof(err)), 0);
	assert_string_equal(s.res.providers[0], "local");
	assert_int_equal(s.nodes, 4);
	assert_int_equal(s.slots, 2);
	assert_string_equal(s.res.accelerator, "A100");
	assert_int_equal(s.res.accelerator_count, 8);
	assert_string_equal(s.setup, "pip install -r requirements.txt");
	assert_int_equal(s.lifetime_s, 5400);
	assert_int_equal(s.idle_timeout_s, 900);
	assert_int_equal(s.n_env, 3);
	assert_string_equal(s.env[0].name, "B");
	assert_string_equal(s.env[0].value, "2");
	assert_string_equal(s.env[1].name, "A");
	assert_string_equal(s.env[1].value, "one two");
	assert_string_equal(s.env[2].name, "_x9");
	assert_string_equal(s.env[2].value, "résultat ✓");
	/* no sections: the top level is the one alternative, for every node */
	assert_one_alternative(&s);
	assert_int_equal(s.alts[0].nodes, 4);
	assert_string_equal(s.alts[0].accelerator, "A100");
	sky_spec_free(&s);
	assert_zeroed(&s);
	sky_spec_free(&s);   /* safe twice: the struct is zeroed */
}

static void test_kv_comments_and_crlf(void **state)
{
	struct sky_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse("nodes = 3\r\n# x\r\nsetup = echo a#b c\r\n", &s, err,
			       sizeof(err)), 0);
	assert_int_equal(s.nodes, 3);
	assert_string_equal(s.setup, "echo a");   /* '#' starts a comment anywhere */
	sky_spec_free(&s);

	/* a UTF-8 byte order mark and no final newline */
	assert_int_equal(parse("\xef\xbb\xbfslots = 7", &s, err, sizeof(err)), 0);
	assert_int_equal(s.slots, 7);
	sky_spec_free(&s);

	assert_int_equal(parse("nodes = 1024\nslots = 1024\n", &s, err, sizeof(err)), 0);
	assert_int_equal(s.nodes, 1024);
	assert_int_equal(s.slots, 1024);
	sky_spec_free(&s);
}

/* Names are stored as written (a family name means more than its row) and
 * must resolve in the catalog: canonical names, aliases, any case, with or
 * without the vendor. */
static void test_accelerator_forms(void **state)
{
	static const struct {
		const char *value, *name, *canonical;
		int count;
	} cases[] = {
		{ "none", "", NULL, 0 },
		{ "NONE", "", NULL, 0 },
		{ "A100", "A100", "A100", 1 },
		{ "H100:8", "H100", "H100", 8 },
		{ "h100-nvl:2", "h100-nvl", "H100-NVL", 2 },
		{ "A100-80GB:8", "A100-80GB", "A100-80GB", 8 },
		{ "a100-80gb:8", "a100-80gb", "A100-80GB", 8 },      /* alias, lower case */
		{ "A100-SXM4-80GB:4", "A100-SXM4-80GB", "A100-80GB", 4 },
		{ "nvidia-tesla-t4:2", "nvidia-tesla-t4", "T4", 2 },  /* vendor + alias */
		{ "Tesla_T4", "Tesla_T4", "T4", 1 },                  /* '_' as '-' */
		{ "MI300X:64", "MI300X", "MI300X", 64 },
		{ "rtx-4090:1", "rtx-4090", "RTX-4090", 1 },
	};
	const struct sky_accel *a;
	struct sky_spec s;
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "accelerator = %s\n", cases[i].value);
		expect_ok(text, &s);
		assert_string_equal(s.res.accelerator, cases[i].name);
		assert_int_equal(s.res.accelerator_count, cases[i].count);
		assert_string_equal(s.alts[0].accelerator, cases[i].name);
		if (cases[i].canonical) {
			a = sky_accel_find(s.res.accelerator);
			assert_non_null(a);
			assert_string_equal(a->name, cases[i].canonical);
		}
		sky_spec_free(&s);
	}
}

/* README: an alias such as "NVIDIA A100 80GB PCIe" is accepted in JSON
 * (the device name providers report, spaces and all). */
static void test_accelerator_alias_with_spaces_json(void **state)
{
	const struct sky_accel *a;
	struct sky_spec s;

	(void)state;
	expect_ok("{\"accelerator\": \"NVIDIA A100 80GB PCIe:8\"}", &s);
	assert_int_equal(s.res.accelerator_count, 8);
	a = sky_accel_find(s.res.accelerator);
	assert_non_null(a);
	assert_string_equal(a->name, "A100-80GB");
	sky_spec_free(&s);
	expect_ok("{\"accelerator\": \"H100 80GB HBM3\"}", &s);
	assert_int_equal(s.res.accelerator_count, 1);
	a = sky_accel_find(s.res.accelerator);
	assert_non_null(a);
	assert_string_equal(a->name, "H100");
	sky_spec_free(&s);
}

static void test_unknown_accelerator(void **state)
{
	(void)state;
	expect_err("accelerator = A100-80G\n",
		   "line 1: unknown accelerator \"A100-80G\" (did you mean A100-80GB, A100, H100?)");
	/* whatever else is suggested, the nearest name comes first */
	expect_err_prefix("nodes = 2\naccelerator = H10:8\n",
			  "line 2: unknown accelerator \"H10\" (did you mean H100");
	expect_err_prefix("accelerator = a100-80g:8",
			  "line 1: unknown accelerator \"a100-80g\" (did you mean A100-80GB");
	/* nothing near: point at the table */
	expect_err("accelerator = zzzzzzzz:2",
		   "line 1: unknown accelerator \"zzzzzzzz\" (see catalog/accelerators)");
	/* names the catalog does not know are refused, near ones with a hint */
	expect_err_prefix("accelerator = tpu:1", "line 1: unknown accelerator \"tpu\" (");
	expect_err_prefix("accelerator = a.b_c-D:64", "line 1: unknown accelerator \"a.b_c-D\" (");
	/* in a section, and in JSON, with the line of the entry */
	expect_err_prefix("[a]\nprovider = aws\naccelerator = A100-80G:8\n",
			  "line 3: unknown accelerator \"A100-80G\" (did you mean A100-80GB");
	expect_err_prefix("{\"nodes\": 1,\n\"accelerator\": \"A100-80G:8\"}",
			  "line 2: unknown accelerator \"A100-80G\" (did you mean A100-80GB");
	/* the syntax is checked before the name */
	expect_err("accelerator = A100-80G:0",
		   "line 1: accelerator count must be between 1 and 64, got 0");
}

static void test_json_full(void **state)
{
	const char *text =
		"  {\n"
		"  \"provider\": \"local\",\n"
		"  \"nodes\": 4,\n"
		"  \"slots\": \"2\",\n"
		"  \"accelerator\": \"H100:8\",\n"
		"  \"setup\": \"echo \\\"{a: b}\\\" # not a comment\",\n"
		"  \"lifetime\": \"1h30m\",\n"
		"  \"idle_timeout\": 600,\n"
		"  \"env.B\": \"x\",\n"
		"  \"env.A\": true,\n"
		"  \"env.C\": \"  padded  \"\n"
		"}\n";
	struct sky_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &s, err, sizeof(err)), 0);
	assert_string_equal(s.res.providers[0], "local");
	assert_int_equal(s.nodes, 4);
	assert_int_equal(s.slots, 2);
	assert_string_equal(s.res.accelerator, "H100");
	assert_int_equal(s.res.accelerator_count, 8);
	assert_string_equal(s.setup, "echo \"{a: b}\" # not a comment");
	assert_int_equal(s.lifetime_s, 5400);
	assert_int_equal(s.idle_timeout_s, 600);
	assert_int_equal(s.n_env, 3);
	assert_string_equal(s.env[0].name, "B");
	assert_string_equal(s.env[0].value, "x");
	assert_string_equal(s.env[1].name, "A");
	assert_string_equal(s.env[1].value, "true");
	assert_string_equal(s.env[2].name, "C");
	assert_string_equal(s.env[2].value, "padded");
	sky_spec_free(&s);

	/* escapes in keys mean what JSON says they mean */
	assert_int_equal(parse("{\"node\\u0073\": 2, \"env.Z\": \"1\"}", &s, err,
			       sizeof(err)), 0);
	assert_int_equal(s.nodes, 2);
	assert_int_equal(s.n_env, 1);
	sky_spec_free(&s);
}

static void test_format(void **state)
{
	struct sky_spec s, again;
	char err[256], *out = NULL, *out2 = NULL;

	(void)state;
	assert_int_equal(parse("", &s, err, sizeof(err)), 0);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_string_equal(out, "provider = local\nnodes = 1\nslots = 1\naccelerator = none\n"
			    "allocation = spot-if-available\n");
	free(out);
	sky_spec_free(&s);

	assert_int_equal(parse("{\"env.Y\": \"2\", \"accelerator\": \"T4\", \"nodes\": 3,"
			       " \"lifetime\": 93784, \"idle_timeout\": \"90s\","
			       " \"setup\": \"make\", \"env.X\": \"a b\"}",
			       &s, err, sizeof(err)), 0);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_string_equal(out,
			    "provider = local\n"
			    "nodes = 3\n"
			    "slots = 1\n"
			    "accelerator = T4:1\n"
			    "allocation = spot-if-available\n"
			    "lifetime = 1d2h3m4s\n"
			    "idle_timeout = 1m30s\n"
			    "setup = make\n"
			    "env.Y = 2\n"
			    "env.X = a b\n");
	/* the canonical form parses back to the same spec */
	assert_int_equal(parse(out, &again, err, sizeof(err)), 0);
	assert_int_equal(sky_spec_format(&again, &out2), 0);
	assert_string_equal(out, out2);
	assert_int_equal(again.lifetime_s, 93784);
	free(out);
	free(out2);
	sky_spec_free(&s);
	sky_spec_free(&again);
}

static void test_err_keys(void **state)
{
	(void)state;
	expect_err("provider = local\n\nnodez = 3\n",
		   "line 3: unknown key \"nodez\" (did you mean \"nodes\"?)");
	expect_err("Nodes = 3", "line 1: unknown key \"Nodes\" (did you mean \"nodes\"?)");
	expect_err("idle = 5m", "line 1: unknown key \"idle\" (did you mean \"idle_timeout\"?)");
	expect_err("accel = A100", "line 1: unknown key \"accel\" (did you mean \"accelerator\"?)");
	expect_err("lifetime_seconds = 5",
		   "line 1: unknown key \"lifetime_seconds\" (did you mean \"lifetime\"?)");
	expect_err("ENV.FOO = 1", "line 1: unknown key \"ENV.FOO\" (did you mean \"env.FOO\"?)");
	expect_err("evn.FOO = 1", "line 1: unknown key \"evn.FOO\" (did you mean \"env.FOO\"?)");
	expect_err("colour = red",
		   "line 1: unknown key \"colour\" (known: provider, nodes, slots, accelerator, "
		   "allocation, region, max_price, vcpus, memory, lifetime, idle_timeout, budget, max_output, "
		   "setup, "
		   "dry_run, hosts, identity, known_hosts, host_key_policy, node_timeout, "
		   "max_attempts, image, ssh_user, ssh_cidr, boot_timeout, orphan_timeout, recover, partition, account, qos, time_limit, env.NAME)");
	expect_err("alloc = spot",
		   "line 1: unknown key \"alloc\" (did you mean \"allocation\"?)");
	expect_err("max_prize = 3", "line 1: unknown key \"max_prize\" (did you mean \"max_price\"?)");
	expect_err("dryrun = true", "line 1: unknown key \"dryrun\" (did you mean \"dry_run\"?)");
	expect_err("providers = aws",
		   "line 1: unknown key \"providers\" (did you mean \"provider\"?)");
	expect_err("provider = local\nnodes = 2\nslots = 1\nnodes = 3\n",
		   "line 4: duplicate key \"nodes\" (first on line 2)");
	expect_err("env.A = 1\n\nenv.A = 2\n", "line 3: duplicate key \"env.A\" (first on line 1)");
	expect_err("nodes = 1\nslots 2\n", "line 2: expected \"key = value\"");
	expect_err("= 4\n", "line 1: expected \"key = value\"");
	/* sections exist now; what may go in them is tested below */
	expect_err("[pool]\nnodes = 1\n",
		   "line 2: \"nodes\" applies to the whole pool: set it before the first [section]");
	expect_err("nodes =\n", "line 1: empty value for \"nodes\"");
	expect_err("\nsetup =   # nothing\n", "line 2: empty value for \"setup\"");
	expect_err("env.A =", "line 1: empty value for \"env.A\"");
}

static void test_err_values(void **state)
{
	char want[512];

	(void)state;
	expect_err("nodes = 0", "line 1: nodes must be between 1 and 1024, got 0");
	expect_err("nodes = 1025", "line 1: nodes must be between 1 and 1024, got 1025");
	expect_err("slots = -1", "line 1: slots must be between 1 and 1024, got -1");
	expect_err("nodes = 99999999999999999999999",
		   "line 1: nodes must be between 1 and 1024, got 99999999999999999999999");
	expect_err("nodes = four", "line 1: nodes must be an integer, got \"four\"");
	expect_err("nodes = 4.5", "line 1: nodes must be an integer, got \"4.5\"");
	expect_err("slots = 0x10", "line 1: slots must be an integer, got \"0x10\"");
	expect_err("provider = local\nnodes = 1\nslots = 1\n\nlifetime = 5x\n",
		   "line 5: lifetime: invalid duration \"5x\" (use e.g. 90s, 15m, 2h)");
	expect_err("idle_timeout = 0",
		   "line 1: idle_timeout: invalid duration \"0\" (use e.g. 90s, 15m, 2h)");
	expect_err("lifetime = 1h30",
		   "line 1: lifetime: invalid duration \"1h30\" (use e.g. 90s, 15m, 2h)");
	expect_err("accelerator = A100:",
		   "line 1: accelerator: invalid value \"A100:\" (use none or NAME[:COUNT], e.g. A100:8)");
	expect_err("accelerator = :8",
		   "line 1: accelerator: invalid value \":8\" (use none or NAME[:COUNT], e.g. A100:8)");
	/* spaces are allowed (aliases have them), so this is a name, unknown */
	expect_err("accelerator = A 100",
		   "line 1: unknown accelerator \"A 100\" (did you mean A100, A10, A10G?)");
	expect_err("accelerator =  A100 :2",
		   "line 1: accelerator: invalid value \"A100 :2\" (use none or NAME[:COUNT], e.g. A100:8)");
	expect_err("accelerator = A100:0",
		   "line 1: accelerator count must be between 1 and 64, got 0");
	expect_err("accelerator = A100:65",
		   "line 1: accelerator count must be between 1 and 64, got 65");
	expect_err("accelerator = A100:x",
		   "line 1: accelerator count must be an integer, got \"x\"");
	expect_err("accelerator = none:2", "line 1: accelerator: none takes no count");
	expect_err("accelerator = "
		   "1234567890123456789012345678901234567890123456789012345678901234",
		   "line 1: accelerator: name longer than 63 bytes");
	expect_err("env.1X = 1",
		   "line 1: env.1X: invalid variable name \"1X\" (use [A-Za-z_][A-Za-z0-9_]*)");
	expect_err("env.A-B = 1",
		   "line 1: env.A-B: invalid variable name \"A-B\" (use [A-Za-z_][A-Za-z0-9_]*)");
	expect_err("env. = 1",
		   "line 1: env.: invalid variable name \"\" (use [A-Za-z_][A-Za-z0-9_]*)");
	expect_err("env.SKY_POOL = x",
		   "line 1: env.SKY_POOL: names starting with SKY_ are reserved for skyfs");
	/* every provider a spec may name: implemented and catalog-only */
	assert_non_null(strstr(known_providers(), "local"));
	assert_non_null(strstr(known_providers(), "aws"));
	assert_non_null(strstr(known_providers(), "vastai"));
	assert_non_null(strstr(known_providers(), sky_provider_names()));
	snprintf(want, sizeof(want), "line 2: unknown provider \"nope\" (known: %s)",
		 known_providers());
	expect_err("nodes = 1\nprovider = nope\n", want);
}

static void test_err_bytes(void **state)
{
	static const char nul[] = "nodes = 1\nslots\0 = 2\n";

	(void)state;
	expect_err_len(nul, sizeof(nul) - 1, "line 2: invalid byte 0x00 (NUL)");
	expect_err("setup = caf\xe9\n", "line 1: invalid byte 0xe9 (not UTF-8)");
	expect_err("\n\nsetup = \xc0\xaf\n", "line 3: invalid byte 0xc0 (not UTF-8)");
	expect_err("setup = \xed\xa0\x80\n", "line 1: invalid byte 0xed (not UTF-8)");
	expect_err("setup = \xf4\x90\x80\x80\n", "line 1: invalid byte 0xf4 (not UTF-8)");
	expect_err("setup = \xe2\x82", "line 1: invalid byte 0xe2 (not UTF-8)");
	expect_err("setup = \x80", "line 1: invalid byte 0x80 (not UTF-8)");
	expect_err("setup = a\x01z\n", "line 1: invalid byte 0x01 (control character)");
	expect_err("setup = a\x7fz\n", "line 1: invalid byte 0x7f (control character)");
	/* in JSON too, before any parsing */
	expect_err("{\"setup\": \"caf\xe9\"}", "line 1: invalid byte 0xe9 (not UTF-8)");
	/* and after it: a JSON escape brings in nothing the text may not hold
	 * (found by tests/fuzz/fuzz_spec_json) */
	expect_err("{\"setup\": \"a\\fz\"}", "line 1: setup: invalid byte 0x0c (control character)");
	expect_err("{\n\"a\": {\"region\": \"us-\\u007f\"}}",
		   "line 2: region: invalid byte 0x7f (control character)");
}

static void test_err_size(void **state)
{
	size_t n = SKY_SPEC_MAX_BYTES + 1;
	char *big = malloc(n);
	struct sky_spec s;
	char err[256];

	(void)state;
	assert_non_null(big);
	memset(big, '#', n);
	big[n - 2] = '\n';
	assert_int_equal(sky_spec_parse(big, n, &s, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "1048576"));
	assert_zeroed(&s);
	/* exactly the limit is fine */
	assert_int_equal(sky_spec_parse(big, n - 1, &s, err, sizeof(err)), 0);
	assert_defaults(&s);
	sky_spec_free(&s);
	free(big);
}

static void test_err_json(void **state)
{
	struct sky_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"nodes\": 1,\n \"slots\": }", &s, err, sizeof(err)), -EINVAL);
	assert_true(!strncmp(err, "line 2: invalid JSON: ", 22));
	assert_zeroed(&s);
	assert_int_equal(parse("{} trailing", &s, err, sizeof(err)), -EINVAL);
	assert_true(!strncmp(err, "line 1: invalid JSON: ", 22));
	assert_int_equal(parse("{\"nodes\": 1", &s, err, sizeof(err)), -EINVAL);
	assert_true(!strncmp(err, "line 1: invalid JSON: ", 22));

	expect_err("{\n  \"nodes\": 1,\n  \"nodez\": 2\n}",
		   "line 3: unknown key \"nodez\" (did you mean \"nodes\"?)");
	expect_err("{\n\"nodes\": 1,\n\n\"nodes\": 2}",
		   "line 4: duplicate key \"nodes\" (first on line 2)");
	expect_err("{\"env.A\": \"1\",\n\"env.A\": \"2\"}",
		   "line 2: duplicate key \"env.A\" (first on line 1)");
	expect_err("{\"nodes\": [1, 2]}",
		   "line 1: nodes: nested objects and arrays are not supported");
	expect_err("{\"setup\": {\"nodes\": 1}}",
		   "line 1: setup: nested objects and arrays are not supported");
	expect_err("{\"env\": {\"A\": \"1\"}}",
		   "line 1: unknown key \"env\" (did you mean \"env.NAME\"?)");
	expect_err("{\"setup\": null}",
		   "line 1: setup: value must be a string, number or boolean");
	/* a number is its text: 1.5 is no integer, 12.5 is a price */
	expect_err("{\"nodes\": 1.5}", "line 1: nodes must be an integer, got \"1.5\"");
	expect_err("{\"max_price\": 0}",
		   "line 1: max_price: invalid price \"0\" (USD per node-hour, e.g. 12.5)");
	expect_err("{\"setup\": \"\"}", "line 1: empty value for \"setup\"");
	expect_err("{\"nodes\": 0}", "line 1: nodes must be between 1 and 1024, got 0");
	expect_err("{\"nodes\": true}", "line 1: nodes must be an integer, got \"true\"");
	expect_err("{\"lifetime\": \"5x\"}",
		   "line 1: lifetime: invalid duration \"5x\" (use e.g. 90s, 15m, 2h)");
	expect_err("{\"env.SKY_X\": \"1\"}",
		   "line 1: env.SKY_X: names starting with SKY_ are reserved for skyfs");
}


/* max_output: sizes in binary units, unlimited, the default, and what is
 * refused; the canonical form shows it only when it is not the default. */
static void test_max_output(void **state)
{
	static const struct {
		const char *value;
		long long bytes;
		const char *canonical;       /* its line in sky_spec_format's output */
	} ok[] = {
		{ "1G", 1LL << 30, NULL },                 /* the default: not rendered */
		{ "512M", 512LL << 20, "max_output = 512M\n" },
		{ "64M", 64LL << 20, "max_output = 64M\n" },
		{ "10G", 10LL << 30, "max_output = 10G\n" },
		{ "10GiB", 10LL << 30, "max_output = 10G\n" },
		{ "2gb", 2LL << 30, "max_output = 2G\n" },
		{ "1536k", 1536LL << 10, "max_output = 1536K\n" },
		{ "1T", 1LL << 40, "max_output = 1T\n" },
		{ "4096", 4096, "max_output = 4K\n" },
		{ "1000", 1000, "max_output = 1000\n" },
		{ "unlimited", 0, "max_output = unlimited\n" },
		{ "Unlimited", 0, "max_output = unlimited\n" },
		{ "0", 0, "max_output = unlimited\n" },
		{ "1024T", 1LL << 50, "max_output = 1024T\n" },
	};
	struct sky_spec s, again;
	char text[128], err[256], *out = NULL;
	size_t i;

	(void)state;
	assert_int_equal(parse("nodes = 1\n", &s, err, sizeof(err)), 0);
	assert_true(s.max_output == 1LL << 30);
	sky_spec_free(&s);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "max_output = %s\n", ok[i].value);
		expect_ok(text, &s);
		if (s.max_output != ok[i].bytes)
			fail_msg("%s: %lld bytes, expected %lld", ok[i].value, s.max_output,
				 ok[i].bytes);
		assert_int_equal(sky_spec_format(&s, &out), 0);
		if (ok[i].canonical)
			assert_non_null(strstr(out, ok[i].canonical));
		else
			assert_null(strstr(out, "max_output"));
		/* and the canonical form reads back the same */
		assert_int_equal(parse(out, &again, err, sizeof(err)), 0);
		assert_true(again.max_output == s.max_output);
		free(out);
		sky_spec_free(&again);
		sky_spec_free(&s);
	}
	/* JSON: a number is its text, so bytes; a string may have a unit */
	assert_int_equal(parse("{\"max_output\": 1048576}", &s, err, sizeof(err)), 0);
	assert_true(s.max_output == 1LL << 20);
	sky_spec_free(&s);
	assert_int_equal(parse("{\"max_output\": \"unlimited\"}", &s, err, sizeof(err)), 0);
	assert_true(s.max_output == 0);
	sky_spec_free(&s);

	expect_err("max_output = lots", "line 1: max_output: invalid size \"lots\" "
		   "(use e.g. 512M, 1G, 10G or unlimited)");
	expect_err("max_output = -1", "line 1: max_output: invalid size \"-1\" "
		   "(use e.g. 512M, 1G, 10G or unlimited)");
	expect_err("max_output = 1.5G", "line 1: max_output: invalid size \"1.5G\" "
		   "(use e.g. 512M, 1G, 10G or unlimited)");
	expect_err("max_output = 1 G", "line 1: max_output: invalid size \"1 G\" "
		   "(use e.g. 512M, 1G, 10G or unlimited)");
	expect_err("max_output = 1GX", "line 1: max_output: invalid size \"1GX\" "
		   "(use e.g. 512M, 1G, 10G or unlimited)");
	expect_err("max_output = 1P", "line 1: max_output: invalid size \"1P\" "
		   "(use e.g. 512M, 1G, 10G or unlimited)");
	expect_err("max_output = none", "line 1: max_output: invalid size \"none\" "
		   "(use e.g. 512M, 1G, 10G or unlimited)");
	expect_err("max_output = 1025T", "line 1: max_output: \"1025T\" is more than the "
		   "1024 TiB allowed (or use unlimited)");
	expect_err("max_output = 99999999999999999999",
		   "line 1: max_output: \"99999999999999999999\" is more than the 1024 TiB "
		   "allowed (or use unlimited)");
	expect_err("max_output = 9999999999T", "line 1: max_output: \"9999999999T\" is more "
		   "than the 1024 TiB allowed (or use unlimited)");
	expect_err("max_output = 1G\nmax_output = 2G\n",
		   "line 2: duplicate key \"max_output\" (first on line 1)");
	expect_err("max_outptu = 1G",
		   "line 1: unknown key \"max_outptu\" (did you mean \"max_output\"?)");
	expect_err("[a]\nmax_output = 1G\n", "line 2: \"max_output\" applies to the whole "
		   "pool: set it before the first [section]");
}

static void test_err_buffers(void **state)
{
	struct sky_spec s;
	char small[8];

	(void)state;
	assert_int_equal(sky_spec_parse("nodes = 0", 9, &s, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "line 1:");
	assert_int_equal(sky_spec_parse("nodes = 0", 9, &s, NULL, 0), -EINVAL);
	assert_zeroed(&s);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_defaults),
		cmocka_unit_test(test_kv_full),
		cmocka_unit_test(test_kv_comments_and_crlf),
		cmocka_unit_test(test_accelerator_forms),
		cmocka_unit_test(test_json_full),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_err_keys),
		cmocka_unit_test(test_err_values),
		cmocka_unit_test(test_err_bytes),
		cmocka_unit_test(test_err_size),
		cmocka_unit_test(test_err_json),
		cmocka_unit_test(test_err_buffers),
		cmocka_unit_test(test_max_output),
		cmocka_unit_test(test_accelerator_alias_with_spaces_json),
		cmocka_unit_test(test_unknown_accelerator),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
