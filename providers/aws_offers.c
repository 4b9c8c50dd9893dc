/* The aws provider's live offers: current spot prices from
 * DescribeSpotPriceHistory for the instance types the catalog's snapshot
 * lists in the region, one offer per type at its cheapest zone's price.
 * On-demand prices stay the snapshot's (EC2 has no price call). */
#define LOG_MODULE "aws"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "common/log.h"
#include "common/util.h"
#include "providers/aws_internal.h"
#include "scheduler/spec.h"

/* ---- offers: live spot prices --------------------------------------------------- */

/* The region offers are fetched for: the one the spec pins, else the
 * credentials' default. */
static const char *spec_region(const struct sky_spec *spec)
{
	int a, i;

	for (a = 0; spec && a < spec->n_alts; a++)
		for (i = 0; i < spec->alts[a].n_providers; i++) {
			const char *r = spec->alts[a].region;

			if (!strcmp(spec->alts[a].providers[i], "aws") && r[0] &&
			    r[strlen(r) - 1] != '-')
				return r;
		}
	return NULL;
}

/* The snapshot's rows for region, one per instance type (the shapes the
 * live prices are for). */
static int snapshot_types(const char *region, struct sky_offer **out, size_t *n)
{
	struct sky_offer *all = NULL;
	size_t k = 0, i, j;
	int rc;

	if ((rc = sky_catalog_offers(&all, n)))
		return rc;
	for (i = 0; i < *n; i++) {
		if (strcmp(all[i].provider, "aws") || strcmp(all[i].region, region) ||
		    all[i].source != SKY_SOURCE_SNAPSHOT)
			continue;
		for (j = 0; j < k && strcmp(all[j].instance_type, all[i].instance_type); j++)
			;
		if (j == k)
			all[k++] = all[i];
	}
	*out = all;
	*n = k;
	return 0;
}

int aws_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
		      struct sky_err *err)
{
	struct aws_client c;
	struct sky_offer *types = NULL;
	struct aws_spot_price *prices = NULL;
	size_t n_types = 0, n_prices = 0, i, j, k = 0;
	char token[1024] = "", start[32];
	time_t now = time(NULL);
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = aws_client_for(&c, spec_region(spec), err)))
		return rc;
	if ((rc = snapshot_types(c.region, &types, &n_types)) || !n_types)
		goto out;
	strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	do {
		struct sky_buf q = { 0 };
		struct sky_aws_query p = { &q, 0 };
		xmlDoc *doc = NULL;

		for (i = 0; i < n_types; i++) {
			char name[32];

			snprintf(name, sizeof(name), "InstanceType.%zu", i + 1);
			sky_aws_query_add(&p, name, types[i].instance_type);
		}
		sky_aws_query_add(&p, "ProductDescription.1", "Linux/UNIX");
		/* StartTime now: each zone's current price, not its history */
		sky_aws_query_add(&p, "StartTime", start);
		sky_aws_query_add(&p, "MaxResults", "1000");
		if (token[0])
			sky_aws_query_add(&p, "NextToken", token);
		rc = p.rc ? p.rc : aws_pcall(&c, "DescribeSpotPriceHistory", &q, &doc, err,
					"spot prices", NULL);
		sky_buf_free(&q);
		if (!rc)
			rc = aws_parse_spot_prices(doc, &prices, &n_prices, token, sizeof(token));
		xmlFreeDoc(doc);
	} while (!rc && token[0]);
	if (rc)
		goto out;
	/* one spot offer per type: the cheapest zone's price */
	for (i = 0; i < n_types; i++) {
		double best = 0;
		long long when = 0;

		for (j = 0; j < n_prices; j++)
			if (!strcmp(prices[j].type, types[i].instance_type) &&
			    (!best || prices[j].price < best)) {
				best = prices[j].price;
				when = prices[j].when;
			}
		if (!best)
			continue;
		types[k] = types[i];
		types[k].market = SKY_MARKET_SPOT;
		types[k].price_usd_per_hour = best;
		types[k].source = SKY_SOURCE_LIVE;
		types[k].as_of = when ? when : (long long)now;
		types[k].stale = 0;
		k++;
	}
	*out = types;
	*n = k;
	types = NULL;
out:
	free(types);
	free(prices);
	aws_client_fini(&c);
	return rc;
}

