/* libFuzzer target: slurmrestd's answer parsers (providers/slurm_api.c).
 * The input is an answer body, loaded as providers/json_api.c loads it; the
 * error classifier runs on it for every kind of HTTP status, then every
 * parser (submit, one job, jobs with and without a name prefix, nodes and
 * the offers they make, the first error) and the gres reader on each
 * node's gres. Corpus: tests/fuzz/corpus/slurm. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "providers/slurm_api.h"
#include "fuzz_answer.h"

static const long statuses[] = { 200, 304, 400, 401, 404, 500, 503 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int catalog;
	struct sky_api_error e;
	struct sky_offer *offers = NULL;
	struct slurm_node *nodes = NULL;
	struct slurm_job job, *jobs = NULL;
	char *raw, msg[256], type[64], err[256];
	json_t *doc;
	size_t i, n = 0, k = 0;
	long id;
	int code, count;

	if (!catalog)
		catalog = sky_catalog_init(err, sizeof(err)) == 0 ? 1 : -1;
	if (fuzz_answer(data, size, &raw, &doc))
		return 0;
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		memset(&e, 0, sizeof(e));
		slurm_classify(statuses[i], doc, raw, &e);
		if (strlen(e.message) >= sizeof(e.message) || strlen(e.code) >= sizeof(e.code))
			abort();
	}
	if (!doc) {
		free(raw);
		return 0;
	}
	if (slurm_parse_submit(doc, &id) == 0 && id <= 0)
		abort();
	if (slurm_parse_job(doc, &job) == 0 && !job.state[0])
		abort();
	if (slurm_parse_jobs(doc, "skyfs-", &jobs, &n) == 0)
		for (i = 0; i < n; i++)
			if (strncmp(jobs[i].name, "skyfs-", 6))
				abort();
	free(jobs);
	slurm_parse_error(doc, msg, sizeof(msg), &code);
	if (slurm_parse_nodes(doc, &nodes, &n) == 0) {
		for (i = 0; i < n; i++)
			if (slurm_gres_gpu(nodes[i].gres, type, sizeof(type), &count) == 0 &&
			    count <= 0)
				abort();
		if (slurm_offers_from_nodes(nodes, n, &offers, &k) == 0)
			for (i = 0; i < k; i++)
				if (!offers[i].region[0] || offers[i].accelerator_count < 0)
					abort();
		free(offers);
	}
	free(nodes);
	json_decref(doc);
	free(raw);
	return 0;
}
