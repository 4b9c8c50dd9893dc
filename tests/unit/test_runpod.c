/* Unit tests for RunPod's GraphQL layer (providers/runpod_api.c): the
 * request bodies (query text and variables) of every operation, the
 * answers parsed from the documented shapes (gpuTypes into offers, a pod's
 * runtime ports), the error table, and the API key's sources. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog/catalog.h"
#include "common/util.h"
#include "providers/json_api.h"
#include "providers/runpod_api.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!j)
		fail_msg("bad JSON in the test: %s: %s", jerr.text, text);
	return j;
}

static json_t *input_of(json_t *body)
{
	json_t *input = json_object_get(json_object_get(body, "variables"), "input");

	assert_non_null(input);
	return input;
}

/* ---- requests -------------------------------------------------------------------- */

static void test_req_deploy_on_demand(void **state)
{
	struct rp_deploy d = { 0 };
	json_t *body, *in, *env;

	(void)state;
	d.cloud = "COMMUNITY";
	d.gpu_type = "NVIDIA GeForce RTX 4090";
	d.gpu_count = 2;
	d.bid_per_gpu = 0.5;              /* ignored: on-demand */
	d.name = "skyfs-train-1a2b3c4d-0badcafe-3";
	d.image = "runpod/base:0.6.2-cuda12.2.0";
	d.public_key = "ssh-ed25519 AAAAC3Nza pool";
	d.host_key_b64 = "LS0tLS1CRUdJTg==";
	d.container_disk_gb = 20;
	body = rp_req_deploy(&d);
	assert_non_null(body);
	assert_non_null(strstr(json_string_value(json_object_get(body, "query")),
			       "mutation Deploy($input: PodFindAndDeployOnDemandInput!) { "
			       "podFindAndDeployOnDemand(input: $input) { id "));
	in = input_of(body);
	assert_string_equal(sky_json_str(in, "cloudType"), "COMMUNITY");
	assert_string_equal(sky_json_str(in, "gpuTypeId"), "NVIDIA GeForce RTX 4090");
	assert_int_equal(json_integer_value(json_object_get(in, "gpuCount")), 2);
	assert_string_equal(sky_json_str(in, "name"), "skyfs-train-1a2b3c4d-0badcafe-3");
	assert_string_equal(sky_json_str(in, "imageName"), "runpod/base:0.6.2-cuda12.2.0");
	assert_string_equal(sky_json_str(in, "ports"), "22/tcp");
	assert_int_equal(json_integer_value(json_object_get(in, "containerDiskInGb")), 20);
	assert_true(json_is_true(json_object_get(in, "startSsh")));
	assert_true(json_is_true(json_object_get(in, "supportPublicIp")));
	assert_null(json_object_get(in, "bidPerGpu"));
	env = json_object_get(in, "env");
	assert_int_equal(json_array_size(env), 2);
	assert_string_equal(sky_json_str(json_array_get(env, 0), "key"), "PUBLIC_KEY");
	assert_string_equal(sky_json_str(json_array_get(env, 0), "value"),
			    "ssh-ed25519 AAAAC3Nza pool");
	assert_string_equal(sky_json_str(json_array_get(env, 1), "key"), "SKYFS_HOST_KEY");
	assert_string_equal(sky_json_str(json_array_get(env, 1), "value"), "LS0tLS1CRUdJTg==");
	/* the start command installs the key as sshd's only one, then the image's */
	assert_string_equal(sky_json_str(in, "dockerArgs"), rp_docker_args);
	assert_non_null(strstr(rp_docker_args, "base64 -d > /etc/ssh/ssh_host_ed25519_key"));
	assert_non_null(strstr(rp_docker_args, "HostKey /etc/ssh/ssh_host_ed25519_key"));
	assert_non_null(strstr(rp_docker_args, "exec env -u SKYFS_HOST_KEY /start.sh"));
	/* values travel as variables only */
	assert_null(strstr(json_string_value(json_object_get(body, "query")), "RTX"));
	json_decref(body);
}

static void test_req_deploy_spot(void **state)
{
	struct rp_deploy d = { 0 };
	json_t *body, *in;

	(void)state;
	d.spot = 1;
	d.cloud = "SECURE";
	d.gpu_type = "NVIDIA A100 80GB PCIe";
	d.gpu_count = 1;
	d.bid_per_gpu = 0.82;
	d.name = "skyfs-p-0";
	d.image = "img";
	d.public_key = "ssh-ed25519 AAAA";
	d.host_key_b64 = "AAAA";
	body = rp_req_deploy(&d);
	assert_non_null(body);
	assert_non_null(strstr(json_string_value(json_object_get(body, "query")),
			       "mutation Rent($input: PodRentInterruptableInput!) { "
			       "podRentInterruptable(input: $input) {"));
	in = input_of(body);
	assert_string_equal(sky_json_str(in, "cloudType"), "SECURE");
	assert_true(json_is_real(json_object_get(in, "bidPerGpu")));
	assert_true(json_real_value(json_object_get(in, "bidPerGpu")) == 0.82);
	json_decref(body);

	/* a missing value is no request, not a null in it */
	d.public_key = NULL;
	assert_null(rp_req_deploy(&d));
}

static void test_req_queries(void **state)
{
	json_t *body;
	const char *q;

	(void)state;
	body = rp_req_pod("ldl1dxirsim64n");
	q = json_string_value(json_object_get(body, "query"));
	assert_non_null(strstr(q, "query Pod($input: PodFilter!) { pod(input: $input) { id name "
			       "desiredStatus runtime { uptimeInSeconds ports { ip isIpPublic "
			       "privatePort publicPort type } } } }"));
	assert_string_equal(sky_json_str(input_of(body), "podId"), "ldl1dxirsim64n");
	json_decref(body);

	body = rp_req_terminate("ldl1dxirsim64n");
	q = json_string_value(json_object_get(body, "query"));
	/* podTerminate returns a scalar: no selection set */
	assert_string_equal(q, "mutation Terminate($input: PodTerminateInput!) { "
			    "podTerminate(input: $input) }");
	assert_string_equal(sky_json_str(input_of(body), "podId"), "ldl1dxirsim64n");
	json_decref(body);

	body = rp_req_pods();
	q = json_string_value(json_object_get(body, "query"));
	assert_non_null(strstr(q, "myself { pods { id name desiredStatus runtime {"));
	assert_null(json_object_get(body, "variables"));
	json_decref(body);

	body = rp_req_gpu_types();
	q = json_string_value(json_object_get(body, "query"));
	assert_non_null(strstr(q, "gpuTypes { id displayName "));
	assert_non_null(strstr(q, "maxGpuCount securePrice communityPrice secureSpotPrice "
			       "communitySpotPrice"));
	json_decref(body);
}

/* ---- gpuTypes into offers ------------------------------------------------------------- */

static const struct sky_offer *find_offer(const struct sky_offer *o, size_t n, const char *type,
					  enum sky_market m, int count)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(o[i].instance_type, type) && o[i].market == m &&
		    o[i].accelerator_count == count)
			return &o[i];
	return NULL;
}

static void test_gpu_types(void **state)
{
	json_t *data = parse(
		"{\"gpuTypes\": ["
		" {\"id\": \"NVIDIA GeForce RTX 4090\", \"displayName\": \"RTX 4090\","
		"  \"memoryInGb\": 24, \"secureCloud\": true, \"communityCloud\": true,"
		"  \"maxGpuCount\": 2, \"securePrice\": 0.69, \"communityPrice\": 0.34,"
		"  \"secureSpotPrice\": 0.35, \"communitySpotPrice\": null},"
		" {\"id\": \"NVIDIA H100 80GB HBM3\", \"displayName\": \"H100 SXM\","
		"  \"secureCloud\": true, \"communityCloud\": false, \"maxGpuCount\": 10,"
		"  \"securePrice\": 2.69, \"communityPrice\": 1.99,"
		"  \"secureSpotPrice\": 0, \"communitySpotPrice\": 1.2},"
		" {\"id\": \"gpu-x1\", \"displayName\": \"A100 SXM4\", \"maxGpuCount\": 1,"
		"  \"securePrice\": 1.5},"
		" {\"id\": \"Some Future GPU\", \"displayName\": \"Future\", \"maxGpuCount\": 1,"
		"  \"communityPrice\": 9.5},"
		" {\"displayName\": \"no id\", \"securePrice\": 1},"
		" {\"id\": \"unpriced\", \"maxGpuCount\": 8}"
		"]}");
	struct sky_offer *o = NULL;
	const struct sky_offer *x;
	size_t n = 0, i;

	(void)state;
	assert_int_equal(rp_parse_gpu_types(data, &o, &n), 0);
	/* 4090: (secure od, secure spot, community od) x counts 1..2; H100:
	 * secure on-demand only (community not offered, no spot) x 1..8; the
	 * last two: one each */
	assert_int_equal(n, 3 * 2 + 8 + 1 + 1);
	x = find_offer(o, n, "NVIDIA GeForce RTX 4090/community", SKY_MARKET_ON_DEMAND, 2);
	assert_non_null(x);
	assert_string_equal(x->provider, "runpod");
	assert_string_equal(x->region, "community");
	assert_string_equal(x->accelerator, "RTX-4090");
	assert_true(x->price_usd_per_hour > 0.679 && x->price_usd_per_hour < 0.681);
	assert_int_equal(x->source, SKY_SOURCE_LIVE);
	x = find_offer(o, n, "NVIDIA GeForce RTX 4090/secure", SKY_MARKET_SPOT, 1);
	assert_non_null(x);
	assert_string_equal(x->region, "secure");
	assert_true(x->price_usd_per_hour == 0.35);
	/* no community spot price: no offer, not an error */
	assert_null(find_offer(o, n, "NVIDIA GeForce RTX 4090/community", SKY_MARKET_SPOT, 1));
	assert_null(find_offer(o, n, "NVIDIA GeForce RTX 4090/secure", SKY_MARKET_ON_DEMAND, 3));
	x = find_offer(o, n, "NVIDIA H100 80GB HBM3/secure", SKY_MARKET_ON_DEMAND, 8);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "H100");
	assert_null(find_offer(o, n, "NVIDIA H100 80GB HBM3/secure", SKY_MARKET_ON_DEMAND, 9));
	assert_null(find_offer(o, n, "NVIDIA H100 80GB HBM3/community", SKY_MARKET_ON_DEMAND, 1));
	assert_null(find_offer(o, n, "NVIDIA H100 80GB HBM3/secure", SKY_MARKET_SPOT, 1));
	/* an unknown id named by its display name; else the id as it is */
	x = find_offer(o, n, "gpu-x1/secure", SKY_MARKET_ON_DEMAND, 1);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "A100");
	x = find_offer(o, n, "Some Future GPU/community", SKY_MARKET_ON_DEMAND, 1);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "Some Future GPU");
	for (i = 0; i < n; i++)
		assert_true(o[i].price_usd_per_hour > 0);
	free(o);
	json_decref(data);

	data = parse("{\"gpuTypes\": null}");
	assert_int_equal(rp_parse_gpu_types(data, &o, &n), -EPROTO);
	json_decref(data);
	data = parse("{\"gpuTypes\": []}");
	assert_int_equal(rp_parse_gpu_types(data, &o, &n), 0);
	assert_int_equal(n, 0);
	free(o);
	json_decref(data);
}

/* Every GPU type of the shipped snapshot, as an id from the API, names the
 * accelerator the snapshot gives it, so live rows replace snapshot rows. */
static void test_snapshot_ids_map(void **state)
{
	struct sky_offer *all = NULL, *o = NULL;
	size_t n_all = 0, n = 0, i, j, checked = 0;

	(void)state;
	assert_int_equal(sky_catalog_offers(&all, &n_all), 0);
	for (i = 0; i < n_all; i++) {
		char id[64], text[256];
		const char *slash = strrchr(all[i].instance_type, '/');
		json_t *data;

		if (strcmp(all[i].provider, "runpod"))
			continue;
		assert_non_null(slash);
		assert_true(!strcmp(slash + 1, all[i].region));
		snprintf(id, sizeof(id), "%.*s", (int)(slash - all[i].instance_type),
			 all[i].instance_type);
		snprintf(text, sizeof(text), "{\"gpuTypes\": [{\"id\": \"%s\", \"maxGpuCount\": 8, "
			 "\"securePrice\": 1, \"communityPrice\": 1}]}", id);
		data = parse(text);
		assert_int_equal(rp_parse_gpu_types(data, &o, &n), 0);
		for (j = 0; j < n; j++)
			if (!strcmp(o[j].instance_type, all[i].instance_type))
				break;
		assert_true(j < n);
		if (strcmp(o[j].accelerator, all[i].accelerator))
			fail_msg("%s: live %s, snapshot %s", id, o[j].accelerator,
				 all[i].accelerator);
		checked++;
		free(o);
		json_decref(data);
	}
	assert_true(checked > 20);
	free(all);
}

/* ---- pods ---------------------------------------------------------------------------- */

static void test_pod_runtime(void **state)
{
	/* the documented answer */
	json_t *data = parse(
		"{\"pod\":{\"id\":\"ldl1dxirsim64n\",\"desiredStatus\":\"RUNNING\",\"runtime\":"
		"{\"uptimeInSeconds\":41,\"ports\":[{\"ip\":\"213.173.108.12\",\"isIpPublic\":true,"
		"\"privatePort\":22,\"publicPort\":17445,\"type\":\"tcp\"}]}}}");
	struct rp_pod p;

	(void)state;
	assert_int_equal(rp_parse_pod_answer(data, &p), 0);
	assert_string_equal(p.id, "ldl1dxirsim64n");
	assert_string_equal(p.status, "RUNNING");
	assert_true(p.has_runtime);
	assert_string_equal(p.ip, "213.173.108.12");
	assert_int_equal(p.port, 17445);
	assert_false(rp_pod_gone(&p));
	json_decref(data);

	/* not up yet */
	data = parse("{\"pod\":{\"id\":\"abc\",\"desiredStatus\":\"RUNNING\",\"runtime\":null}}");
	assert_int_equal(rp_parse_pod_answer(data, &p), 0);
	assert_false(p.has_runtime);
	assert_string_equal(p.ip, "");
	assert_int_equal(p.port, 0);
	json_decref(data);

	/* only the public mapping of 22 counts, wherever it is in the list */
	data = parse(
		"{\"pod\":{\"id\":\"abc\",\"name\":\"skyfs-p-0\",\"desiredStatus\":\"RUNNING\","
		"\"runtime\":{\"ports\":["
		" {\"ip\":\"10.65.0.2\",\"isIpPublic\":false,\"privatePort\":22,\"publicPort\":22,"
		"  \"type\":\"tcp\"},"
		" {\"ip\":\"100.1.2.3\",\"isIpPublic\":true,\"privatePort\":8888,\"publicPort\":1000,"
		"  \"type\":\"http\"},"
		" {\"ip\":\"100.1.2.3\",\"isIpPublic\":true,\"privatePort\":22,\"publicPort\":0,"
		"  \"type\":\"tcp\"},"
		" {\"ip\":\"100.1.2.4\",\"isIpPublic\":true,\"privatePort\":22,\"publicPort\":40022,"
		"  \"type\":\"tcp\"}]}}}");
	assert_int_equal(rp_parse_pod_answer(data, &p), 0);
	assert_string_equal(p.name, "skyfs-p-0");
	assert_string_equal(p.ip, "100.1.2.4");
	assert_int_equal(p.port, 40022);
	json_decref(data);

	/* up, but no public port for SSH */
	data = parse("{\"pod\":{\"id\":\"abc\",\"runtime\":{\"ports\":[{\"ip\":\"10.0.0.1\","
		     "\"isIpPublic\":false,\"privatePort\":22,\"publicPort\":22}]}}}");
	assert_int_equal(rp_parse_pod_answer(data, &p), 0);
	assert_true(p.has_runtime);
	assert_string_equal(p.ip, "");
	json_decref(data);

	/* gone */
	data = parse("{\"pod\":null}");
	assert_int_equal(rp_parse_pod_answer(data, &p), -ENOENT);
	json_decref(data);
	data = parse("{\"pod\":{\"name\":\"no id\"}}");
	assert_int_equal(rp_parse_pod_answer(data, &p), -EPROTO);
	json_decref(data);

	strcpy(p.status, "EXITED");
	assert_true(rp_pod_gone(&p));
	strcpy(p.status, "TERMINATED");
	assert_true(rp_pod_gone(&p));
	strcpy(p.status, "CREATED");
	assert_false(rp_pod_gone(&p));
}

static void test_pods_list(void **state)
{
	json_t *data = parse(
		"{\"myself\":{\"pods\":["
		" {\"id\":\"aaaaaaaaaaaaaa\",\"name\":\"skyfs-p-0\",\"desiredStatus\":\"RUNNING\","
		"  \"runtime\":null},"
		" {\"name\":\"broken\"},"
		" {\"id\":\"bbbbbbbbbbbbbb\",\"name\":\"other\",\"desiredStatus\":\"EXITED\"}]}}");
	struct rp_pod *pods = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(rp_parse_pods(data, &pods, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(pods[0].id, "aaaaaaaaaaaaaa");
	assert_string_equal(pods[1].status, "EXITED");
	free(pods);
	json_decref(data);
	data = parse("{\"myself\":null}");
	assert_int_equal(rp_parse_pods(data, &pods, &n), -EPROTO);
	json_decref(data);
}

static void test_deploy_answer(void **state)
{
	json_t *data;
	char id[64];

	(void)state;
	data = parse("{\"podFindAndDeployOnDemand\":{\"id\":\"x1y2z3\",\"imageName\":\"i\"}}");
	assert_int_equal(rp_parse_deploy(data, id, sizeof(id)), 0);
	assert_string_equal(id, "x1y2z3");
	json_decref(data);
	data = parse("{\"podRentInterruptable\":{\"id\":\"s1\"}}");
	assert_int_equal(rp_parse_deploy(data, id, sizeof(id)), 0);
	assert_string_equal(id, "s1");
	json_decref(data);
	data = parse("{\"podFindAndDeployOnDemand\":null}");
	assert_int_equal(rp_parse_deploy(data, id, sizeof(id)), -EPROTO);
	json_decref(data);
}

/* ---- errors ----------------------------------------------------------------------- */

static enum sky_api_kind classify(long status, const char *text, struct sky_api_error *e)
{
	json_t *body = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	enum sky_api_kind k;

	memset(e, 0, sizeof(*e));
	k = rp_classify(status, body, text, e);
	json_decref(body);
	return k;
}

static void test_classify(void **state)
{
	struct sky_api_error e;

	(void)state;
	/* capacity: HTTP 200 with the code (the documented shape) */
	assert_int_equal(classify(200,
		"{\"errors\":[{\"message\":\"There are no longer any instances available with the "
		"requested specifications. Please refresh and try again.\",\"path\":"
		"[\"podFindAndDeployOnDemand\"],\"extensions\":{\"code\":\"SUPPLY_CONSTRAINT\"}}],"
		"\"data\":{\"podFindAndDeployOnDemand\":null}}", &e), SKY_API_CAPACITY);
	assert_string_equal(e.code, "SUPPLY_CONSTRAINT");
	assert_non_null(strstr(e.message, "no longer any instances available"));
	assert_int_equal(sky_api_errno(SKY_API_CAPACITY), -EAGAIN);
	/* the same message under the catch-all code is capacity too, not a 5xx */
	assert_int_equal(classify(200,
		"{\"errors\":[{\"message\":\"There are no longer any instances available with "
		"enough disk space.\",\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}]}", &e),
		SKY_API_CAPACITY);
	assert_int_equal(classify(200,
		"{\"errors\":[{\"message\":\"Something broke\",\"extensions\":"
		"{\"code\":\"INTERNAL_SERVER_ERROR\"}}]}", &e), SKY_API_SERVER);
	/* a refused key */
	assert_int_equal(classify(401, "{\"errors\":[{\"message\":\"Unauthorized\"}]}", &e),
			 SKY_API_AUTH);
	assert_string_equal(e.message, "HTTP 401: Unauthorized");
	assert_int_equal(classify(401, NULL, &e), SKY_API_AUTH);
	assert_string_equal(e.message, "");   /* sky_api_json fills "HTTP 401: <body>" */
	assert_int_equal(classify(403, "forbidden", &e), SKY_API_AUTH);
	assert_int_equal(classify(200, "{\"errors\":[{\"message\":\"no\",\"extensions\":"
				  "{\"code\":\"UNAUTHENTICATED\"}}]}", &e), SKY_API_AUTH);
	assert_int_equal(sky_api_errno(SKY_API_AUTH), -EACCES);
	/* retried ones */
	assert_int_equal(classify(429, "{\"errors\":[{\"message\":\"Too Many Requests\"}]}", &e),
			 SKY_API_THROTTLE);
	assert_int_equal(classify(500, "Internal Server Error", &e), SKY_API_SERVER);
	assert_int_equal(classify(502, NULL, &e), SKY_API_SERVER);
	assert_true(sky_api_retryable(SKY_API_THROTTLE) && sky_api_retryable(SKY_API_SERVER));
	/* refusals of the request itself */
	assert_int_equal(classify(400,
		"{\"errors\":[{\"message\":\"Cannot query field \\\"podRentInterruptable\\\" on "
		"type \\\"Mutation\\\".\",\"extensions\":{\"code\":\"GRAPHQL_VALIDATION_FAILED\"}}]}",
		&e), SKY_API_CLIENT);
	assert_string_equal(e.code, "GRAPHQL_VALIDATION_FAILED");
	assert_int_equal(classify(200, "{\"errors\":[{\"message\":\"weird\"}],\"data\":null}", &e),
			 SKY_API_CLIENT);
	assert_string_equal(e.message, "weird");
	assert_int_equal(classify(200, "{\"errors\":[{\"message\":\"Pod not found\",\"extensions\":"
				  "{\"code\":\"NOT_FOUND\"}}]}", &e), SKY_API_NOTFOUND);
	assert_int_equal(classify(200, "{\"errors\":[{\"message\":\"Your bid price is below the "
				  "minimum bid price\"}]}", &e), SKY_API_PRICE);
	/* success needs a data object */
	assert_int_equal(classify(200, "{\"data\":{\"podTerminate\":null}}", &e), SKY_API_OK);
	assert_int_equal(classify(200, "{\"result\":1}", &e), SKY_API_CLIENT);
	assert_non_null(strstr(e.message, "without a data object"));
}

/* ---- the API key ------------------------------------------------------------------ */

static void test_config_key(void **state)
{
	char key[64];

	(void)state;
	assert_int_equal(rp_config_key("apikey = \"rp_ABC123\"\n", "default", key, sizeof(key)), 0);
	assert_string_equal(key, "rp_ABC123");
	assert_int_equal(rp_config_key("# runpod\napiurl = \"https://x\"\n  apikey='k2' # c\n",
				       "default", key, sizeof(key)), 0);
	assert_string_equal(key, "k2");
	assert_int_equal(rp_config_key("[default]\napi_key = \"py-key\"\n", "default", key, sizeof(key)), 0);
	assert_string_equal(key, "py-key");
	assert_int_equal(rp_config_key("APIKEY=bare # comment", "default", key, sizeof(key)), 0);
	assert_string_equal(key, "bare");
	/* another profile's key is not ours */
	assert_int_equal(rp_config_key("[work]\napikey = \"other\"\n[ default ]\napikey = \"d\"\n",
				       "default", key, sizeof(key)), 0);
	assert_string_equal(key, "d");
	assert_int_equal(rp_config_key("[work]\napikey = \"other\"\n", "default", key, sizeof(key)), -ENOENT);
	assert_int_equal(rp_config_key("apikeys = \"x\"\napikey = \"\"\n", "default", key, sizeof(key)),
			 -ENOENT);
	assert_int_equal(rp_config_key("apikey = \"unterminated\n", "default", key, sizeof(key)), -ENOENT);
	assert_int_equal(rp_config_key("", "default", key, sizeof(key)), -ENOENT);
	assert_int_equal(rp_config_key("apikey = \"0123456789012345678901234567890123456789"
				       "0123456789012345678901234567890123456789\"", "default", key,
				       sizeof(key)), -ENAMETOOLONG);
	/* a named profile: its section only, never the top level's key */
	assert_int_equal(rp_config_key("apikey = \"top\"\n[default]\napi_key = \"d\"\n"
				       "[work]\napi_key = \"w\"\n[other]\napi_key = \"o\"\n",
				       "work", key, sizeof(key)), 0);
	assert_string_equal(key, "w");
	assert_int_equal(rp_config_key("apikey = \"top\"\n[default]\napi_key = \"d\"\n", "work",
				       key, sizeof(key)), -ENOENT);
	assert_int_equal(rp_config_key("[workshop]\napi_key = \"x\"\n[wor]\napi_key = \"y\"\n",
				       "work", key, sizeof(key)), -ENOENT);
}

static void test_load_key(void **state)
{
	char home[PATH_MAX], path[PATH_MAX + 64], key[RP_KEY_MAX], source[64], msg[400];
	const char *base = getenv("TMPDIR");
	FILE *f;

	(void)state;
	snprintf(home, sizeof(home), "%s/skyfs-test-runpod.XXXXXX", base ? base : "/tmp");
	assert_non_null(mkdtemp(home));
	setenv("HOME", home, 1);
	unsetenv("RUNPOD_API_KEY");
	msg[0] = '\0';
	assert_int_equal(rp_load_key(key, sizeof(key), source, sizeof(source), msg, sizeof(msg)),
			 -ENOENT);
	assert_non_null(strstr(msg, "RUNPOD_API_KEY"));

	snprintf(path, sizeof(path), "%s/.runpod", home);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.runpod/config.toml", home);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("apiurl = \"https://api.runpod.io/graphql\"\n", f);
	fclose(f);
	assert_int_equal(rp_load_key(key, sizeof(key), source, sizeof(source), msg, sizeof(msg)),
			 -ENOENT);
	assert_non_null(strstr(msg, "no apikey line"));

	f = fopen(path, "w");
	fputs("apikey = \"file-key-123\"\n", f);
	fclose(f);
	assert_int_equal(rp_load_key(key, sizeof(key), source, sizeof(source), msg, sizeof(msg)),
			 0);
	assert_string_equal(key, "file-key-123");
	assert_string_equal(source, "~/.runpod/config.toml");

	/* a profile the configuration file names (SKYFS_RUNPOD_PROFILE) */
	f = fopen(path, "w");
	fputs("apikey = \"file-key-123\"\n[work]\napi_key = \"work-key-789\"\n", f);
	fclose(f);
	setenv("SKYFS_RUNPOD_PROFILE", "work", 1);
	assert_int_equal(rp_load_key(key, sizeof(key), source, sizeof(source), msg, sizeof(msg)),
			 0);
	assert_string_equal(key, "work-key-789");
	assert_string_equal(source, "~/.runpod/config.toml [work]");
	setenv("SKYFS_RUNPOD_PROFILE", "play", 1);
	assert_int_equal(rp_load_key(key, sizeof(key), source, sizeof(source), msg, sizeof(msg)),
			 -ENOENT);
	assert_string_equal(msg, "no apikey line in ~/.runpod/config.toml [play]");
	unsetenv("SKYFS_RUNPOD_PROFILE");

	/* the environment wins */
	setenv("RUNPOD_API_KEY", "env-key-456", 1);
	assert_int_equal(rp_load_key(key, sizeof(key), source, sizeof(source), msg, sizeof(msg)),
			 0);
	assert_string_equal(key, "env-key-456");
	assert_string_equal(source, "environment");
	unsetenv("RUNPOD_API_KEY");

	unlink(path);
	snprintf(path, sizeof(path), "%s/.runpod", home);
	rmdir(path);
	rmdir(home);
}

static void test_client_url(void **state)
{
	struct rp_client c;
	char msg[400] = "";

	(void)state;
	setenv("RUNPOD_API_KEY", "k", 1);
	unsetenv("SKYFS_RUNPOD_URL");
	assert_int_equal(rp_client_init(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.url, "https://api.runpod.io/graphql");
	rp_client_fini(&c);
	assert_string_equal(c.key, "");
	setenv("SKYFS_RUNPOD_URL", "http://127.0.0.1:9/graphql", 1);
	assert_int_equal(rp_client_init(&c, msg, sizeof(msg)), 0);
	assert_string_equal(c.url, "http://127.0.0.1:9/graphql");
	rp_client_fini(&c);
	unsetenv("SKYFS_RUNPOD_URL");
	unsetenv("RUNPOD_API_KEY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_req_deploy_on_demand),
		cmocka_unit_test(test_req_deploy_spot),
		cmocka_unit_test(test_req_queries),
		cmocka_unit_test(test_gpu_types),
		cmocka_unit_test(test_snapshot_ids_map),
		cmocka_unit_test(test_pod_runtime),
		cmocka_unit_test(test_pods_list),
		cmocka_unit_test(test_deploy_answer),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_config_key),
		cmocka_unit_test(test_load_key),
		cmocka_unit_test(test_client_url),
	};
	char err[256];

	if (sky_catalog_init(err, sizeof(err))) {
		fprintf(stderr, "catalog: %s\n", err);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
