/* libFuzzer target: Vast.ai's answer parsers (providers/vastai_api.c). The
 * input is an answer body, loaded as providers/json_api.c loads it; the
 * error classifier runs on it for every kind of HTTP status, then every
 * parser, and each ask becomes an offer of both markets (the catalog
 * lookups included). Corpus: tests/fuzz/corpus/vastai. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "providers/vastai_api.h"
#include "fuzz_answer.h"

static const long statuses[] = { 200, 400, 401, 403, 404, 410, 429, 500 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sky_api_error e;
	struct vastai_ask *asks = NULL;
	struct vastai_instance *in = NULL;
	struct sky_offer o;
	char *raw, host[128];
	long long id;
	json_t *doc;
	size_t i, n;
	int port, m;

	if (fuzz_answer(data, size, &raw, &doc))
		return 0;
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		memset(&e, 0, sizeof(e));
		vastai_classify(statuses[i], doc, raw, &e);
	}
	if (!doc) {
		free(raw);
		return 0;
	}
	if (vastai_parse_asks(doc, &asks, &n) == 0)
		for (i = 0; i < n; i++) {
			if (asks[i].id <= 0 || !asks[i].gpu_name[0] || asks[i].num_gpus <= 0)
				abort();
			for (m = 0; m < 2; m++)
				if (vastai_ask_offer(&asks[i], m ? SKY_MARKET_SPOT :
						     SKY_MARKET_ON_DEMAND, &o) == 0 &&
				    !vastai_ask_fits(&asks[i], &o))
					abort();
		}
	free(asks);
	vastai_parse_new_contract(doc, &id);
	if (vastai_parse_instances(doc, &in, &n) == 0)
		for (i = 0; i < n; i++) {
			if (in[i].id <= 0)
				abort();
			if (vastai_ssh_endpoint(&in[i], host, sizeof(host), &port) == 0 &&
			    (!host[0] || port <= 0))
				abort();
			vastai_failed(&in[i]);
		}
	free(in);
	json_decref(doc);
	free(raw);
	return 0;
}
