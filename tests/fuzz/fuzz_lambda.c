/* libFuzzer target: Lambda Cloud's answer parsers (providers/lambda_api.c).
 * The input is an answer body, loaded as providers/json_api.c loads it; the
 * error classifier runs on it for every kind of HTTP status, then every
 * parser (instance types into offers, with the accelerator name mapping;
 * instances with and without a name prefix; launch ids; SSH keys). Corpus:
 * tests/fuzz/corpus/lambda. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "providers/lambda_api.h"
#include "fuzz_answer.h"

static const long statuses[] = { 200, 400, 401, 403, 404, 429, 500, 503 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sky_api_error e;
	struct sky_offer *offers = NULL;
	struct lambda_instance *in = NULL;
	char *raw, ids[4][64], id[64];
	json_t *doc;
	size_t i, n = 0;

	if (fuzz_answer(data, size, &raw, &doc))
		return 0;
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		memset(&e, 0, sizeof(e));
		lambda_classify(statuses[i], doc, raw, &e);
		if (strpbrk(e.message, "\n\r") || strpbrk(e.code, "\n\r"))
			abort();
	}
	if (!doc) {
		free(raw);
		return 0;
	}
	if (lambda_parse_instance_types(doc, &offers, &n) == 0) {
		if (!offers)
			abort();
		for (i = 0; i < n; i++)
			if (!offers[i].region[0] || offers[i].accelerator_count < 0)
				abort();
	}
	free(offers);
	n = 0;
	if (lambda_parse_instances(doc, NULL, &in, &n) == 0)
		for (i = 0; i < n; i++) {
			if (!in[i].id[0])
				abort();
			lambda_instance_state(in[i].status);
		}
	if (lambda_parse_instances(doc, "skyfs-p", &in, &n) == 0)
		for (i = 0; i < n; i++)
			lambda_instance_state(in[i].status);
	free(in);
	if (lambda_parse_launch(doc, ids, sizeof(ids) / sizeof(ids[0]), &n) == 0 &&
	    n > sizeof(ids) / sizeof(ids[0]))
		abort();
	lambda_parse_ssh_key(doc, id, sizeof(id));
	lambda_find_ssh_key(doc, "skyfs-p", id, sizeof(id));
	json_decref(doc);
	free(raw);
	return 0;
}
