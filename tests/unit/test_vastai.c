/* Unit tests for the Vast.ai API layer (providers/vastai_api.c): the
 * /bundles/ search built from a request, asks parsed into offers of a
 * machine shape, both forms of the instances answer, where to SSH, the
 * onstart command (run for real in a scratch directory), and the error
 * table on the documented error bodies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog/select.h"
#include "common/util.h"
#include "providers/vastai_api.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *doc = json_loads(text, JSON_DECODE_ANY, &e);

	if (!doc)
		fail_msg("bad JSON in the test: %s: %s", e.text, text);
	return doc;
}

static int has_name(const struct vastai_query *q, const char *name)
{
	int i;

	for (i = 0; i < q->n_names; i++)
		if (!strcmp(q->names[i], name))
			return 1;
	return 0;
}

/* ---- the search --------------------------------------------------------------------- */

static void test_gpu_names(void **state)
{
	struct vastai_query q;

	(void)state;
	/* Vast spells catalog names with blanks */
	assert_int_equal(vastai_gpu_names("RTX-4090", &q), 0);
	assert_true(has_name(&q, "RTX 4090"));
	assert_true(q.gpu_ram_min_mb > 16 * 1024 && q.gpu_ram_min_mb <= 22 * 1024);
	assert_true(q.gpu_ram_max_mb >= 24 * 1024);
	/* the family: every variant's names, and never one with a memory size */
	assert_int_equal(vastai_gpu_names("H100", &q), 0);
	assert_true(has_name(&q, "H100 SXM"));
	assert_true(has_name(&q, "H100 PCIE"));
	assert_true(has_name(&q, "H100 NVL"));
	for (int i = 0; i < q.n_names; i++)
		assert_null(strstr(q.names[i], "GB"));
	/* the 80 GB A100 shows up under the 40 GB row's names: gpu_ram decides */
	assert_int_equal(vastai_gpu_names("A100-80GB", &q), 0);
	assert_true(has_name(&q, "A100 SXM4"));
	assert_true(has_name(&q, "A100 PCIE"));
	assert_true(q.gpu_ram_min_mb > 40 * 1024 * 1.2);
	assert_int_equal(vastai_gpu_names("A100-40GB", &q), 0);
	assert_true(has_name(&q, "A100 SXM4"));
	assert_true(q.gpu_ram_max_mb < 80 * 1024 * 0.8);
	/* a variant alone does not pull in its siblings of the same size */
	assert_int_equal(vastai_gpu_names("H100-PCIE", &q), 0);
	assert_true(has_name(&q, "H100 PCIE"));
	assert_false(has_name(&q, "H100 SXM"));
	assert_int_equal(vastai_gpu_names("nope-9000", &q), -ENOENT);
}

static void test_bundles_query(void **state)
{
	struct vastai_query q = { 0 };
	json_t *body, *names;

	(void)state;
	assert_int_equal(vastai_gpu_names("RTX-4090", &q), 0);
	q.num_gpus = 2;
	q.max_price = 0.6;
	q.vcpus = 8;
	q.memory_gb = 32;
	q.market = SKY_MARKET_ON_DEMAND;
	q.limit = 64;
	body = vastai_bundles_query(&q);
	assert_non_null(body);
	assert_true(json_is_true(json_object_get(json_object_get(body, "verified"), "eq")));
	assert_true(json_is_true(json_object_get(json_object_get(body, "rentable"), "eq")));
	names = json_object_get(json_object_get(body, "gpu_name"), "in");
	assert_true(json_is_array(names));
	assert_string_equal(json_string_value(json_array_get(names, 0)), "RTX 4090");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "num_gpus"),
							    "eq")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "gpu_ram"),
							    "gte")), q.gpu_ram_min_mb);
	assert_true(json_real_value(json_object_get(json_object_get(body, "dph_total"), "lte"))
		    == 0.6);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "cpu_ram"),
							    "gte")), 32 * 1024);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(body, "cpu_cores_effective"), "gte")), 8);
	assert_string_equal(json_string_value(json_object_get(body, "type")), "on-demand");
	assert_string_equal(json_string_value(json_array_get(json_array_get(
		json_object_get(body, "order"), 0), 0)), "dph_total");
	assert_string_equal(json_string_value(json_array_get(json_array_get(
		json_object_get(body, "order"), 0), 1)), "asc");
	assert_int_equal(json_integer_value(json_object_get(body, "limit")), 64);
	json_decref(body);

	/* a bid: the cap and the order are on min_bid */
	q.market = SKY_MARKET_SPOT;
	body = vastai_bundles_query(&q);
	assert_string_equal(json_string_value(json_object_get(body, "type")), "bid");
	assert_null(json_object_get(body, "dph_total"));
	assert_true(json_real_value(json_object_get(json_object_get(body, "min_bid"), "lte"))
		    == 0.6);
	assert_string_equal(json_string_value(json_array_get(json_array_get(
		json_object_get(body, "order"), 0), 0)), "min_bid");
	json_decref(body);

	/* from a spec's alternative */
	{
		struct sky_request r = { 0 };

		assert_int_equal(vastai_request_query(&r, SKY_MARKET_SPOT, 64, &q), -ENOENT);
		snprintf(r.accelerator, sizeof(r.accelerator), "A100-80GB");
		r.accelerator_count = 8;
		r.max_price = 12.5;
		r.vcpus = 64;
		assert_int_equal(vastai_request_query(&r, SKY_MARKET_SPOT, 70, &q), 0);
		assert_true(has_name(&q, "A100 SXM4"));
		assert_int_equal(q.num_gpus, 8);
		assert_true(q.max_price == 12.5);
		assert_int_equal(q.vcpus, 64);
		assert_int_equal(q.market, SKY_MARKET_SPOT);
		assert_int_equal(q.limit, 70);
		assert_true(q.gpu_ram_min_mb > 60 * 1024);
		assert_int_equal(vastai_request_query(NULL, SKY_MARKET_ON_DEMAND, 64, &q), 0);
		assert_int_equal(q.n_names, 0);
		assert_int_equal(q.num_gpus, 0);
	}

	/* no request (the catalog's refresh): any GPU, no cap */
	memset(&q, 0, sizeof(q));
	body = vastai_bundles_query(&q);
	assert_null(json_object_get(body, "gpu_name"));
	assert_null(json_object_get(body, "num_gpus"));
	assert_null(json_object_get(body, "dph_total"));
	assert_int_equal(json_integer_value(json_object_get(body, "limit")), 64);
	json_decref(body);
}

static const char offers_json[] =
	"{\"offers\":[\n"
	" {\"id\":12345678,\"ask_contract_id\":12345678,\"machine_id\":88888,"
	"  \"gpu_name\":\"RTX 4090\",\"num_gpus\":1,\"gpu_ram\":24564,\"dph_total\":0.42,"
	"  \"min_bid\":0.21,\"rentable\":true,\"reliability\":0.995,"
	"  \"public_ipaddr\":\"203.0.113.42\",\"geolocation\":\"US\",\"cuda_max_good\":12.4,"
	"  \"cpu_cores_effective\":12.0,\"cpu_ram\":65536},\n"
	" {\"id\":222,\"gpu_name\":\"A100 SXM4\",\"num_gpus\":8,\"gpu_ram\":81920,"
	"  \"dph_total\":9.5,\"min_bid\":null,\"geolocation\":null},\n"
	" {\"id\":333,\"gpu_name\":\"A100 SXM4\",\"num_gpus\":8,\"gpu_ram\":40960,"
	"  \"dph_total\":6.0,\"min_bid\":3.1,\"geolocation\":\"Sweden, SE\",\"cpu_cores\":64},\n"
	" {\"id\":444,\"gpu_name\":\"RTX 9999\",\"num_gpus\":1,\"gpu_ram\":32000,"
	"  \"dph_total\":0.5,\"min_bid\":0.3},\n"
	" {\"gpu_name\":\"no id\",\"num_gpus\":1}\n"
	"]}";

static void test_parse_asks_and_offers(void **state)
{
	json_t *doc = parse(offers_json);
	struct vastai_ask *a = NULL;
	struct sky_offer o;
	char name[64];
	size_t n = 0;

	(void)state;
	assert_int_equal(vastai_parse_asks(doc, &a, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(a[0].id, 12345678);
	assert_string_equal(a[0].gpu_name, "RTX 4090");
	assert_int_equal(a[0].num_gpus, 1);
	assert_int_equal(a[0].gpu_ram_mb, 24564);
	assert_true(a[0].dph_total == 0.42 && a[0].min_bid == 0.21);
	assert_string_equal(a[0].geolocation, "US");
	assert_int_equal(a[0].vcpus, 12);
	assert_int_equal(a[0].memory_gb, 64);
	assert_true(a[1].min_bid == 0);
	assert_string_equal(a[1].geolocation, "");
	assert_int_equal(a[2].vcpus, 64);

	/* on demand at dph_total, a bid at min_bid; the catalog's name */
	assert_int_equal(vastai_ask_offer(&a[0], SKY_MARKET_ON_DEMAND, &o), 0);
	assert_string_equal(o.provider, "vastai");
	assert_string_equal(o.instance_type, "RTX_4090");
	assert_string_equal(o.accelerator, "RTX-4090");
	assert_string_equal(o.region, "US");
	assert_int_equal(o.accelerator_count, 1);
	assert_int_equal(o.vcpus, 12);
	assert_int_equal(o.memory_gb, 64);
	assert_true(o.price_usd_per_hour == 0.42);
	assert_int_equal(o.source, SKY_SOURCE_LIVE);
	assert_true(vastai_ask_fits(&a[0], &o));
	assert_int_equal(vastai_ask_offer(&a[0], SKY_MARKET_SPOT, &o), 0);
	assert_true(o.price_usd_per_hour == 0.21);
	assert_int_equal(o.market, SKY_MARKET_SPOT);
	/* gpu_ram tells the A100s apart */
	assert_int_equal(vastai_ask_offer(&a[1], SKY_MARKET_ON_DEMAND, &o), 0);
	assert_string_equal(o.accelerator, "A100-80GB");
	assert_string_equal(o.instance_type, "A100_SXM4");
	assert_false(vastai_ask_fits(&a[2], &o));   /* 40 GB, elsewhere */
	assert_int_equal(vastai_ask_offer(&a[1], SKY_MARKET_SPOT, &o), -ENOENT);
	assert_int_equal(vastai_ask_offer(&a[2], SKY_MARKET_SPOT, &o), 0);
	assert_string_equal(o.accelerator, "A100");
	assert_string_equal(o.region, "Sweden,SE");   /* one word in plan and offers */
	/* unknown to the catalog: as reported */
	assert_int_equal(vastai_ask_offer(&a[3], SKY_MARKET_ON_DEMAND, &o), 0);
	assert_string_equal(o.accelerator, "RTX 9999");
	free(a);
	json_decref(doc);

	vastai_shape_gpu("A100_SXM4", name, sizeof(name));
	assert_string_equal(name, "A100 SXM4");
	vastai_accel_of("H100 SXM", 81559, name, sizeof(name));
	assert_string_equal(name, "H100");
	vastai_accel_of("H100 NVL", 95830, name, sizeof(name));
	assert_string_equal(name, "H100-NVL");
	vastai_accel_of("Tesla V100", 32510, name, sizeof(name));
	assert_string_equal(name, "V100-32GB");
	/* gpu_name as Vast reports it, to the catalog's names */
	{
		static const char *const names[][2] = {
			{ "RTX 4090", "RTX-4090" }, { "RTX 3090", "RTX-3090" },
			{ "A100 PCIE", "A100" }, { "A100 SXM4", "A100" },
			{ "H100 SXM", "H100" }, { "H100 PCIE", "H100-PCIE" },
			{ "H100 NVL", "H100-NVL" }, { "GH200 SXM", "GH200" },
			{ "RTX A6000", "RTX-A6000" }, { "RTX 6000Ada", "RTX-6000-ADA" },
			{ "Tesla T4", "T4" }, { "L40S", "L40S" }, { "A10", "A10" },
		};

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			vastai_accel_of(names[i][0], 0, name, sizeof(name));
			assert_string_equal(name, names[i][1]);
		}
	}

	doc = parse("{\"success\":true}");
	assert_int_equal(vastai_parse_asks(doc, &a, &n), -EPROTO);
	json_decref(doc);
}

/* ---- renting and the instances ------------------------------------------------------- */

static void test_rent_body(void **state)
{
	struct vastai_rent r = { "img:1", 32, "skyfs-p-1-0", "QUJD", "echo hi", 0 };
	json_t *body = vastai_rent_body(&r), *doc;
	long long id;

	(void)state;
	assert_string_equal(json_string_value(json_object_get(body, "image")), "img:1");
	assert_int_equal(json_integer_value(json_object_get(body, "disk")), 32);
	assert_string_equal(json_string_value(json_object_get(body, "runtype")), "ssh");
	assert_string_equal(json_string_value(json_object_get(body, "label")), "skyfs-p-1-0");
	assert_string_equal(json_string_value(json_object_get(json_object_get(body, "env"),
							      "SKYFS_HOST_KEY")), "QUJD");
	assert_string_equal(json_string_value(json_object_get(body, "onstart")), "echo hi");
	assert_null(json_object_get(body, "price"));   /* on demand: no bid */
	json_decref(body);
	r.price = 0.21;
	body = vastai_rent_body(&r);
	assert_true(json_real_value(json_object_get(body, "price")) == 0.21);
	json_decref(body);

	doc = parse("{\"success\":true,\"new_contract\":1234568}");
	assert_int_equal(vastai_parse_new_contract(doc, &id), 0);
	assert_int_equal(id, 1234568);
	json_decref(doc);
	doc = parse("{\"success\":true}");
	assert_int_equal(vastai_parse_new_contract(doc, &id), -EPROTO);
	json_decref(doc);
}

static void test_instances_object_and_list(void **state)
{
	struct vastai_instance *in = NULL;
	char host[128];
	size_t n = 0;
	int port = 0;
	json_t *doc;

	(void)state;
	/* GET /instances/{id}/: one object */
	doc = parse("{\"instances\":{\"id\":1234568,\"actual_status\":null,"
		    "\"intended_status\":\"running\",\"label\":\"skyfs-p-1-0\","
		    "\"ssh_host\":null,\"ssh_port\":null,\"public_ipaddr\":null}}");
	assert_int_equal(vastai_parse_instances(doc, &in, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(in[0].id, 1234568);
	assert_string_equal(in[0].actual_status, "");
	assert_string_equal(in[0].label, "skyfs-p-1-0");
	assert_false(vastai_failed(&in[0]));
	assert_int_equal(vastai_ssh_endpoint(&in[0], host, sizeof(host), &port), -ENOENT);
	free(in);
	json_decref(doc);

	/* the listing: an array; direct ports win over the proxy */
	doc = parse("{\"instances\":[\n"
		    " {\"id\":1,\"actual_status\":\"running\",\"label\":\"skyfs-p-1-0\","
		    "  \"ssh_host\":\"ssh5.vast.ai\",\"ssh_port\":12345,"
		    "  \"public_ipaddr\":\"203.0.113.42\","
		    "  \"ports\":{\"22/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"20000\"}]}},\n"
		    " {\"id\":2,\"actual_status\":\"loading\",\"ssh_host\":\"ssh6.vast.ai\","
		    "  \"ssh_port\":\"23456\",\"public_ipaddr\":\"203.0.113.7\"},\n"
		    " {\"id\":3,\"actual_status\":\"exited\",\"status_msg\":\"Error: oom\","
		    "  \"label\":null},\n"
		    " {\"id\":4,\"actual_status\":\"offline\"},\n"
		    " {\"no\":\"id\"}\n"
		    "]}");
	assert_int_equal(vastai_parse_instances(doc, &in, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(vastai_ssh_endpoint(&in[0], host, sizeof(host), &port), 0);
	assert_string_equal(host, "203.0.113.42");
	assert_int_equal(port, 20000);
	/* no 22/tcp mapping: the proxy (a port given as a string too) */
	assert_int_equal(vastai_ssh_endpoint(&in[1], host, sizeof(host), &port), 0);
	assert_string_equal(host, "ssh6.vast.ai");
	assert_int_equal(port, 23456);
	assert_false(vastai_failed(&in[1]));
	assert_true(vastai_failed(&in[2]));
	assert_string_equal(in[2].status_msg, "Error: oom");
	assert_string_equal(in[2].label, "");
	assert_true(vastai_failed(&in[3]));
	free(in);
	json_decref(doc);

	doc = parse("{\"instances\":null}");
	assert_int_equal(vastai_parse_instances(doc, &in, &n), 0);
	assert_int_equal(n, 0);
	free(in);
	json_decref(doc);
	doc = parse("{\"success\":true}");
	assert_int_equal(vastai_parse_instances(doc, &in, &n), -EPROTO);
	json_decref(doc);
}

/* Numbers no int holds (or NaN, as a string) read as absent: converting
 * them was undefined behaviour (found by tests/fuzz/fuzz_vastai). */
static void test_numbers_out_of_range(void **state)
{
	struct vastai_ask *a = NULL;
	struct vastai_instance *in = NULL;
	long long id;
	size_t n = 0;
	json_t *doc;

	(void)state;
	doc = parse("{\"offers\":[{\"id\":1e300,\"gpu_name\":\"RTX 4090\",\"num_gpus\":1},"
		    "{\"id\":7,\"gpu_name\":\"RTX 4090\",\"num_gpus\":1,\"gpu_ram\":3.2e12,"
		    "\"cpu_cores_effective\":-1e20,\"cpu_cores\":\"nan\",\"cpu_ram\":1e300}]}");
	assert_int_equal(vastai_parse_asks(doc, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].id, 7);
	assert_int_equal(a[0].gpu_ram_mb, 0);
	assert_int_equal(a[0].vcpus, 0);
	assert_int_equal(a[0].memory_gb, 0);
	free(a);
	json_decref(doc);
	doc = parse("{\"success\":true,\"new_contract\":1e19}");
	assert_int_equal(vastai_parse_new_contract(doc, &id), -EPROTO);
	json_decref(doc);
	doc = parse("{\"instances\":{\"id\":5,\"ssh_port\":1e10,"
		    "\"ports\":{\"22/tcp\":[{\"HostPort\":\"-3e9\"}]}}}");
	assert_int_equal(vastai_parse_instances(doc, &in, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(in[0].ssh_port, 0);
	assert_int_equal(in[0].direct_port, 0);
	free(in);
	json_decref(doc);
}

/* The onstart command installs the key and removes the image's, for real
 * in a scratch directory (the restart is left out: it would signal this
 * machine's sshd). */
static void test_onstart(void **state)
{
	char dir[] = "/tmp/skyfs-vastai-XXXXXX", cmd[2048], path[512], *text = NULL;
	const char *key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n"
			  "-----END OPENSSH PRIVATE KEY-----\n";
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(vastai_onstart(cmd, sizeof(cmd), "/etc/ssh", VASTAI_SSHD_RESTART), 0);
	assert_non_null(strstr(cmd, "$SKYFS_HOST_KEY"));
	assert_non_null(strstr(cmd, "ssh_host_ed25519_key"));
	assert_non_null(strstr(cmd, "sshd"));
	assert_int_equal(vastai_onstart(cmd, 16, "/etc/ssh", "true"), -ENOSPC);
	assert_int_equal(vastai_onstart(cmd, sizeof(cmd), "/tmp/it's", "true"), -EINVAL);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ssh_host_rsa_key", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(vastai_onstart(cmd, sizeof(cmd), dir, "echo restarted > \"$d/r\""), 0);
	{
		struct sky_buf sh = { 0 };

		/* base64 of the key, as the env carries it */
		sky_buf_printf(&sh, "SKYFS_HOST_KEY=$(printf '%%s' '%s' | base64 -w0) sh -c ", key);
		sky_buf_shquote(&sh, cmd);
		assert_int_equal(system(sh.data), 0);
		sky_buf_free(&sh);
	}
	assert_int_equal(access(path, F_OK), -1);      /* the image's key is gone */
	snprintf(path, sizeof(path), "%s/ssh_host_ed25519_key", dir);
	assert_int_equal(sky_read_file(path, &text, &len, 4096), 0);
	assert_string_equal(text, key);
	free(text);
	snprintf(path, sizeof(path), "%s/r", dir);
	assert_int_equal(access(path, F_OK), 0);       /* and the restart ran */
	assert_int_equal(sky_rm_rf(dir), 0);
}

/* ---- errors -------------------------------------------------------------------------- */

static enum sky_api_kind classify(long status, const char *body, struct sky_api_error *e)
{
	json_t *doc = body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
	enum sky_api_kind k;

	memset(e, 0, sizeof(*e));
	k = vastai_classify(status, doc, body, e);
	json_decref(doc);
	return k;
}

static void test_errors(void **state)
{
	struct sky_api_error e;

	(void)state;
	assert_int_equal(classify(200, "{\"success\":true,\"new_contract\":5}", &e), SKY_API_OK);
	assert_int_equal(classify(200, "{\"offers\":[]}", &e), SKY_API_OK);
	/* a bad request, with its message */
	assert_int_equal(classify(400, "{\"success\":false,\"error\":\"invalid_args\","
				  "\"msg\":\"disk must be a number\"}", &e), SKY_API_CLIENT);
	assert_string_equal(e.code, "invalid_args");
	assert_string_equal(e.message, "disk must be a number");
	assert_int_equal(sky_api_errno(SKY_API_CLIENT), -EIO);
	/* the ask is gone: the next candidate */
	assert_int_equal(classify(404, "{\"success\":false,\"error\":\"no_such_ask\","
				  "\"msg\":\"Instance type by id 1 is not available.\"}", &e),
			 SKY_API_CAPACITY);
	assert_string_equal(e.code, "no_such_ask");
	assert_int_equal(sky_api_errno(SKY_API_CAPACITY), -EAGAIN);
	assert_int_equal(classify(410, "{\"success\":false,\"msg\":\"gone\"}", &e),
			 SKY_API_CAPACITY);
	assert_int_equal(classify(400, "{\"success\":false,\"error\":\"invalid_price\","
				  "\"msg\":\"bid too low\"}", &e), SKY_API_PRICE);
	/* any other 404: not there */
	assert_int_equal(classify(404, "{\"success\":false,\"error\":\"not_found\"}", &e),
			 SKY_API_NOTFOUND);
	/* a refused key */
	assert_int_equal(classify(401, "{\"success\":false,\"error\":\"invalid_user_key\","
				  "\"msg\":\"Invalid user key\"}", &e), SKY_API_AUTH);
	assert_string_equal(e.message, "Invalid user key");
	assert_int_equal(classify(403, "{\"message\":\"forbidden\"}", &e), SKY_API_AUTH);
	assert_string_equal(e.message, "forbidden");
	/* throttled, as plain text without Retry-After: retried */
	assert_int_equal(classify(429, "API requests too frequent", &e), SKY_API_THROTTLE);
	assert_string_equal(e.code, "");
	assert_true(sky_api_retryable(SKY_API_THROTTLE));
	assert_int_equal(classify(502, "<html>bad gateway</html>", &e), SKY_API_SERVER);
	/* a 200 that says it failed */
	assert_int_equal(classify(200, "{\"success\":false,\"error\":\"no_ssh_key_for_vm\","
				  "\"msg\":\"no key\"}", &e), SKY_API_CLIENT);
	assert_string_equal(e.code, "no_ssh_key_for_vm");
}

/* The key: the environment first, then the file (trimmed), never empty. */
static void test_key(void **state)
{
	char dir[] = "/tmp/skyfs-vastai-XXXXXX", path[512], source[300], msg[256], *key = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("HOME", dir, 1);
	unsetenv("XDG_CONFIG_HOME");
	setenv("VAST_API_KEY", "  from-env\n", 1);
	assert_int_equal(vastai_load_key(&key, source, sizeof(source), msg, sizeof(msg)), 0);
	assert_string_equal(key, "from-env");
	assert_string_equal(source, "environment");
	free(key);
	unsetenv("VAST_API_KEY");
	assert_int_equal(vastai_load_key(&key, source, sizeof(source), msg, sizeof(msg)), -ENOENT);
	assert_null(key);
	assert_non_null(strstr(msg, "VAST_API_KEY"));
	assert_non_null(strstr(msg, "~/.config/vastai/vast_api_key"));
	snprintf(path, sizeof(path), "%s/.config/vastai", dir);
	assert_int_equal(sky_mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.config/vastai/vast_api_key", dir);
	assert_int_equal(sky_write_file_atomic(path, "\n", 1, 0), 0);
	assert_int_equal(vastai_load_key(&key, source, sizeof(source), msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "empty"));
	assert_int_equal(sky_write_file_atomic(path, "abc123 \n", 8, 0), 0);
	assert_int_equal(vastai_load_key(&key, source, sizeof(source), msg, sizeof(msg)), 0);
	assert_string_equal(key, "abc123");
	assert_string_equal(source, "~/.config/vastai/vast_api_key");
	free(key);
	assert_int_equal(sky_rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpu_names),
		cmocka_unit_test(test_bundles_query),
		cmocka_unit_test(test_parse_asks_and_offers),
		cmocka_unit_test(test_rent_body),
		cmocka_unit_test(test_instances_object_and_list),
		cmocka_unit_test(test_numbers_out_of_range),
		cmocka_unit_test(test_onstart),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
