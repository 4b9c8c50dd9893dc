/* libFuzzer target: RunPod's answer parsers (providers/runpod_api.c). The
 * input is an answer body, loaded as providers/json_api.c loads it; the
 * error classifier runs on it for every kind of HTTP status, then every
 * parser on its "data" object (or on the whole document when it has none:
 * the unit tests' fixtures are bare data objects). The raw text also goes
 * through rp_config_key(), the ~/.runpod/config.toml reader. Corpus:
 * tests/fuzz/corpus/runpod. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "providers/runpod_api.h"
#include "fuzz_answer.h"

static const long statuses[] = { 200, 400, 401, 403, 404, 429, 500, 503 };

static void check_pod(const struct rp_pod *p)
{
	if (!p->id[0] || p->port < 0 || p->port > 65535 || (p->port && !p->ip[0]))
		abort();
	rp_pod_gone(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sky_api_error e;
	struct sky_offer *offers = NULL;
	struct rp_pod pod, *pods = NULL;
	char *raw, id[64], key[RP_KEY_MAX];
	json_t *doc, *d;
	size_t i, n;

	if (fuzz_answer(data, size, &raw, &doc))
		return 0;
	if (rp_config_key(raw, "default", key, sizeof(key)) == 0 && !memchr(key, '\0', sizeof(key)))
		abort();
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		memset(&e, 0, sizeof(e));
		rp_classify(statuses[i], doc, raw, &e);
	}
	if (!doc) {
		free(raw);
		return 0;
	}
	d = json_is_object(json_object_get(doc, "data")) ? json_object_get(doc, "data") : doc;
	if (rp_parse_gpu_types(d, &offers, &n) == 0)
		for (i = 0; i < n; i++)
			if (offers[i].accelerator_count < 1 || offers[i].accelerator_count > 8 ||
			    !(offers[i].price_usd_per_hour > 0))
				abort();
	free(offers);
	rp_parse_deploy(d, id, sizeof(id));
	if (rp_parse_pod_answer(d, &pod) == 0)
		check_pod(&pod);
	if (rp_parse_pod(d, &pod) == 0)
		check_pod(&pod);
	if (rp_parse_pods(d, &pods, &n) == 0)
		for (i = 0; i < n; i++)
			check_pod(&pods[i]);
	free(pods);
	json_decref(doc);
	free(raw);
	return 0;
}
