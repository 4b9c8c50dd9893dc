/* Unit tests for the spec's hardware keys (allocation, region, max_price,
 * vcpus, memory), provider lists, [sections] and JSON alternatives, and the
 * ssh provider's keys (hosts, identity, known_hosts, host_key_policy,
 * node_timeout, max_attempts). */
#include "spec_helpers.h"

/* ---- the hardware keys ------------------------------------------------ */

static void test_new_keys_valid(void **state)
{
	static const struct {
		const char *text;
		enum sky_allocation a;
	} allocs[] = {
		{ "allocation = spot-if-available", SKY_ALLOC_SPOT_IF_AVAILABLE },
		{ "allocation = spot", SKY_ALLOC_SPOT },
		{ "allocation = on-demand", SKY_ALLOC_ON_DEMAND },
		{ "allocation = cheapest", SKY_ALLOC_CHEAPEST },
	};
	static const struct {
		const char *text;
		double price;
	} prices[] = {
		{ "max_price = 12.5", 12.5 }, { "max_price = $12.5", 12.5 },
		{ "max_price = 0.01", 0.01 }, { "max_price = 40", 40 },
		{ "max_price = $1000000", 1e6 },
	};
	static const struct {
		const char *text;
		int gb;
	} mems[] = {
		{ "memory = 64", 64 }, { "memory = 64GB", 64 }, { "memory = 64gb", 64 },
		{ "memory = 64G", 64 }, { "memory = 64GiB", 64 }, { "memory = 1", 1 },
		{ "memory = 1000000", 1000000 },
	};
	static const struct {
		const char *text;
		int on;
	} bools[] = {
		{ "dry_run = true", 1 }, { "dry_run = yes", 1 }, { "dry_run = TRUE", 1 },
		{ "dry_run = 1", 1 }, { "dry_run = false", 0 }, { "dry_run = no", 0 },
		{ "dry_run = 0", 0 }, { "dry_run = False", 0 },
	};
	struct sky_spec s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(allocs) / sizeof(allocs[0]); i++) {
		expect_ok(allocs[i].text, &s);
		assert_int_equal(s.res.allocation, allocs[i].a);
		assert_int_equal(s.alts[0].allocation, allocs[i].a);
		sky_spec_free(&s);
	}
	for (i = 0; i < sizeof(prices) / sizeof(prices[0]); i++) {
		expect_ok(prices[i].text, &s);
		assert_true(s.res.max_price == prices[i].price);
		assert_true(s.alts[0].max_price == prices[i].price);
		sky_spec_free(&s);
	}
	for (i = 0; i < sizeof(mems) / sizeof(mems[0]); i++) {
		expect_ok(mems[i].text, &s);
		assert_int_equal(s.res.memory_gb, mems[i].gb);
		sky_spec_free(&s);
	}
	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		expect_ok(bools[i].text, &s);
		assert_int_equal(s.dry_run, bools[i].on);
		sky_spec_free(&s);
	}
	expect_ok("region = us-east-1\nvcpus = 96\n", &s);
	assert_string_equal(s.res.region, "us-east-1");
	assert_int_equal(s.res.vcpus, 96);
	assert_string_equal(s.alts[0].region, "us-east-1");
	assert_int_equal(s.alts[0].vcpus, 96);
	sky_spec_free(&s);
	expect_ok("region = us-\nvcpus = 1\n", &s);
	assert_string_equal(s.res.region, "us-");
	assert_int_equal(s.res.vcpus, 1);
	sky_spec_free(&s);

	/* every key at once, in JSON, where numbers and booleans are values */
	expect_ok("{\"provider\": \"aws, runpod\", \"accelerator\": \"H100:8\","
		  " \"allocation\": \"cheapest\", \"region\": \"eu-\", \"max_price\": 30.5,"
		  " \"vcpus\": 96, \"memory\": \"512GB\", \"dry_run\": true, \"nodes\": 2}", &s);
	assert_int_equal(s.res.n_providers, 2);
	assert_string_equal(s.res.providers[0], "aws");
	assert_string_equal(s.res.providers[1], "runpod");
	assert_string_equal(s.res.accelerator, "H100");
	assert_int_equal(s.res.accelerator_count, 8);
	assert_int_equal(s.res.allocation, SKY_ALLOC_CHEAPEST);
	assert_string_equal(s.res.region, "eu-");
	assert_true(s.res.max_price == 30.5);
	assert_int_equal(s.res.vcpus, 96);
	assert_int_equal(s.res.memory_gb, 512);
	assert_int_equal(s.dry_run, 1);
	assert_int_equal(s.nodes, 2);
	assert_one_alternative(&s);
	sky_spec_free(&s);
}

static void test_new_keys_invalid(void **state)
{
	(void)state;
	expect_err("allocation = sometimes",
		   "line 1: allocation: unknown \"sometimes\" (use spot-if-available, spot, "
		   "on-demand or cheapest)");
	expect_err("allocation = Spot-If-Available-Please",
		   "line 1: allocation: unknown \"Spot-If-Available-Please\" (use "
		   "spot-if-available, spot, on-demand or cheapest)");
	expect_err("max_price = 0",
		   "line 1: max_price: invalid price \"0\" (USD per node-hour, e.g. 12.5)");
	expect_err("max_price = -1",
		   "line 1: max_price: invalid price \"-1\" (USD per node-hour, e.g. 12.5)");
	expect_err("max_price = abc",
		   "line 1: max_price: invalid price \"abc\" (USD per node-hour, e.g. 12.5)");
	expect_err("max_price = 12.5.1",
		   "line 1: max_price: invalid price \"12.5.1\" (USD per node-hour, e.g. 12.5)");
	expect_err("max_price = $",
		   "line 1: max_price: invalid price \"$\" (USD per node-hour, e.g. 12.5)");
	expect_err("max_price = nan",
		   "line 1: max_price: invalid price \"nan\" (USD per node-hour, e.g. 12.5)");
	expect_err("max_price = inf",
		   "line 1: max_price: invalid price \"inf\" (USD per node-hour, e.g. 12.5)");
	expect_err("max_price = 1e7",
		   "line 1: max_price: invalid price \"1e7\" (USD per node-hour, e.g. 12.5)");
	expect_err("region = us east", "line 1: region: invalid value \"us east\"");
	expect_err("region = us/east-1", "line 1: region: invalid value \"us/east-1\"");
	expect_err("region = us-east-1-and-then-some-more-text",
		   "line 1: region: \"us-east-1-and-then-some-more-text\" is too long");
	expect_err("vcpus = 0", "line 1: vcpus must be between 1 and 100000, got 0");
	expect_err("vcpus = -4", "line 1: vcpus must be between 1 and 100000, got -4");
	expect_err("vcpus = 100001", "line 1: vcpus must be between 1 and 100000, got 100001");
	expect_err("vcpus = many", "line 1: vcpus must be an integer, got \"many\"");
	expect_err("memory = 64TB",
		   "line 1: memory: invalid size \"64TB\" (gigabytes, e.g. 64 or 64GB)");
	expect_err("memory = 64MB",
		   "line 1: memory: invalid size \"64MB\" (gigabytes, e.g. 64 or 64GB)");
	expect_err("memory = GB",
		   "line 1: memory: invalid size \"GB\" (gigabytes, e.g. 64 or 64GB)");
	expect_err("memory = 1.5GB",
		   "line 1: memory: invalid size \"1.5GB\" (gigabytes, e.g. 64 or 64GB)");
	expect_err("memory = 0", "line 1: memory must be between 1 and 1000000, got 0");
	expect_err("memory = 0GB", "line 1: memory must be between 1 and 1000000, got 0");
	expect_err("dry_run = maybe", "line 1: dry_run must be true or false, got \"maybe\"");
	expect_err("{\"dry_run\": 2}", "line 1: dry_run must be true or false, got \"2\"");
	expect_err("dry_run = true\ndry_run = false\n",
		   "line 2: duplicate key \"dry_run\" (first on line 1)");
	expect_err("region = us-\n\nregion = eu-\n",
		   "line 3: duplicate key \"region\" (first on line 1)");
	expect_err("max_price =\n", "line 1: empty value for \"max_price\"");
}

/* ---- provider lists ---------------------------------------------------- */

static void test_provider_lists(void **state)
{
	struct sky_spec s;
	char want[768];

	(void)state;
	expect_ok("provider = aws, runpod\n", &s);
	assert_int_equal(s.res.n_providers, 2);
	assert_string_equal(s.res.providers[0], "aws");
	assert_string_equal(s.res.providers[1], "runpod");
	assert_one_alternative(&s);
	sky_spec_free(&s);
	/* in the order written, blanks around names ignored */
	expect_ok("provider =\tvastai ,lambda,  local,aws,runpod\t\n", &s);
	assert_int_equal(s.res.n_providers, 5);
	assert_string_equal(s.res.providers[0], "vastai");
	assert_string_equal(s.res.providers[1], "lambda");
	assert_string_equal(s.res.providers[2], "local");
	assert_string_equal(s.res.providers[3], "aws");
	assert_string_equal(s.res.providers[4], "runpod");
	sky_spec_free(&s);
	expect_ok("{\"provider\": \"lambda, aws\"}", &s);
	assert_int_equal(s.res.n_providers, 2);
	assert_string_equal(s.res.providers[0], "lambda");
	assert_string_equal(s.res.providers[1], "aws");
	sky_spec_free(&s);

	expect_err("provider = aws, runpod, aws",
		   "line 1: provider \"aws\" listed twice");
	expect_err("provider = local,local", "line 1: provider \"local\" listed twice");
	snprintf(want, sizeof(want), "line 1: unknown provider \"azure\" (known: %s)",
		 known_providers());
	expect_err("provider = aws, azure, runpod", want);
	snprintf(want, sizeof(want), "line 1: unknown provider \"AWS\" (known: %s)",
		 known_providers());
	expect_err("provider = AWS", want);
	expect_err("provider = aws, , runpod",
		   "line 1: provider: empty name in \"aws, , runpod\"");
}

/* An empty item is an empty item wherever it is, blanks around it or not. */
static void test_provider_list_empty_items(void **state)
{
	(void)state;
	expect_err("provider = aws,,runpod",
		   "line 1: provider: empty name in \"aws,,runpod\"");
	expect_err("provider = aws,", "line 1: provider: empty name in \"aws,\"");
	expect_err("provider = , aws", "line 1: provider: empty name in \", aws\"");
}

/* ---- sections ------------------------------------------------------------ */

static void test_sections(void **state)
{
	const char *text =
		"nodes = 2\n"
		"provider = aws, runpod\n"
		"accelerator = A100:8\n"
		"max_price = 20\n"
		"allocation = spot\n"
		"\n"
		"[cheap]   # comment after a header\n"
		"provider = lambda\n"
		"  [ exact ]\n"
		"accelerator = H100:8\n"
		"region = us-\n"
		"allocation = on-demand\n"
		"vcpus = 96\n"
		"memory = 1024GB\n"
		"[same]\n";
	struct sky_spec s;

	(void)state;
	expect_ok(text, &s);
	assert_int_equal(s.nodes, 2);
	assert_int_equal(s.n_alts, 3);
	/* the top level keeps its own values */
	assert_string_equal(s.res.name, "");
	assert_int_equal(s.res.n_providers, 2);
	assert_string_equal(s.res.accelerator, "A100");
	assert_string_equal(s.res.region, "");
	/* [cheap]: overrides the provider, inherits the rest */
	assert_string_equal(s.alts[0].name, "cheap");
	assert_int_equal(s.alts[0].n_providers, 1);
	assert_string_equal(s.alts[0].providers[0], "lambda");
	assert_string_equal(s.alts[0].accelerator, "A100");
	assert_int_equal(s.alts[0].accelerator_count, 8);
	assert_true(s.alts[0].max_price == 20);
	assert_int_equal(s.alts[0].allocation, SKY_ALLOC_SPOT);
	assert_string_equal(s.alts[0].region, "");
	/* [exact]: starts from the top level, not from [cheap] */
	assert_string_equal(s.alts[1].name, "exact");
	assert_int_equal(s.alts[1].n_providers, 2);
	assert_string_equal(s.alts[1].providers[0], "aws");
	assert_string_equal(s.alts[1].providers[1], "runpod");
	assert_string_equal(s.alts[1].accelerator, "H100");
	assert_int_equal(s.alts[1].accelerator_count, 8);
	assert_string_equal(s.alts[1].region, "us-");
	assert_int_equal(s.alts[1].allocation, SKY_ALLOC_ON_DEMAND);
	assert_int_equal(s.alts[1].vcpus, 96);
	assert_int_equal(s.alts[1].memory_gb, 1024);
	assert_true(s.alts[1].max_price == 20);
	/* [same]: an empty section is the top level under a name */
	assert_string_equal(s.alts[2].name, "same");
	assert_string_equal(s.alts[2].providers[0], "aws");
	assert_string_equal(s.alts[2].accelerator, "A100");
	/* every alternative is for the pool's nodes */
	assert_int_equal(s.alts[0].nodes, 2);
	assert_int_equal(s.alts[1].nodes, 2);
	assert_int_equal(s.alts[2].nodes, 2);
	assert_int_equal(s.res.nodes, 2);
	sky_spec_free(&s);
	assert_zeroed(&s);

	/* the same key in two sections, and in a section after the top level */
	expect_ok("provider = aws\n[a]\nprovider = lambda\n[b]\nprovider = runpod\n", &s);
	assert_int_equal(s.n_alts, 2);
	assert_string_equal(s.res.providers[0], "aws");
	assert_string_equal(s.alts[0].providers[0], "lambda");
	assert_string_equal(s.alts[1].providers[0], "runpod");
	assert_int_equal(s.alts[0].nodes, 1);
	sky_spec_free(&s);

	/* exactly 16 sections */
	{
		char buf[1024];
		size_t n = 0;
		int i;

		for (i = 0; i < SKY_SPEC_MAX_ALTS; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "[s%d]\nmax_price = %d\n",
					      i, i + 1);
		expect_ok(buf, &s);
		assert_int_equal(s.n_alts, SKY_SPEC_MAX_ALTS);
		for (i = 0; i < SKY_SPEC_MAX_ALTS; i++)
			assert_true(s.alts[i].max_price == i + 1);
		sky_spec_free(&s);
	}
}

static void test_section_errors(void **state)
{
	char buf[1024];
	size_t n = 0;
	int i;

	(void)state;
	expect_err("[a]\nprovider = aws\n\n[a]\nprovider = lambda\n",
		   "line 4: duplicate section [a]");
	expect_err("[a b]\n",
		   "line 1: section name \"a b\": use letters, digits, '.', '_' and '-'");
	expect_err("[gpu/8]\n",
		   "line 1: section name \"gpu/8\": use letters, digits, '.', '_' and '-'");
	expect_err("[]\n", "line 1: section name must be 1 to 63 bytes");
	expect_err("[   ]\n", "line 1: section name must be 1 to 63 bytes");
	expect_err("[1234567890123456789012345678901234567890123456789012345678901234]\n",
		   "line 1: section name must be 1 to 63 bytes");
	/* a malformed header line */
	expect_err("nodes = 1\n[a\n", "line 2: expected \"[name]\"");
	expect_err("[a] provider = aws\n", "line 1: expected \"[name]\"");
	expect_err("[a]]\n", "line 1: expected \"[name]\"");
	/* only hardware keys in a section */
	expect_err("[a]\nnodes = 2\n",
		   "line 2: \"nodes\" applies to the whole pool: set it before the first [section]");
	expect_err("nodes = 2\n[a]\nprovider = aws\nslots = 2\n",
		   "line 4: \"slots\" applies to the whole pool: set it before the first [section]");
	expect_err("[a]\nenv.X = 1\n",
		   "line 2: \"env.X\" applies to the whole pool: set it before the first [section]");
	expect_err("[a]\nsetup = true\n",
		   "line 2: \"setup\" applies to the whole pool: set it before the first [section]");
	expect_err("[a]\nlifetime = 1h\n",
		   "line 2: \"lifetime\" applies to the whole pool: set it before the first "
		   "[section]");
	expect_err("[a]\nidle_timeout = 1h\n",
		   "line 2: \"idle_timeout\" applies to the whole pool: set it before the first "
		   "[section]");
	expect_err("[a]\ndry_run = true\n",
		   "line 2: \"dry_run\" applies to the whole pool: set it before the first "
		   "[section]");
	/* unknown keys in a section get the usual hint */
	expect_err("[a]\nprovder = aws\n",
		   "line 2: unknown key \"provder\" (did you mean \"provider\"?)");
	/* a key twice in one section, but not across sections */
	expect_err("[a]\nprovider = aws\naccelerator = A100:8\nprovider = lambda\n",
		   "line 4: duplicate key \"provider\" (first on line 2)");
	expect_err("provider = aws\nprovider = lambda\n[a]\n",
		   "line 2: duplicate key \"provider\" (first on line 1)");
	/* values are checked in sections as at the top level */
	expect_err("[a]\nallocation = sometimes\n",
		   "line 2: allocation: unknown \"sometimes\" (use spot-if-available, spot, "
		   "on-demand or cheapest)");
	expect_err("[a]\nprovider = aws, aws\n", "line 2: provider \"aws\" listed twice");
	/* more than 16 sections */
	for (i = 0; i <= SKY_SPEC_MAX_ALTS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "[s%d]\nprovider = aws\n", i);
	expect_err(buf, "line 33: at most 16 sections");
}

static void test_json_sections(void **state)
{
	struct sky_spec s;

	(void)state;
	expect_ok("{\"nodes\":2,\"a\":{\"provider\":\"local\"}}", &s);
	assert_int_equal(s.nodes, 2);
	assert_int_equal(s.n_alts, 1);
	assert_string_equal(s.alts[0].name, "a");
	assert_string_equal(s.alts[0].providers[0], "local");
	assert_int_equal(s.alts[0].nodes, 2);
	sky_spec_free(&s);

	expect_ok("{\n"
		  "  \"nodes\": 3,\n"
		  "  \"accelerator\": \"A100-80GB:8\",\n"
		  "  \"max_price\": 25,\n"
		  "  \"aws8\": {\"provider\": \"aws\", \"accelerator\": \"A100:8\"},\n"
		  "  \"vast8\": {\"provider\": \"vastai, runpod\", \"max_price\": 20.5,\n"
		  "            \"allocation\": \"cheapest\", \"vcpus\": 64, \"memory\": 512}\n"
		  "}\n", &s);
	assert_int_equal(s.n_alts, 2);
	assert_string_equal(s.alts[0].name, "aws8");
	assert_string_equal(s.alts[0].providers[0], "aws");
	assert_string_equal(s.alts[0].accelerator, "A100");
	assert_true(s.alts[0].max_price == 25);
	assert_string_equal(s.alts[1].name, "vast8");
	assert_int_equal(s.alts[1].n_providers, 2);
	assert_string_equal(s.alts[1].providers[1], "runpod");
	assert_string_equal(s.alts[1].accelerator, "A100-80GB");   /* inherited */
	assert_int_equal(s.alts[1].accelerator_count, 8);
	assert_true(s.alts[1].max_price == 20.5);
	assert_int_equal(s.alts[1].allocation, SKY_ALLOC_CHEAPEST);
	assert_int_equal(s.alts[1].vcpus, 64);
	assert_int_equal(s.alts[1].memory_gb, 512);
	assert_int_equal(s.alts[0].nodes, 3);
	assert_int_equal(s.alts[1].nodes, 3);
	sky_spec_free(&s);

	/* an empty object is a section too */
	expect_ok("{\"x\": {}}", &s);
	assert_int_equal(s.n_alts, 1);
	assert_string_equal(s.alts[0].name, "x");
	sky_spec_free(&s);

	expect_err("{\"a\": {\"nodes\": 2}}",
		   "line 1: \"nodes\" applies to the whole pool: set it before the first [section]");
	expect_err("{\"a\": {\"provider\": \"aws\"},\n \"nodes\": 2}",
		   "line 2: \"nodes\" applies to the whole pool: put it before the first "
		   "alternative");
	expect_err("{\"a\": {\"provider\": [\"aws\"]}}",
		   "line 1: [a] provider: value must be a string, number or boolean");
	expect_err("{\"a\": {\"provider\": null}}",
		   "line 1: [a] provider: value must be a string, number or boolean");
	expect_err("{\"a\": {\"b\": {}}}",
		   "line 1: [a] b: value must be a string, number or boolean");
	expect_err("{\"a\": {\"provider\": \"aws\"},\n\"a\": {\"provider\": \"lambda\"}}",
		   "line 2: duplicate section [a]");
	expect_err("{\"a b\": {\"provider\": \"aws\"}}",
		   "line 1: section name \"a b\": use letters, digits, '.', '_' and '-'");
	expect_err("{\"nodes\": 1,\n\"a\": {\"provder\": \"aws\"}}",
		   "line 2: unknown key \"provder\" (did you mean \"provider\"?)");
	/* "env": {...} is a misuse of env.NAME, not a section */
	expect_err("{\"env\": {\"A\": \"1\"}}",
		   "line 1: unknown key \"env\" (did you mean \"env.NAME\"?)");
}

/* jansson merges a repeated key; the spec refuses it at the top level, and
 * must inside an alternative too, as the key = value syntax does. */
static void test_json_section_duplicate_key(void **state)
{
	static const char *const texts[] = {
		"{\"a\": {\"provider\": \"aws\",\n \"provider\": \"lambda\"}}",
		"{\"a\": {\"provider\": \"aws\", \"max_price\": 3, \"provider\": \"aws\"}}",
	};
	struct sky_spec s;
	char err[512];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		memset(&s, 0xa5, sizeof(s));
		rc = parse(texts[i], &s, err, sizeof(err));
		if (rc != -EINVAL) {
			if (!rc)
				sky_spec_free(&s);
			fail_msg("spec %s: a key twice in one alternative was accepted (%d)",
				 texts[i], rc);
		}
		assert_true(!strncmp(err, "line ", 5));
		assert_non_null(strstr(err, "duplicate key \"provider\""));
		assert_zeroed(&s);
	}
}

static void test_format_sections(void **state)
{
	const char *text =
		"nodes = 2\n"
		"dry_run = yes\n"
		"env.K = v\n"
		"allocation = cheapest\n"
		"[aws8]\n"
		"provider = aws\n"
		"accelerator = a100:8\n"
		"region = us-\n"
		"[vast8]\n"
		"provider = vastai, runpod\n"
		"accelerator = A100-80GB:8\n"
		"max_price = $20\n"
		"vcpus = 32\n"
		"memory = 256GB\n";
	struct sky_spec s, again;
	char *out = NULL, *out2 = NULL;
	int i;

	(void)state;
	expect_ok(text, &s);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_string_equal(out,
			    "provider = local\n"
			    "nodes = 2\n"
			    "slots = 1\n"
			    "accelerator = none\n"
			    "allocation = cheapest\n"
			    "dry_run = true\n"
			    "env.K = v\n"
			    "[aws8]\n"
			    "provider = aws\n"
			    "accelerator = a100:8\n"
			    "allocation = cheapest\n"
			    "region = us-\n"
			    "[vast8]\n"
			    "provider = vastai, runpod\n"
			    "accelerator = A100-80GB:8\n"
			    "allocation = cheapest\n"
			    "max_price = 20\n"
			    "vcpus = 32\n"
			    "memory = 256\n");
	/* the canonical form parses back to the same spec, sections and all */
	expect_ok(out, &again);
	assert_int_equal(sky_spec_format(&again, &out2), 0);
	assert_string_equal(out, out2);
	assert_int_equal(again.n_alts, s.n_alts);
	for (i = 0; i < s.n_alts; i++)
		assert_request_equal(&again.alts[i], &s.alts[i]);
	assert_request_equal(&again.res, &s.res);
	assert_int_equal(again.dry_run, 1);
	free(out);
	free(out2);
	sky_spec_free(&s);
	sky_spec_free(&again);

	/* JSON sections render the same way */
	expect_ok("{\"max_price\": 12.25, \"a\": {\"provider\": \"aws\"}}", &s);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_string_equal(out,
			    "provider = local\n"
			    "nodes = 1\n"
			    "slots = 1\n"
			    "accelerator = none\n"
			    "allocation = spot-if-available\n"
			    "max_price = 12.25\n"
			    "[a]\n"
			    "provider = aws\n"
			    "accelerator = none\n"
			    "allocation = spot-if-available\n"
			    "max_price = 12.25\n");
	free(out);
	sky_spec_free(&s);
}


/* ---- the ssh keys --------------------------------------------------------- */

static void assert_host(const struct sky_spec_host *h, const char *user, const char *host,
			int port)
{
	assert_string_equal(h->user, user);
	assert_string_equal(h->host, host);
	assert_int_equal(h->port, port);
}

/* What a hosts entry without "user@" logs in as. */
static const char *daemon_user(void)
{
	struct passwd *pw = getpwuid(geteuid());

	return pw ? pw->pw_name : getenv("USER");
}

static void test_ssh_keys_valid(void **state)
{
	struct sky_spec s;
	struct sky_buf big = { 0 };
	int i;

	(void)state;
	/* nodes = the number of hosts, each entry in the forms written */
	expect_ok("provider = ssh\n"
		  "hosts = skytest@127.0.0.2:22, skytest@127.0.0.3:2222 ,127.0.0.4,"
		  "\tu_1.x-y@gpu-box.example.com, root@[0:0::1]:2200, [fe80::1]\n", &s);
	assert_int_equal(s.n_hosts, 6);
	assert_int_equal(s.nodes, 6);
	assert_int_equal(s.alts[0].nodes, 6);
	assert_host(&s.hosts[0], "skytest", "127.0.0.2", 22);
	assert_host(&s.hosts[1], "skytest", "127.0.0.3", 2222);
	assert_host(&s.hosts[2], daemon_user(), "127.0.0.4", 22);
	assert_host(&s.hosts[3], "u_1.x-y", "gpu-box.example.com", 22);
	assert_host(&s.hosts[4], "root", "::1", 2200);
	assert_host(&s.hosts[5], daemon_user(), "fe80::1", 22);
	assert_int_equal(s.host_key_policy, SKY_HOST_KEY_STRICT);
	assert_int_equal(s.node_timeout_s, 60);
	assert_int_equal(s.max_attempts, 3);
	sky_spec_free(&s);
	assert_zeroed(&s);

	/* nodes may use fewer hosts than listed (the first ones) */
	expect_ok("provider = ssh\nnodes = 2\nhosts = a, b, c\n", &s);
	assert_int_equal(s.nodes, 2);
	assert_int_equal(s.alts[0].nodes, 2);
	assert_int_equal(s.n_hosts, 3);
	sky_spec_free(&s);
	expect_ok("hosts = a, b, c\nnodes = 3\nprovider = local, ssh\n", &s);
	assert_int_equal(s.nodes, 3);
	sky_spec_free(&s);

	/* every other ssh key */
	expect_ok("provider = ssh\nhosts = a\nidentity = ~/.ssh/id_ed25519\n"
		  "known_hosts = /etc/skyfs/known_hosts\nhost_key_policy = accept-new\n"
		  "node_timeout = 2m\nmax_attempts = 1\n", &s);
	assert_string_equal(s.identity, "~/.ssh/id_ed25519");
	assert_string_equal(s.known_hosts, "/etc/skyfs/known_hosts");
	assert_int_equal(s.host_key_policy, SKY_HOST_KEY_ACCEPT_NEW);
	assert_int_equal(s.node_timeout_s, 120);
	assert_int_equal(s.max_attempts, 1);
	assert_int_equal(s.nodes, 1);
	sky_spec_free(&s);
	expect_ok("provider = ssh\nhosts = a\nhost_key_policy = STRICT\nnode_timeout = 1d\n"
		  "max_attempts = 100\n", &s);
	assert_int_equal(s.host_key_policy, SKY_HOST_KEY_STRICT);
	assert_int_equal(s.node_timeout_s, 86400);
	assert_int_equal(s.max_attempts, 100);
	sky_spec_free(&s);
	/* node_timeout and max_attempts matter to any pool */
	expect_ok("node_timeout = 5s\nmax_attempts = 7\n", &s);
	assert_int_equal(s.node_timeout_s, 5);
	assert_int_equal(s.max_attempts, 7);
	sky_spec_free(&s);

	/* JSON: numbers are values, as everywhere */
	expect_ok("{\"provider\": \"ssh\", \"hosts\": \"u@a:23, u@b\", \"node_timeout\": 30,"
		  " \"max_attempts\": 5, \"host_key_policy\": \"accept-new\"}", &s);
	assert_int_equal(s.n_hosts, 2);
	assert_host(&s.hosts[0], "u", "a", 23);
	assert_host(&s.hosts[1], "u", "b", 22);
	assert_int_equal(s.nodes, 2);
	assert_int_equal(s.node_timeout_s, 30);
	assert_int_equal(s.max_attempts, 5);
	sky_spec_free(&s);

	/* ssh named in a section is enough; hosts is pool-wide */
	expect_ok("hosts = a, b\n[gpu]\nprovider = ssh\naccelerator = T4\n[cloud]\nprovider = aws\n",
		  &s);
	assert_int_equal(s.nodes, 2);
	assert_int_equal(s.n_alts, 2);
	assert_int_equal(s.alts[0].nodes, 2);
	assert_int_equal(s.alts[1].nodes, 2);
	sky_spec_free(&s);

	/* up to 1024 hosts */
	sky_buf_printf(&big, "provider = ssh\nhosts = ");
	for (i = 0; i < 1024; i++)
		sky_buf_printf(&big, "%su@10.0.%d.%d", i ? ", " : "", i / 256, i % 256);
	expect_ok(big.data, &s);
	assert_int_equal(s.n_hosts, 1024);
	assert_int_equal(s.nodes, 1024);
	assert_host(&s.hosts[1023], "u", "10.0.3.255", 22);
	sky_spec_free(&s);
	sky_buf_free(&big);
}

static void test_ssh_keys_invalid(void **state)
{
	struct sky_buf big = { 0 };
	int i;

	(void)state;
	expect_err("provider = ssh\n", "provider ssh needs hosts = [user@]host[:port], ...");
	expect_err("[a]\nprovider = local\n[b]\nprovider = ssh\n",
		   "provider ssh needs hosts = [user@]host[:port], ...");
	expect_err("provider = ssh\nhosts = a, b, c\nnodes = 5\n",
		   "line 3: nodes = 5 but hosts lists 3");
	expect_err("{\"provider\": \"ssh\",\n \"nodes\": 2,\n \"hosts\": \"a\"}",
		   "line 2: nodes = 2 but hosts lists 1");
	expect_err("nodes = 2\nhosts = a, b\n",
		   "line 2: hosts: only used with provider = ssh, which no alternative names");
	expect_err("provider = ssh\nhosts = a,,b\n", "line 2: hosts: empty entry in \"a,,b\"");
	expect_err("hosts = a, \n", "line 1: hosts: empty entry in \"a,\"");
	expect_err("hosts = a:0", "line 1: hosts: invalid port in \"a:0\" (1 to 65535)");
	expect_err("hosts = a:65536", "line 1: hosts: invalid port in \"a:65536\" (1 to 65535)");
	expect_err("hosts = a:", "line 1: hosts: invalid port in \"a:\" (1 to 65535)");
	expect_err("hosts = a:2x", "line 1: hosts: invalid port in \"a:2x\" (1 to 65535)");
	expect_err("hosts = a:+22", "line 1: hosts: invalid port in \"a:+22\" (1 to 65535)");
	expect_err("hosts = @a", "line 1: hosts: invalid user in \"@a\"");
	expect_err("hosts = -o@a", "line 1: hosts: invalid user in \"-o@a\"");
	expect_err("hosts = a b@c", "line 1: hosts: invalid user in \"a b@c\"");
	expect_err("hosts = u@", "line 1: hosts: invalid host in \"u@\" (use [user@]host[:port])");
	expect_err("hosts = u@-oProxyCommand=x",
		   "line 1: hosts: invalid host in \"u@-oProxyCommand=x\" (use [user@]host[:port])");
	expect_err("hosts = u@a@b", "line 1: hosts: invalid host in \"u@a@b\" (use [user@]host[:port])");
	expect_err("hosts = a/b", "line 1: hosts: invalid host in \"a/b\" (use [user@]host[:port])");
	expect_err("hosts = ::1",
		   "line 1: hosts: write an IPv6 address in brackets, [::1]:22, in \"::1\"");
	expect_err("hosts = [::g]", "line 1: hosts: invalid IPv6 address in \"[::g]\"");
	expect_err("hosts = [1.2.3.4]", "line 1: hosts: invalid IPv6 address in \"[1.2.3.4]\"");
	expect_err("hosts = [::1", "line 1: hosts: missing ']' in \"[::1\"");
	expect_err("hosts = [::1]22",
		   "line 1: hosts: invalid host in \"[::1]22\" (use [user@]host[:port])");
	expect_err("hosts = [::1]:0", "line 1: hosts: invalid port in \"[::1]:0\" (1 to 65535)");
	expect_err("provider = ssh\nhosts = u@a, b, u@a:22\n",
		   "line 2: hosts: u@a:22 listed twice");
	expect_err("hosts = u@[::1]:22, u@[0::1]", "line 1: hosts: u@[::1]:22 listed twice");
	expect_err("hosts = u@Box, u@box:22", "line 1: hosts: u@box:22 listed twice");
	expect_err("provider = ssh\nhosts = a\nhosts = b\n",
		   "line 3: duplicate key \"hosts\" (first on line 2)");
	expect_err("[s]\nhosts = a\n",
		   "line 2: \"hosts\" applies to the whole pool: set it before the first [section]");
	expect_err("host_key_policy = ask",
		   "line 1: host_key_policy: unknown \"ask\" (use strict or accept-new)");
	expect_err("host_key_policy = accept_new",
		   "line 1: host_key_policy: unknown \"accept_new\" (use strict or accept-new)");
	expect_err("node_timeout = 0",
		   "line 1: node_timeout: invalid duration \"0\" (use e.g. 90s, 15m, 2h)");
	expect_err("node_timeout = soon",
		   "line 1: node_timeout: invalid duration \"soon\" (use e.g. 90s, 15m, 2h)");
	expect_err("node_timeout = 2d",
		   "line 1: node_timeout: \"2d\" is more than the 86400 s allowed");
	expect_err("max_attempts = 0", "line 1: max_attempts must be between 1 and 100, got 0");
	expect_err("max_attempts = 101", "line 1: max_attempts must be between 1 and 100, got 101");
	expect_err("identity =", "line 1: empty value for \"identity\"");
	expect_err("known_hosts = # none", "line 1: empty value for \"known_hosts\"");
	expect_err("hostz = a", "line 1: unknown key \"hostz\" (did you mean \"hosts\"?)");
	expect_err("node_timout = 5s",
		   "line 1: unknown key \"node_timout\" (did you mean \"node_timeout\"?)");

	/* more than 1024 hosts */
	sky_buf_printf(&big, "provider = ssh\nhosts = ");
	for (i = 0; i < 1025; i++)
		sky_buf_printf(&big, "%sh%d", i ? "," : "", i);
	expect_err(big.data, "line 2: hosts: at most 1024 hosts, got 1025");
	sky_buf_free(&big);
}

/* recover and orphan_timeout: defaults, values, the canonical form, errors. */
static void test_recovery_keys(void **state)
{
	struct sky_spec s;
	char *out = NULL;

	(void)state;
	expect_ok("nodes = 1\n", &s);
	assert_int_equal(s.recover, SKY_RECOVER_RESUME);
	assert_int_equal(s.orphan_timeout_s, 600);
	sky_spec_free(&s);
	expect_ok("recover = Teardown\norphan_timeout = 90s\n", &s);
	assert_int_equal(s.recover, SKY_RECOVER_TEARDOWN);
	assert_int_equal(s.orphan_timeout_s, 90);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_non_null(strstr(out, "orphan_timeout = 1m30s\nrecover = teardown\n"));
	free(out);
	sky_spec_free(&s);
	expect_err("recover = later", "line 1: recover: unknown \"later\" (use resume or teardown)");
}

static void test_ssh_format(void **state)
{
	struct sky_spec s, again;
	char *out = NULL, *out2 = NULL;
	int i;

	(void)state;
	expect_ok("provider = ssh\nhosts = u@h, u@[::1]:2200\nidentity = ~/.ssh/id\n"
		  "known_hosts = /k\nhost_key_policy = accept-new\nnode_timeout = 90s\n"
		  "max_attempts = 5\n", &s);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_string_equal(out,
			    "provider = ssh\n"
			    "nodes = 2\n"
			    "slots = 1\n"
			    "accelerator = none\n"
			    "allocation = spot-if-available\n"
			    "hosts = u@h:22, u@[::1]:2200\n"
			    "identity = ~/.ssh/id\n"
			    "known_hosts = /k\n"
			    "host_key_policy = accept-new\n"
			    "node_timeout = 1m30s\n"
			    "max_attempts = 5\n");
	/* the canonical form parses back to the same spec */
	expect_ok(out, &again);
	assert_int_equal(sky_spec_format(&again, &out2), 0);
	assert_string_equal(out, out2);
	assert_int_equal(again.n_hosts, s.n_hosts);
	for (i = 0; i < s.n_hosts; i++)
		assert_host(&again.hosts[i], s.hosts[i].user, s.hosts[i].host, s.hosts[i].port);
	assert_int_equal(again.node_timeout_s, 90);
	free(out);
	free(out2);
	sky_spec_free(&s);
	sky_spec_free(&again);

	/* at their defaults the ssh keys are not rendered */
	expect_ok("provider = ssh\nhosts = u@h\nhost_key_policy = strict\nnode_timeout = 1m\n"
		  "max_attempts = 3\n", &s);
	assert_int_equal(sky_spec_format(&s, &out), 0);
	assert_string_equal(out,
			    "provider = ssh\n"
			    "nodes = 1\n"
			    "slots = 1\n"
			    "accelerator = none\n"
			    "allocation = spot-if-available\n"
			    "hosts = u@h:22\n");
	free(out);
	sky_spec_free(&s);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_keys_valid),
		cmocka_unit_test(test_new_keys_invalid),
		cmocka_unit_test(test_provider_lists),
		cmocka_unit_test(test_provider_list_empty_items),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_json_sections),
		cmocka_unit_test(test_json_section_duplicate_key),
		cmocka_unit_test(test_format_sections),
		cmocka_unit_test(test_ssh_keys_valid),
		cmocka_unit_test(test_ssh_keys_invalid),
		cmocka_unit_test(test_ssh_format),
		cmocka_unit_test(test_recovery_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
