/* Unit tests for Lambda Cloud's API layer (providers/lambda_api.c): the
 * documented answers parsed (instance types in cents with empty and
 * several capacity regions, instances whose ip comes late, launch and
 * SSH key answers), the request bodies, the error table, the names that
 * tie a launch's instances to ranks, and the launch limiter's spacing. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "providers/json_api.h"
#include "providers/lambda_api.h"
#include "api_helpers.h"

static void test_instance_types(void **state)
{
	json_t *doc = load(
		"{\"data\":{"
		"\"gpu_1x_a10\":{\"instance_type\":{\"name\":\"gpu_1x_a10\","
		"  \"description\":\"1x A10 (24 GB PCIe)\","
		"  \"gpu_description\":\"A10 (24 GB PCIe)\","
		"  \"price_cents_per_hour\":75,\"specs\":{\"vcpus\":30,\"memory_gib\":200,"
		"  \"storage_gib\":1400,\"gpus\":1}},"
		" \"regions_with_capacity_available\":[{\"name\":\"us-east-1\","
		"  \"description\":\"Virginia, USA\"},{\"name\":\"us-west-1\","
		"  \"description\":\"California, USA\"}]},"
		"\"gpu_8x_a100_80gb_sxm4\":{\"instance_type\":{\"name\":\"gpu_8x_a100_80gb_sxm4\","
		"  \"description\":\"8x A100 (80 GB SXM4)\","
		"  \"gpu_description\":\"A100 (80 GB SXM4)\","
		"  \"price_cents_per_hour\":1432,\"specs\":{\"vcpus\":240,\"memory_gib\":1800,"
		"  \"storage_gib\":20000,\"gpus\":8}},"
		" \"regions_with_capacity_available\":[]},"
		"\"gpu_1x_h100_pcie\":{\"instance_type\":{\"name\":\"gpu_1x_h100_pcie\","
		"  \"description\":\"1x H100 (80 GB PCIe)\","
		"  \"gpu_description\":\"H100 (80 GB PCIe)\","
		"  \"price_cents_per_hour\":249,\"specs\":{\"vcpus\":26,\"memory_gib\":200,"
		"  \"storage_gib\":1000,\"gpus\":1}},"
		" \"regions_with_capacity_available\":[{\"name\":\"us-south-1\","
		"  \"description\":\"Texas, USA\"}]},"
		"\"cpu_4x_general\":{\"instance_type\":{\"name\":\"cpu_4x_general\","
		"  \"description\":\"4x CPU\",\"gpu_description\":\"\","
		"  \"price_cents_per_hour\":8,\"specs\":{\"vcpus\":4,\"memory_gib\":16,"
		"  \"storage_gib\":100,\"gpus\":0}},"
		" \"regions_with_capacity_available\":[{\"name\":\"us-east-1\"}]}"
		"}}");
	struct sky_offer *o = NULL;
	const struct sky_offer *a;
	size_t n = 0;

	(void)state;
	assert_int_equal(lambda_parse_instance_types(doc, &o, &n), 0);
	/* two regions, none (no capacity), one, one */
	assert_int_equal(n, 4);
	assert_null(find_offer(o, n, "gpu_8x_a100_80gb_sxm4", "us-east-1"));
	a = find_offer(o, n, "gpu_1x_a10", "us-east-1");
	assert_non_null(a);
	assert_non_null(find_offer(o, n, "gpu_1x_a10", "us-west-1"));
	assert_string_equal(a->provider, "lambda");
	assert_string_equal(a->accelerator, "A10");
	assert_int_equal(a->accelerator_count, 1);
	assert_int_equal(a->vcpus, 30);
	assert_int_equal(a->memory_gb, 200);
	assert_int_equal(a->market, SKY_MARKET_ON_DEMAND);
	assert_int_equal(a->source, SKY_SOURCE_LIVE);
	assert_true(a->price_usd_per_hour > 0.7499 && a->price_usd_per_hour < 0.7501);
	a = find_offer(o, n, "gpu_1x_h100_pcie", "us-south-1");
	assert_non_null(a);
	assert_string_equal(a->accelerator, "H100-PCIE");
	assert_true(a->price_usd_per_hour > 2.4899 && a->price_usd_per_hour < 2.4901);
	a = find_offer(o, n, "cpu_4x_general", "us-east-1");
	assert_non_null(a);
	assert_string_equal(a->accelerator, "");
	assert_int_equal(a->accelerator_count, 0);
	free(o);
	json_decref(doc);

	/* nothing anywhere: zero offers, still an array to free */
	doc = load("{\"data\":{}}");
	assert_int_equal(lambda_parse_instance_types(doc, &o, &n), 0);
	assert_int_equal(n, 0);
	free(o);
	json_decref(doc);
	doc = load("{\"error\":{\"code\":\"x\"}}");
	assert_int_equal(lambda_parse_instance_types(doc, &o, &n), -EPROTO);
	json_decref(doc);
}

/* A spec no int holds reads as absent: converting it was undefined
 * behaviour (found with tests/fuzz/fuzz_lambda). */
static void test_instance_type_numbers(void **state)
{
	json_t *doc = load(
		"{\"data\":{\"x\":{\"instance_type\":{\"name\":\"x\",\"price_cents_per_hour\":5,"
		"\"specs\":{\"gpus\":1e300,\"vcpus\":-3e9,\"memory_gib\":4294967297}},"
		"\"regions_with_capacity_available\":[{\"name\":\"r\"}]}}}");
	struct sky_offer *o = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(lambda_parse_instance_types(doc, &o, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(o[0].accelerator_count, 0);
	assert_int_equal(o[0].vcpus, 0);
	assert_int_equal(o[0].memory_gb, 0);
	free(o);
	json_decref(doc);
}

static void test_accelerator_names(void **state)
{
	static const struct {
		const char *gpu, *desc, *want;
	} cases[] = {
		{ "A10 (24 GB PCIe)", "", "A10" },
		{ "A100 (40 GB SXM4)", "", "A100" },
		{ "A100 (40 GB PCIe)", "", "A100" },
		{ "A100 (80 GB SXM4)", "", "A100-80GB" },
		{ "H100 (80 GB PCIe)", "", "H100-PCIE" },
		{ "H100 (80 GB SXM5)", "", "H100" },
		{ "GH200 (96 GB)", "", "GH200" },
		{ "B200 (180 GB SXM6)", "", "B200" },
		{ "RTX A6000 (48 GB)", "", "RTX-A6000" },
		{ "Tesla V100 (16 GB)", "", "V100" },
		/* not in the catalog: the device as reported */
		{ "RTX 6000 (24 GB)", "", "RTX 6000" },
		/* no gpu_description: from the description */
		{ "", "8x A100 (80 GB SXM4)", "A100-80GB" },
		{ NULL, "1x A10 (24 GB PCIe)", "A10" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < SKY_ARRAY_SIZE(cases); i++) {
		lambda_accelerator(cases[i].gpu, cases[i].desc, out, sizeof(out));
		if (strcmp(out, cases[i].want))
			fail_msg("%s / %s: got \"%s\", want \"%s\"",
				 cases[i].gpu ? cases[i].gpu : "-", cases[i].desc, out,
				 cases[i].want);
	}
}

static void assert_json(json_t *v, const char *want)
{
	char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	json_decref(v);
}

static void test_requests(void **state)
{
	char ids[3][64] = { "0920582c7ff041399e34823a0be62549", "", "aa" };

	(void)state;
	assert_json(lambda_launch_body("us-east-1", "gpu_1x_a10", "skyfs-p-1-2", 2,
				       "skyfs-p-1-2-0-1"),
		    "{\"instance_type_name\":\"gpu_1x_a10\",\"name\":\"skyfs-p-1-2-0-1\","
		    "\"quantity\":2,\"region_name\":\"us-east-1\","
		    "\"ssh_key_names\":[\"skyfs-p-1-2\"]}");
	/* empty ids are left out */
	assert_json(lambda_terminate_body(ids, 3),
		    "{\"instance_ids\":[\"0920582c7ff041399e34823a0be62549\",\"aa\"]}");
	assert_json(lambda_ssh_key_body("skyfs-p", "ssh-ed25519 AAAA c"),
		    "{\"name\":\"skyfs-p\",\"public_key\":\"ssh-ed25519 AAAA c\"}");
}

static void test_instances(void **state)
{
	json_t *doc = load(
		"{\"data\":["
		"{\"id\":\"0920582c7ff041399e34823a0be62549\",\"name\":\"skyfs-p-1-2-0-1\","
		" \"ip\":null,\"private_ip\":null,\"status\":\"booting\",\"ssh_key_names\":[\"k\"],"
		" \"region\":{\"name\":\"us-east-1\"},\"instance_type\":{\"name\":\"gpu_1x_a10\"}},"
		"{\"id\":\"1920582c7ff041399e34823a0be62549\",\"name\":\"skyfs-p-1-2-0-1\","
		" \"status\":\"active\",\"region\":{\"name\":\"us-east-1\"}},"
		"{\"id\":\"2920582c7ff041399e34823a0be62549\",\"name\":\"skyfs-p-1-2-3\","
		" \"ip\":\"129.146.1.2\",\"private_ip\":\"10.0.0.3\",\"status\":\"active\"},"
		"{\"id\":\"3920582c7ff041399e34823a0be62549\",\"name\":\"skyfs-p-1-22-0\","
		" \"ip\":\"129.146.1.3\",\"status\":\"active\"},"
		"{\"id\":\"4920582c7ff041399e34823a0be62549\",\"name\":null,\"status\":\"active\"}"
		"]}");
	struct lambda_instance *in = NULL;
	size_t n = 0;

	(void)state;
	/* only the pool's: not another pool whose prefix starts like it */
	assert_int_equal(lambda_parse_instances(doc, "skyfs-p-1-2", &in, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(in[0].id, "0920582c7ff041399e34823a0be62549");
	assert_string_equal(in[0].status, "booting");
	assert_string_equal(in[0].ip, "");
	assert_string_equal(in[0].type, "gpu_1x_a10");
	assert_string_equal(in[0].region, "us-east-1");
	/* active without an ip yet: the ip comes late */
	assert_string_equal(in[1].status, "active");
	assert_string_equal(in[1].ip, "");
	assert_string_equal(in[2].ip, "129.146.1.2");
	assert_string_equal(in[2].private_ip, "10.0.0.3");
	/* everything, appended */
	assert_int_equal(lambda_parse_instances(doc, NULL, &in, &n), 0);
	assert_int_equal(n, 8);
	free(in);
	json_decref(doc);

	/* one instance; a terminate answer */
	in = NULL;
	n = 0;
	doc = load("{\"data\":{\"id\":\"ab\",\"name\":\"skyfs-q-0\",\"status\":\"unhealthy\"}}");
	assert_int_equal(lambda_parse_instances(doc, "skyfs-q", &in, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(in[0].status, "unhealthy");
	json_decref(doc);
	doc = load("{\"data\":{\"terminated_instances\":[{\"id\":\"ab\",\"name\":\"skyfs-q-0\","
		   "\"status\":\"terminating\"},{\"id\":\"cd\",\"name\":\"skyfs-q-1\","
		   "\"status\":\"terminated\"}]}}");
	assert_int_equal(lambda_parse_instances(doc, "skyfs-q", &in, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(in[2].id, "cd");
	free(in);
	json_decref(doc);
	doc = load("{\"data\":\"x\"}");
	in = NULL;
	n = 0;
	assert_int_equal(lambda_parse_instances(doc, NULL, &in, &n), -EPROTO);
	json_decref(doc);

	assert_int_equal(lambda_instance_state("booting"), SKY_INST_PENDING);
	assert_int_equal(lambda_instance_state(""), SKY_INST_PENDING);
	assert_int_equal(lambda_instance_state("active"), SKY_INST_RUNNING);
	assert_int_equal(lambda_instance_state("unhealthy"), SKY_INST_RUNNING);
	assert_int_equal(lambda_instance_state("terminating"), SKY_INST_STOPPING);
	assert_int_equal(lambda_instance_state("terminated"), SKY_INST_GONE);
}

static void test_launch_and_keys(void **state)
{
	json_t *doc = load("{\"data\":{\"instance_ids\":[\"aa\",\"bb\",\"cc\"]}}");
	char ids[2][64], id[64];
	size_t n;

	(void)state;
	/* in order; no more than asked for */
	assert_int_equal(lambda_parse_launch(doc, ids, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "aa");
	assert_string_equal(ids[1], "bb");
	json_decref(doc);
	doc = load("{\"data\":{}}");
	assert_int_equal(lambda_parse_launch(doc, ids, 2, &n), -EPROTO);
	json_decref(doc);

	doc = load("{\"data\":{\"id\":\"0920582c\",\"name\":\"skyfs-p\",\"public_key\":\"k\"}}");
	assert_int_equal(lambda_parse_ssh_key(doc, id, sizeof(id)), 0);
	assert_string_equal(id, "0920582c");
	json_decref(doc);
	doc = load("{\"data\":[{\"id\":\"1\",\"name\":\"mine\"},"
		   "{\"id\":\"2\",\"name\":\"skyfs-p\"}]}");
	assert_int_equal(lambda_find_ssh_key(doc, "skyfs-p", id, sizeof(id)), 0);
	assert_string_equal(id, "2");
	assert_int_equal(lambda_find_ssh_key(doc, "skyfs-q", id, sizeof(id)), -ENOENT);
	json_decref(doc);
}

static enum sky_api_kind classify(long status, const char *body, struct sky_api_error *e)
{
	json_t *doc = body ? load(body) : NULL;
	enum sky_api_kind k;

	memset(e, 0, sizeof(*e));
	k = lambda_classify(status, doc, body, e);
	json_decref(doc);
	return k;
}

static void test_errors(void **state)
{
	static const struct {
		long status;
		const char *code;
		enum sky_api_kind kind;
		int err;
	} cases[] = {
		{ 400, "instance-operations/launch/insufficient-capacity", SKY_API_CAPACITY,
		  -EAGAIN },
		{ 401, "global/invalid-api-key", SKY_API_AUTH, -EACCES },
		{ 403, "global/account-inactive", SKY_API_AUTH, -EACCES },
		{ 400, "global/quota-exceeded", SKY_API_QUOTA, -EAGAIN },
		{ 404, "global/object-does-not-exist", SKY_API_NOTFOUND, -ENOENT },
		{ 400, "global/invalid-parameters", SKY_API_CLIENT, -EIO },
		/* an unknown code goes by its status */
		{ 503, "global/something-new", SKY_API_SERVER, -EREMOTEIO },
		{ 409, "global/something-else", SKY_API_DUPLICATE, -EEXIST },
	};
	struct sky_api_error e;
	char body[512];
	size_t i;

	(void)state;
	for (i = 0; i < SKY_ARRAY_SIZE(cases); i++) {
		snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"m%zu\","
			 "\"suggestion\":\"s\"}}", cases[i].code, i);
		assert_int_equal(classify(cases[i].status, body, &e), cases[i].kind);
		assert_int_equal(sky_api_errno(cases[i].kind), cases[i].err);
		assert_string_equal(e.code, cases[i].code);
		assert_non_null(strstr(e.message, "m"));
		assert_non_null(strstr(e.message, "(s)"));
	}
	/* a message over several lines stays on one */
	assert_int_equal(classify(400, "{\"error\":{\"code\":\"global/invalid-parameters\","
				  "\"message\":\"a\\nb\"}}", &e), SKY_API_CLIENT);
	assert_string_equal(e.message, "a b");
	/* 429 is throttling, retried, whatever the body; 5xx is the server's */
	assert_int_equal(classify(429, "{\"error\":{\"code\":\"global/quota-exceeded\"}}", &e),
			 SKY_API_THROTTLE);
	assert_int_equal(classify(429, NULL, &e), SKY_API_THROTTLE);
	assert_int_equal(classify(500, NULL, &e), SKY_API_SERVER);
	assert_int_equal(classify(502, "\"<html>\"", &e), SKY_API_SERVER);
	assert_int_equal(classify(401, NULL, &e), SKY_API_AUTH);
	assert_int_equal(classify(200, "{\"data\":{}}", &e), SKY_API_OK);
	assert_true(sky_api_retryable(SKY_API_THROTTLE) && sky_api_retryable(SKY_API_SERVER));
	assert_false(sky_api_retryable(SKY_API_CAPACITY) || sky_api_retryable(SKY_API_AUTH));
}

static void test_names(void **state)
{
	char p[LAMBDA_PREFIX_MAX + 1], name[128];
	int one[] = { 3 }, two[] = { 0, 1 }, some[] = { 2, 5, 9 };
	static const struct { const char *name; int rank, want; } carries[] = {
		{ "skyfs-p-3", 3, 1 }, { "skyfs-p-3", 2, 0 }, { "skyfs-p-13", 3, 0 },
		{ "skyfs-p-2-9", 2, 1 }, { "skyfs-p-2-9", 9, 1 }, { "skyfs-p-2-9", 5, 0 },
		{ "skyfs-p2-3", 3, 0 }, { "skyfs-p-3-", 3, 0 }, { "skyfs-p-3-4-5", 3, 0 },
		{ "skyfs-p-x3", 3, 0 }, { "skyfs-p-", 0, 0 }, { "skyfs-p-99999999999", 3, 0 },
		{ "skyfs-p-3", -1, 0 },
	};
	size_t i;

	(void)state;
	lambda_prefix("train-1a2b3c4d-5e6f7a8b", p, sizeof(p));
	assert_string_equal(p, "skyfs-train-1a2b3c4d-5e6f7a8b");
	/* a long pool name is cut; its hashes stay, and it fits */
	lambda_prefix("a_very_long_pool_name_that_goes_on_and_on_and_on-1a2b3c4d-5e6f7a8b", p,
		      sizeof(p));
	assert_int_equal(strlen(p), LAMBDA_PREFIX_MAX);
	assert_memory_equal(p, "skyfs-a_very_long", 17);
	assert_string_equal(p + strlen(p) - 18, "-1a2b3c4d-5e6f7a8b");

	lambda_batch_name("skyfs-p", one, 1, name, sizeof(name));
	assert_string_equal(name, "skyfs-p-3");
	lambda_batch_name("skyfs-p", two, 2, name, sizeof(name));
	assert_string_equal(name, "skyfs-p-0-1");
	lambda_batch_name("skyfs-p", some, 3, name, sizeof(name));
	assert_string_equal(name, "skyfs-p-2-9");
	/* every batch's name is found by the pool's prefix, no other pool's */
	assert_true(lambda_name_matches("skyfs-p-2-9", "skyfs-p"));
	assert_true(lambda_name_matches("skyfs-p-3", "skyfs-p"));
	assert_false(lambda_name_matches("skyfs-p2-3", "skyfs-p"));
	assert_false(lambda_name_matches("skyfs-p", "skyfs-p"));
	assert_false(lambda_name_matches("x", ""));
	/* the ranks a launch surely carried: a single one, a batch's ends */
	for (i = 0; i < sizeof(carries) / sizeof(carries[0]); i++)
		assert_int_equal(lambda_name_carries(carries[i].name, "skyfs-p", carries[i].rank),
				 carries[i].want);
}

/* ---- the limiter ---- */

static struct lambda_limiter limiter = LAMBDA_LIMITER_INIT;
static pthread_mutex_t starts_lock = PTHREAD_MUTEX_INITIALIZER;
static double starts[4], ends[4];
static int n_starts;

static void *launcher(void *arg)
{
	int i;

	(void)arg;
	lambda_limiter_acquire(&limiter);
	pthread_mutex_lock(&starts_lock);
	i = n_starts++;
	starts[i] = sky_mono();
	pthread_mutex_unlock(&starts_lock);
	usleep(20000);                   /* the launch call */
	ends[i] = sky_mono();
	lambda_limiter_release(&limiter, 0.1);
	return NULL;
}

static void test_limiter(void **state)
{
	pthread_t t[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, launcher, NULL), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(n_starts, 4);
	/* one at a time, each interval after the previous one's answer */
	for (i = 1; i < 4; i++)
		assert_true(starts[i] >= ends[i - 1] + 0.099);
	/* the first one waited for nothing */
	unsetenv("SKYFS_LAMBDA_LAUNCH_INTERVAL_MS");
	assert_true(lambda_launch_interval() == 10.0);
	setenv("SKYFS_LAMBDA_LAUNCH_INTERVAL_MS", "250", 1);
	assert_true(lambda_launch_interval() == 0.25);
	setenv("SKYFS_LAMBDA_LAUNCH_INTERVAL_MS", "-5", 1);
	assert_true(lambda_launch_interval() == 10.0);
	setenv("SKYFS_LAMBDA_LAUNCH_INTERVAL_MS", "0", 1);
	assert_true(lambda_launch_interval() == 0.0);
	assert_true(lambda_limiter_acquire(&limiter) < 0.2);
	lambda_limiter_release(&limiter, 0);
	assert_true(lambda_limiter_acquire(&limiter) < 0.05);
	lambda_limiter_release(&limiter, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instance_types),
		cmocka_unit_test(test_instance_type_numbers),
		cmocka_unit_test(test_accelerator_names),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_instances),
		cmocka_unit_test(test_launch_and_keys),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_limiter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
