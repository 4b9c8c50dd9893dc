/* The vastai provider's offers: one POST /bundles/ per alternative of the
 * spec that names vastai and per market it allows (on demand: type
 * "on-demand", priced at dph_total; spot: type "bid", priced at min_bid),
 * each ask turned into the offer of its machine shape (vastai_api.h:
 * instance type = GPU name, catalog name, count, geolocation, market),
 * the shape priced at its cheapest ask. Live only: Vast.ai is a
 * marketplace and the catalog has no snapshot of it. */
#define LOG_MODULE "vastai"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "common/util.h"
#include "providers/cloud.h"
#include "providers/vastai_api.h"
#include "scheduler/spec.h"

static int names_vastai(const struct sky_request *r)
{
	int i;

	for (i = 0; i < r->n_providers; i++)
		if (!strcasecmp(r->providers[i], "vastai"))
			return 1;
	return 0;
}

/* Adds each ask of the request's accelerator (NULL: any) as market m's
 * offer of its shape, the shape priced at its cheapest ask. */
static int add_offers(struct sky_offer **out, size_t *n, size_t *cap,
		      const struct vastai_ask *asks, size_t na, enum sky_market m, const char *accel)
{
	struct sky_offer o, *x;
	size_t i, j;

	for (i = 0; i < na; i++) {
		if (vastai_ask_offer(&asks[i], m, &o) || (accel && !sky_accel_accepts(accel,
										 o.accelerator)))
			continue;
		for (j = 0; j < *n; j++) {
			x = &(*out)[j];
			if (x->market == m && x->accelerator_count == o.accelerator_count &&
			    !strcmp(x->instance_type, o.instance_type) &&
			    !strcmp(x->accelerator, o.accelerator) && !strcmp(x->region, o.region))
				break;
		}
		if (j < *n) {
			/* every ask of the shape has at least the vcpus and memory shown */
			x = &(*out)[j];
			if (o.price_usd_per_hour < x->price_usd_per_hour)
				x->price_usd_per_hour = o.price_usd_per_hour;
			if (o.vcpus < x->vcpus)
				x->vcpus = o.vcpus;
			if (o.memory_gb < x->memory_gb)
				x->memory_gb = o.memory_gb;
			continue;
		}
		if (*n == *cap) {
			size_t grown = *cap ? 2 * *cap : 32;
			struct sky_offer *p = realloc(*out, grown * sizeof(*p));

			if (!p)
				return -ENOMEM;
			*out = p;
			*cap = grown;
		}
		(*out)[(*n)++] = o;
	}
	return 0;
}

int vastai_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
		  struct sky_err *err)
{
	/* one search per distinct query; alternatives that differ only in what
	 * Vast is not asked (region, nodes) share its answer */
	struct {
		char *query;
		struct vastai_ask *asks;
		size_t n;
	} sent[2 * SKY_SPEC_MAX_ALTS + 2];
	struct vastai_client c;
	char source[300], msg[256], *key = NULL;
	size_t cap = 0, n_sent = 0, i;
	int a, m, rc = 0, any = 0;

	*out = NULL;
	*n = 0;
	for (a = 0; a < spec->n_alts; a++)
		any |= names_vastai(&spec->alts[a]);
	if (!spec->n_alts) {
		/* the catalog's refresh (no spec) asks only a configured account */
		rc = vastai_load_key(&key, source, sizeof(source), msg, sizeof(msg));
		sky_cloud_free_secret(key);
		if (rc)
			return 0;
	} else if (!any) {
		return 0;
	}
	if ((rc = vastai_client_init(&c, err)))
		return rc;
	for (a = spec->n_alts ? 0 : -1; !rc && a < spec->n_alts; a++) {
		const struct sky_request *r = a < 0 ? NULL : &spec->alts[a];

		if (r && !names_vastai(r))
			continue;
		for (m = 0; !rc && m < 2; m++) {
			enum sky_market market = m ? SKY_MARKET_SPOT : SKY_MARKET_ON_DEMAND;
			struct vastai_query q;
			json_t *body;
			char *text;

			if (r && (r->allocation == SKY_ALLOC_SPOT ? !m :
				  r->allocation == SKY_ALLOC_ON_DEMAND ? m : 0))
				continue;
			if (vastai_request_query(r, market, VASTAI_OFFERS_LIMIT, &q))
				continue;
			text = (body = vastai_bundles_query(&q)) ? json_dumps(body, JSON_SORT_KEYS) :
				NULL;
			json_decref(body);
			if (!text) {
				rc = -ENOMEM;
				break;
			}
			for (i = 0; i < n_sent && strcmp(sent[i].query, text); i++)
				;
			if (i < n_sent) {
				free(text);
			} else {
				sent[i].query = text;
				n_sent++;
				rc = vastai_search(&c, &q, &sent[i].asks, &sent[i].n, err);
			}
			if (!rc)
				rc = add_offers(out, n, &cap, sent[i].asks, sent[i].n, market,
						r ? r->accelerator : NULL);
		}
	}
	for (i = 0; i < n_sent; i++) {
		free(sent[i].query);
		free(sent[i].asks);
	}
	vastai_client_fini(&c);
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
