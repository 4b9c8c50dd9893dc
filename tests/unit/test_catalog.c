/* Unit tests for the catalog (catalog/catalog.c): name resolution, families
 * and suggestions over the shipped accelerator table, the shipped offer
 * snapshots, staleness, merging live offers, and the loader's checks (over
 * small tables given through sky_catalog_load). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "catalog/catalog.h"
#include "catalog/embedded.h"
#include "common/util.h"

#define SNAPSHOT_PROVIDERS { "aws", "lambda", "runpod" }

static int setup(void **state)
{
	char err[256] = "";

	(void)state;
	if (sky_catalog_init(err, sizeof(err))) {
		fprintf(stderr, "sky_catalog_init: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sky_catalog_fini();
	return 0;
}

static const char *canonical(const char *name)
{
	const struct sky_accel *a = sky_accel_find(name);

	return a ? a->name : "(none)";
}

static void test_canonical_names(void **state)
{
	static const char *const required[] = {
		"T4", "L4", "A10", "A10G", "A40", "L40S", "V100", "V100-32GB", "A100",
		"A100-80GB", "H100", "H100-PCIE", "H100-NVL", "H200", "B200", "RTX-4090",
		"RTX-3090", "RTX-A6000", "MI300X",
	};
	const struct sky_accel *all;
	size_t n, i;

	(void)state;
	for (i = 0; i < SKY_ARRAY_SIZE(required); i++)
		assert_string_equal(canonical(required[i]), required[i]);
	all = sky_catalog_accels(&n);
	assert_true(n >= SKY_ARRAY_SIZE(required));
	for (i = 0; i < n; i++) {
		assert_ptr_equal(sky_accel_find(all[i].name), &all[i]);
		assert_true(all[i].memory_gb > 0);
		assert_non_null(sky_accel_find(all[i].family));
	}
	assert_int_equal(sky_accel_find("V100")->memory_gb, 16);
	assert_int_equal(sky_accel_find("V100-32GB")->memory_gb, 32);
	assert_int_equal(sky_accel_find("A100")->memory_gb, 40);
	assert_int_equal(sky_accel_find("A100-80GB")->memory_gb, 80);
	assert_string_equal(sky_accel_find("MI300X")->vendor, "AMD");
	assert_string_equal(sky_accel_find("A100-80GB")->family, "A100");
	assert_string_equal(sky_accel_find("V100-32GB")->family, "V100");
	assert_string_equal(sky_accel_find("H100-NVL")->family, "H100");
	assert_string_equal(sky_accel_find("H100-PCIE")->family, "H100");
	assert_string_equal(sky_accel_find("L40S")->family, "L40S");
}

static void test_aliases(void **state)
{
	static const char *const pairs[][2] = {
		{ "nvidia a100 80gb pcie", "A100-80GB" },
		{ "NVIDIA A100 80GB PCIe", "A100-80GB" },
		{ "NVIDIA A100-SXM4-80GB", "A100-80GB" },
		{ "A100-SXM4-40GB", "A100" },
		{ "a100-40gb", "A100" },
		{ "A100 SXM4", "A100" },
		{ "RTX 4090", "RTX-4090" },
		{ "rtx_4090", "RTX-4090" },
		{ "NVIDIA GeForce RTX 4090", "RTX-4090" },
		{ "h100-sxm", "H100" },
		{ "H100 SXM", "H100" },
		{ "NVIDIA H100 80GB HBM3", "H100" },
		{ "NVIDIA H100 PCIe", "H100-PCIE" },
		{ "NVIDIA H100 NVL", "H100-NVL" },
		{ "Tesla T4", "T4" },
		{ "NVIDIA A10G", "A10G" },
		{ "nvidia l4", "L4" },
		{ "Tesla V100-SXM2-16GB", "V100" },
		{ "Tesla V100-SXM2-32GB", "V100-32GB" },
		{ "NVIDIA RTX A6000", "RTX-A6000" },
		{ "AMD Instinct MI300X OAM", "MI300X" },
		{ "  a10  ", "A10" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < SKY_ARRAY_SIZE(pairs); i++)
		assert_string_equal(canonical(pairs[i][0]), pairs[i][1]);
	/* a vendor prefix is dropped only when it is the row's vendor */
	assert_null(sky_accel_find("AMD A100"));
	assert_null(sky_accel_find(NULL));
	assert_null(sky_accel_find(""));
	assert_null(sky_accel_find(" - "));
	assert_null(sky_accel_find("A100-80"));
	assert_null(sky_accel_find("NVIDIA"));
}

static void test_families(void **state)
{
	static const struct {
		const char *request, *canonical;
		int accepts;
	} cases[] = {
		{ "A100", "A100", 1 },
		{ "A100", "A100-80GB", 1 },
		{ "a100", "A100-80GB", 1 },
		{ "NVIDIA A100", "A100-80GB", 1 },
		{ "A100-80GB", "A100-80GB", 1 },
		{ "A100-80GB", "A100", 0 },
		{ "nvidia a100 80gb pcie", "A100-80GB", 1 },
		{ "nvidia a100 80gb pcie", "A100", 0 },
		{ "a100-40gb", "A100", 1 },
		{ "a100-40gb", "A100-80GB", 0 },
		{ "A100-40GB", "A100-80GB", 0 },
		{ "H100", "H100", 1 },
		{ "H100", "H100-PCIE", 1 },
		{ "H100", "H100-NVL", 1 },
		{ "h100", "H100-NVL", 1 },
		{ "H100", "H200", 0 },
		{ "H100-NVL", "H100-NVL", 1 },
		{ "H100-NVL", "H100", 0 },
		{ "H100-NVL", "H100-PCIE", 0 },
		{ "H100-SXM", "H100", 1 },
		{ "H100-SXM", "H100-PCIE", 0 },
		{ "V100", "V100-32GB", 1 },
		{ "V100-32GB", "V100", 0 },
		{ "T4", "A100", 0 },
		{ "A10", "A10G", 0 },
		{ "A10G", "A10", 0 },
		{ "L40", "L40S", 0 },
		/* the offer side may be a device name the catalog maps */
		{ "A100", "NVIDIA A100-SXM4-80GB", 1 },
		{ "RTX-4090", "RTX 4090", 1 },
		/* unknown on either side: never */
		{ "nonsense", "A100", 0 },
		{ "A100", "nonsense", 0 },
		{ "nonsense", "nonsense", 0 },
		{ "", "A100", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < SKY_ARRAY_SIZE(cases); i++) {
		if (sky_accel_accepts(cases[i].request, cases[i].canonical) != cases[i].accepts)
			fail_msg("accepts(\"%s\", \"%s\") != %d", cases[i].request,
				 cases[i].canonical, cases[i].accepts);
	}
	assert_int_equal(sky_accel_accepts(NULL, "A100"), 0);
	assert_int_equal(sky_accel_accepts("A100", NULL), 0);
}

static void test_suggest(void **state)
{
	char buf[128];

	(void)state;
	assert_null(sky_accel_find("A100-80G"));
	sky_accel_suggest("A100-80G", buf, sizeof(buf));
	assert_true(!strncmp(buf, "A100-80GB", 9));
	assert_true(buf[9] == '\0' || buf[9] == ',');

	assert_null(sky_accel_find("H10"));
	sky_accel_suggest("H10", buf, sizeof(buf));
	assert_true(!strncmp(buf, "H100", 4) && (buf[4] == '\0' || buf[4] == ','));
	assert_non_null(strstr(buf, "H100-"));   /* the other variants follow */

	sky_accel_suggest("nonsense", buf, sizeof(buf));
	assert_string_equal(buf, "");
	sky_accel_suggest("", buf, sizeof(buf));
	assert_string_equal(buf, "");
	sky_accel_suggest(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "");

	/* separators and a vendor prefix do not spoil the distance */
	sky_accel_suggest("nvidia a100_80g", buf, sizeof(buf));
	assert_true(!strncmp(buf, "A100-80GB", 9));
	sky_accel_suggest("RTX-409", buf, sizeof(buf));
	assert_true(!strncmp(buf, "RTX-4090", 8));
	sky_accel_suggest("H1OO", buf, sizeof(buf));
	assert_true(!strncmp(buf, "H100", 4));

	/* at most three, comma separated */
	sky_accel_suggest("H1", buf, sizeof(buf));
	assert_non_null(strstr(buf, ", "));
	assert_null(strstr(strstr(strstr(buf, ", ") + 2, ", ") + 2, ", "));

	/* a buffer too small for a whole name gets none rather than a part */
	sky_accel_suggest("A100-80G", buf, 5);
	assert_string_equal(buf, "");
	sky_accel_suggest("A100-80G", buf, 10);
	assert_string_equal(buf, "A100-80GB");
	buf[0] = 'x';
	sky_accel_suggest("A100-80G", buf, 0);
	assert_int_equal(buf[0], 'x');
}

/* Prices compare within a millionth of a dollar (the tables hold 4 decimals). */
static int near(double a, double b)
{
	return a - b < 1e-6 && b - a < 1e-6;
}

static long long date_epoch(const char *date)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(date, "%Y-%m-%d", &tm));
	return (long long)timegm(&tm);
}

static const struct sky_offer *find_offer(const struct sky_offer *o, size_t n, const char *provider,
					  const char *type, const char *region, int count,
					  enum sky_market market)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(o[i].provider, provider) && !strcmp(o[i].instance_type, type) &&
		    !strcmp(o[i].region, region) && o[i].accelerator_count == count &&
		    o[i].market == market)
			return &o[i];
	return NULL;
}

static void test_snapshot_offers(void **state)
{
	static const char *const aws_types[] = {
		"p5.48xlarge", "p4d.24xlarge", "p4de.24xlarge", "g5.xlarge", "g5.2xlarge",
		"g5.12xlarge", "g5.48xlarge", "g6.xlarge", "g6.12xlarge", "g6.48xlarge",
		"g4dn.xlarge", "g4dn.12xlarge", "p3.2xlarge", "p3.8xlarge", "p3.16xlarge",
	};
	struct sky_offer *o;
	size_t n, i, aws_spot = 0, lambda = 0, runpod = 0, checked = 0;
	const struct sky_offer *x;

	(void)state;
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_true(n > 100);
	for (i = 0; i < n; i++) {
		const struct sky_catalog_provider *p = sky_catalog_provider(o[i].provider);

		assert_non_null(p);
		assert_false(p->live_only);
		assert_int_equal(o[i].source, SKY_SOURCE_SNAPSHOT);
		assert_int_equal(o[i].as_of, date_epoch(p->snapshot_date));
		assert_int_equal(o[i].shareable, 0);
		assert_true(o[i].price_usd_per_hour > 0);
		assert_true(o[i].vcpus >= 0 && o[i].memory_gb >= 0);
		assert_true(o[i].accelerator_count > 0);
		/* every snapshot accelerator is a canonical name */
		assert_string_equal(canonical(o[i].accelerator), o[i].accelerator);
		if (!strcmp(o[i].provider, "aws") && o[i].market == SKY_MARKET_SPOT)
			aws_spot++;
		if (!strcmp(o[i].provider, "lambda")) {
			lambda++;
			assert_int_equal(o[i].market, SKY_MARKET_ON_DEMAND);
		}
		if (!strcmp(o[i].provider, "runpod")) {
			const struct sky_offer *one;

			runpod++;
			assert_true(!strcmp(o[i].region, "secure") ||
				    !strcmp(o[i].region, "community"));
			assert_non_null(strstr(o[i].instance_type, o[i].region));
			/* a node of k GPUs costs k times one GPU (a refreshed
			 * snapshot may lack some 1-GPU rows) */
			one = find_offer(o, n, "runpod", o[i].instance_type, o[i].region, 1,
					 o[i].market);
			if (one) {
				assert_true(near(o[i].price_usd_per_hour,
						 one->price_usd_per_hour * o[i].accelerator_count));
				checked++;
			}
		}
		assert_string_not_equal(o[i].provider, "vastai");
	}
	assert_true(aws_spot > 0);
	assert_true(lambda > 0);
	assert_true(runpod > 0 && checked > runpod / 2);
	for (i = 0; i < SKY_ARRAY_SIZE(aws_types); i++) {
		assert_non_null(find_offer(o, n, "aws", aws_types[i], "us-east-1",
					   find_offer(o, n, "aws", aws_types[i], "us-east-1",
						      8, SKY_MARKET_ON_DEMAND) ? 8 :
					   find_offer(o, n, "aws", aws_types[i], "us-east-1",
						      4, SKY_MARKET_ON_DEMAND) ? 4 : 1,
					   SKY_MARKET_ON_DEMAND));
	}
	x = find_offer(o, n, "aws", "p4de.24xlarge", "us-east-1", 8, SKY_MARKET_ON_DEMAND);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "A100-80GB");
	x = find_offer(o, n, "aws", "g5.xlarge", "eu-west-1", 1, SKY_MARKET_SPOT);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "A10G");
	x = find_offer(o, n, "aws", "g4dn.xlarge", "us-west-2", 1, SKY_MARKET_ON_DEMAND);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "T4");
	x = find_offer(o, n, "runpod", "NVIDIA A100 80GB PCIe/secure", "secure", 8,
		       SKY_MARKET_ON_DEMAND);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "A100-80GB");
	x = find_offer(o, n, "lambda", "gpu_8x_h100_sxm5", "us-east-1", 8, SKY_MARKET_ON_DEMAND);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "H100");
	free(o);
}

static size_t count_stale(void)
{
	struct sky_offer *o;
	size_t n, i, stale = 0;

	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	for (i = 0; i < n; i++)
		stale += o[i].stale != 0;
	free(o);
	return stale;
}

static void test_staleness(void **state)
{
	struct sky_offer *o, live;
	size_t n, i;

	(void)state;
	assert_int_equal(sky_catalog_max_age(), 30L * 86400);
	sky_catalog_set_max_age(LONG_MAX);
	assert_int_equal(sky_catalog_max_age(), LONG_MAX);
	assert_int_equal(count_stale(), 0);

	sky_catalog_set_max_age(1);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	for (i = 0; i < n; i++)
		assert_true(o[i].stale);
	free(o);

	/* live rows are never flagged, however old the max age makes them */
	memset(&live, 0, sizeof(live));
	snprintf(live.instance_type, sizeof(live.instance_type), "x1");
	snprintf(live.region, sizeof(live.region), "r1");
	live.price_usd_per_hour = 1;
	assert_int_equal(sky_catalog_merge_live("aws", &live, 1, time(NULL) - 100, 0), 0);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(o[i].stale, o[i].source == SKY_SOURCE_SNAPSHOT);
	free(o);

	sky_catalog_set_max_age(30L * 86400);
	assert_int_equal(sky_catalog_merge_live("aws", NULL, 0, time(NULL), 0), 0);
}

static struct sky_offer live_offer(const char *type, const char *region, const char *accel,
				   int count, enum sky_market market, double price)
{
	struct sky_offer o;

	memset(&o, 0, sizeof(o));
	snprintf(o.provider, sizeof(o.provider), "whatever");
	snprintf(o.instance_type, sizeof(o.instance_type), "%s", type);
	snprintf(o.region, sizeof(o.region), "%s", region);
	snprintf(o.accelerator, sizeof(o.accelerator), "%s", accel);
	o.accelerator_count = count;
	o.market = market;
	o.price_usd_per_hour = price;
	o.vcpus = 4;
	o.memory_gb = 16;
	o.stale = 1;
	return o;
}

static size_t count_key(const struct sky_offer *o, size_t n, const char *provider,
			const char *type, const char *region, int count, enum sky_market market)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += !strcmp(o[i].provider, provider) && !strcmp(o[i].instance_type, type) &&
		     !strcmp(o[i].region, region) && o[i].accelerator_count == count &&
		     o[i].market == market;
	return k;
}

static void test_merge_live(void **state)
{
	const time_t fetched = 1900000000;
	struct sky_offer first[2], second[1], *o;
	const struct sky_offer *x;
	size_t n0, n;

	(void)state;
	assert_int_equal(sky_catalog_offers(&o, &n0), 0);
	x = find_offer(o, n0, "aws", "g5.xlarge", "us-east-1", 1, SKY_MARKET_ON_DEMAND);
	assert_non_null(x);
	assert_true(!near(x->price_usd_per_hour, 0.5));
	free(o);

	/* same key as a snapshot row, with a device name to map; and a new
	 * row whose device the catalog does not know */
	first[0] = live_offer("g5.xlarge", "us-east-1", "NVIDIA A10G", 1, SKY_MARKET_ON_DEMAND, 0.5);
	first[1] = live_offer("g7.xlarge", "us-east-1", "Fancy GPU 9000", 1, SKY_MARKET_SPOT, 0.25);
	first[1].as_of = 1800000000;
	assert_int_equal(sky_catalog_merge_live("aws", first, 2, fetched, 0), 0);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_int_equal(n, n0 + 1);
	assert_int_equal(count_key(o, n, "aws", "g5.xlarge", "us-east-1", 1, SKY_MARKET_ON_DEMAND), 1);
	x = find_offer(o, n, "aws", "g5.xlarge", "us-east-1", 1, SKY_MARKET_ON_DEMAND);
	assert_int_equal(x->source, SKY_SOURCE_LIVE);
	assert_true(near(x->price_usd_per_hour, 0.5));
	assert_string_equal(x->accelerator, "A10G");
	assert_int_equal(x->as_of, (long long)fetched);
	assert_int_equal(x->stale, 0);
	/* the other market of that shape stays the snapshot's */
	x = find_offer(o, n, "aws", "g5.xlarge", "us-east-1", 1, SKY_MARKET_SPOT);
	assert_non_null(x);
	assert_int_equal(x->source, SKY_SOURCE_SNAPSHOT);
	x = find_offer(o, n, "aws", "g7.xlarge", "us-east-1", 1, SKY_MARKET_SPOT);
	assert_non_null(x);
	assert_string_equal(x->provider, "aws");
	assert_string_equal(x->accelerator, "Fancy GPU 9000");
	assert_int_equal(x->as_of, 1800000000);
	free(o);

	/* the count is part of the key: a live RunPod 1x row leaves the 2x
	 * snapshot row alone */
	second[0] = live_offer("NVIDIA H100 80GB HBM3/secure", "secure", "NVIDIA H100 80GB HBM3", 1,
			       SKY_MARKET_ON_DEMAND, 2.0);
	assert_int_equal(sky_catalog_merge_live("runpod", second, 1, fetched, 0), 0);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_int_equal(n, n0 + 1);
	x = find_offer(o, n, "runpod", "NVIDIA H100 80GB HBM3/secure", "secure", 1,
		       SKY_MARKET_ON_DEMAND);
	assert_int_equal(x->source, SKY_SOURCE_LIVE);
	assert_string_equal(x->accelerator, "H100");
	x = find_offer(o, n, "runpod", "NVIDIA H100 80GB HBM3/secure", "secure", 2,
		       SKY_MARKET_ON_DEMAND);
	assert_int_equal(x->source, SKY_SOURCE_SNAPSHOT);
	free(o);

	/* a second merge replaces the first live set of that provider whole */
	second[0] = live_offer("p5.48xlarge", "us-west-2", "H100", 8, SKY_MARKET_SPOT, 20.0);
	assert_int_equal(sky_catalog_merge_live("aws", second, 1, fetched + 60, 0), 0);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_int_equal(n, n0);
	assert_null(find_offer(o, n, "aws", "g7.xlarge", "us-east-1", 1, SKY_MARKET_SPOT));
	x = find_offer(o, n, "aws", "g5.xlarge", "us-east-1", 1, SKY_MARKET_ON_DEMAND);
	assert_int_equal(x->source, SKY_SOURCE_SNAPSHOT);
	x = find_offer(o, n, "aws", "p5.48xlarge", "us-west-2", 8, SKY_MARKET_SPOT);
	assert_int_equal(x->source, SKY_SOURCE_LIVE);
	assert_int_equal(x->as_of, (long long)fetched + 60);
	/* the runpod set was not touched */
	x = find_offer(o, n, "runpod", "NVIDIA H100 80GB HBM3/secure", "secure", 1,
		       SKY_MARKET_ON_DEMAND);
	assert_int_equal(x->source, SKY_SOURCE_LIVE);
	free(o);

	/* a live-only provider's offers are all live */
	second[0] = live_offer("12345678", "US", "RTX 4090", 1, SKY_MARKET_ON_DEMAND, 0.42);
	assert_int_equal(sky_catalog_merge_live("vastai", second, 1, fetched, 0), 0);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_int_equal(n, n0 + 1);
	x = find_offer(o, n, "vastai", "12345678", "US", 1, SKY_MARKET_ON_DEMAND);
	assert_non_null(x);
	assert_string_equal(x->accelerator, "RTX-4090");
	free(o);

	/* empty sets: back to the snapshot */
	assert_int_equal(sky_catalog_merge_live("aws", NULL, 0, fetched, 0), 0);
	assert_int_equal(sky_catalog_merge_live("runpod", NULL, 0, fetched, 0), 0);
	assert_int_equal(sky_catalog_merge_live("vastai", NULL, 0, fetched, 0), 0);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_int_equal(n, n0);
	assert_int_equal(count_key(o, n, "aws", "g5.xlarge", "us-east-1", 1, SKY_MARKET_ON_DEMAND), 1);
	free(o);

	assert_int_equal(sky_catalog_merge_live(NULL, second, 1, fetched, 0), -EINVAL);
	assert_int_equal(sky_catalog_merge_live("", second, 1, fetched, 0), -EINVAL);
	assert_int_equal(sky_catalog_merge_live("aws", NULL, 1, fetched, 0), -EINVAL);
	assert_int_equal(sky_catalog_merge_live("a-provider-name-of-more-than-31-bytes", second, 1,
						fetched, 0), -EINVAL);
	assert_int_equal(sky_catalog_offers(NULL, &n), -EINVAL);
}

/* A complete live answer hides its provider's snapshot rows while it stands. */
static void test_merge_live_complete(void **state)
{
	struct sky_offer *o = NULL, one;
	size_t n = 0, n0, i, lambda_rows = 0;

	(void)state;
	assert_int_equal(sky_catalog_offers(&o, &n0), 0);
	for (i = 0; i < n0; i++)
		lambda_rows += !strcmp(o[i].provider, "lambda");
	free(o);
	assert_true(lambda_rows > 1);
	one = live_offer("gpu_1x_a10", "us-east-1", "A10", 1, SKY_MARKET_ON_DEMAND, 0.7);
	assert_int_equal(sky_catalog_merge_live("lambda", &one, 1, time(NULL), 1), 0);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_int_equal(n, n0 - lambda_rows + 1);
	for (i = 0; i < n; i++)
		if (!strcmp(o[i].provider, "lambda"))
			assert_int_equal(o[i].source, SKY_SOURCE_LIVE);
	free(o);
	/* a failed refresh (no live answer) brings the snapshot back */
	assert_int_equal(sky_catalog_merge_live("lambda", NULL, 0, time(NULL), 0), 0);
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_int_equal(n, n0);
	free(o);
}

static void test_providers(void **state)
{
	static const char *const snap[] = SNAPSHOT_PROVIDERS;
	const struct sky_catalog_provider *p, *all;
	size_t n, i;

	(void)state;
	for (i = 0; i < SKY_ARRAY_SIZE(snap); i++) {
		p = sky_catalog_provider(snap[i]);
		assert_non_null(p);
		assert_false(p->live_only);
		assert_int_equal(strlen(p->snapshot_date), 10);
		assert_true(date_epoch(p->snapshot_date) > date_epoch("2024-01-01"));
	}
	p = sky_catalog_provider("vastai");
	assert_non_null(p);
	assert_true(p->live_only);
	assert_string_equal(p->snapshot_date, "");
	assert_null(sky_catalog_provider("nope"));
	assert_null(sky_catalog_provider(NULL));
	all = sky_catalog_providers(&n);
	assert_int_equal(n, 4);
	for (i = 1; i < n; i++)
		assert_true(strcmp(all[i - 1].name, all[i].name) < 0);
}

/* Names resolve without sky_catalog_init: the tables load on first use. */
static void test_lazy_load(void **state)
{
	char err[64] = "";

	(void)state;
	sky_catalog_fini();
	assert_int_equal(sky_accel_accepts("A100", "A100-80GB"), 1);
	assert_int_equal(sky_catalog_init(err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(canonical("a100-80gb"), "A100-80GB");
}

/* ---- the loader's checks -------------------------------------------- */

static const char good_accels[] =
	"# comment\n"
	"name\tfamily\tvendor\tmemory_gb\taliases\n"
	"X1\tX1\tACME\t16\tACME X-One,x1-16gb\n"
	"X1-32GB\tX1\tACME\t32\t\n"
	"Y2\tY2\tACME\t8\t\n";
static const char good_offers[] =
	"# snapshot 2026-01-02 test figures\n"
	"instance_type\tregion\taccelerator\tcount\tvcpus\tmemory_gb\tondemand_usd_h\tspot_usd_h\n"
	"# a comment between rows\n"
	"\n"
	"big\tr1\tX1-32GB\t2\t8\t64\t2.5\t1\r\n"
	"small\tr1\tX1\t1\t4\t16\t1\t\n";

/* Loads accelerators.tsv = accel and offers-<provider>.tsv = offers; the
 * error message into err. */
static int load2(const char *accel, const char *provider, const char *offers, char *err,
		 size_t len)
{
	char name[64];
	struct sky_embedded_file f[2] = { { "accelerators.tsv", accel }, { name, offers } };

	snprintf(name, sizeof(name), "offers-%s.tsv", provider);
	err[0] = '\0';
	return sky_catalog_load(f, offers ? 2 : 1, err, len);
}

static void expect_error(const char *accel, const char *provider, const char *offers,
			 const char *where, const char *what)
{
	char err[256];

	assert_int_equal(load2(accel, provider, offers, err, sizeof(err)), -EINVAL);
	if (!strstr(err, where) || !strstr(err, what))
		fail_msg("error \"%s\" lacks \"%s\" or \"%s\"", err, where, what);
}

static void test_loader_good(void **state)
{
	struct sky_offer *o;
	size_t n;
	char err[256];
	const struct sky_catalog_provider *p;

	(void)state;
	assert_int_equal(load2(good_accels, "test", good_offers, err, sizeof(err)), 0);
	assert_string_equal(canonical("acme x one"), "X1");
	assert_string_equal(canonical("ACME X1-32GB"), "X1-32GB");
	assert_int_equal(sky_accel_accepts("X1", "X1-32GB"), 1);
	assert_int_equal(sky_accel_accepts("x1-16gb", "X1-32GB"), 0);
	p = sky_catalog_provider("test");
	assert_non_null(p);
	assert_string_equal(p->snapshot_date, "2026-01-02");
	assert_non_null(sky_catalog_provider("vastai"));
	assert_int_equal(sky_catalog_offers(&o, &n), 0);
	assert_int_equal(n, 3);   /* big: on-demand and spot; small: on-demand */
	assert_string_equal(o[0].instance_type, "big");
	assert_int_equal(o[0].market, SKY_MARKET_ON_DEMAND);
	assert_true(near(o[0].price_usd_per_hour, 2.5));
	assert_int_equal(o[1].market, SKY_MARKET_SPOT);
	assert_true(near(o[1].price_usd_per_hour, 1));
	assert_int_equal(o[0].as_of, date_epoch("2026-01-02"));
	assert_int_equal(o[2].vcpus, 4);
	assert_int_equal(o[2].memory_gb, 16);
	free(o);
	sky_catalog_fini();
}

static void test_loader_errors(void **state)
{
	static const char hdr[] =
		"# snapshot 2026-01-02 x\n"
		"instance_type\tregion\taccelerator\tcount\tvcpus\tmemory_gb\tondemand_usd_h\t"
		"spot_usd_h\n";
	char buf[1024];
	char err[256];

	(void)state;
#define ROW(r) (snprintf(buf, sizeof(buf), "%s%s", hdr, r), buf)
	expect_error(good_accels, "t", ROW("a\tr\tZ9\t1\t1\t1\t1\t\n"), "offers-t.tsv:3",
		     "unknown accelerator \"Z9\"");
	expect_error(good_accels, "t", ROW("a\tr\tx1-16gb\t1\t1\t1\t1\t\n"), "offers-t.tsv:3",
		     "not a canonical name (use X1)");
	expect_error(good_accels, "t", ROW("a\tr\tX1\t1\t1\t1\t1\n"), "offers-t.tsv:3",
		     "7 columns, expected 8");
	expect_error(good_accels, "t", ROW("a\tr\tX1\t1\t1\t1\t1\t\t\n"), "offers-t.tsv:3",
		     "9 columns");
	expect_error(good_accels, "t", ROW("a\tr\tX1\t1\t1\t1\t1.2.3\t\n"), "offers-t.tsv:3",
		     "ondemand_usd_h \"1.2.3\"");
	expect_error(good_accels, "t", ROW("a\tr\tX1\t1\t1\t1\t0\t\n"), "offers-t.tsv:3",
		     "ondemand_usd_h");
	expect_error(good_accels, "t", ROW("a\tr\tX1\t1\t1\t1\t1\t-1\n"), "offers-t.tsv:3",
		     "spot_usd_h");
	expect_error(good_accels, "t", ROW("a\tr\tX1\tone\t1\t1\t1\t\n"), "offers-t.tsv:3",
		     "count \"one\"");
	expect_error(good_accels, "t", ROW("a\tr\tX1\t1\t-4\t1\t1\t\n"), "offers-t.tsv:3",
		     "vcpus");
	expect_error(good_accels, "t", ROW("a\tr\tX1\t1\t1\t1 \t1\t\n"), "offers-t.tsv:3",
		     "memory_gb");
	expect_error(good_accels, "t", ROW("a\tr\tX1\t0\t1\t1\t1\t\n"), "offers-t.tsv:3",
		     "count 0");
	expect_error(good_accels, "t", ROW("\tr\tX1\t1\t1\t1\t1\t\n"), "offers-t.tsv:3",
		     "instance_type");
	expect_error(good_accels, "t",
		     ROW("a\tr\tX1\t1\t1\t1\t1\t\n# c\na\tr\tX1\t1\t2\t2\t2\t\n"),
		     "offers-t.tsv:5", "a second row for a in r");
	expect_error(good_accels, "t", "instance_type\tregion\n", "offers-t.tsv:1", "# snapshot");
	expect_error(good_accels, "t", "# snapshot 2026-02-30 x\n", "offers-t.tsv:1",
		     "# snapshot");
	expect_error(good_accels, "t", "# snapshot 2026-1-02 x\n", "offers-t.tsv:1", "# snapshot");
	expect_error(good_accels, "t", "# snapshot 2026-01-02 x\nname\tregion\n", "offers-t.tsv:2",
		     "header");
	expect_error(good_accels, "vastai", hdr, "offers-vastai.tsv", "live-only");
	expect_error(good_accels, "Bad-Name", hdr, "offers-Bad-Name.tsv", "provider name");

#define ACC(rows) "name\tfamily\tvendor\tmemory_gb\taliases\n" rows
	expect_error(ACC("X1\tX1\tACME\t16\n"), "t", NULL, "accelerators.tsv:2",
		     "4 columns, expected 5");
	expect_error(ACC("X1\tX1\tACME\tbig\t\n"), "t", NULL, "accelerators.tsv:2", "memory_gb");
	expect_error(ACC("X1\tX0\tACME\t16\t\n"), "t", NULL, "accelerators.tsv", "family X0");
	expect_error(ACC("X1\tX1\tACME\t16\t\nX2\tx1\tACME\t8\t\n"), "t", NULL, "accelerators.tsv",
		     "X2: family x1 is not spelled as the row X1");
	expect_error(ACC("X1\tX1\tACME\t16\tfoo bar\nX2\tX2\tACME\t16\tFOO_BAR\n"), "t", NULL,
		     "accelerators.tsv", "\"foo-bar\" names both");
	expect_error("name\tfamily\tvendor\tmemory_gb\taliases\nX1\tX1\tACME\t16\ta,b,c,d,e,f,g,h,i\n",
		     "t", NULL, "accelerators.tsv:2", "more than 8 aliases");
	expect_error(ACC("X1\tX1\tACME\t16\ta,,b\n"), "t", NULL, "accelerators.tsv:2", "alias \"\"");
	expect_error("name\tfamily\tvendor\taliases\n", "t", NULL, "accelerators.tsv:1", "header");
	expect_error("# only a comment\n", "t", NULL, "accelerators.tsv", "header");
#undef ROW
#undef ACC
	{
		struct sky_embedded_file f[1] = { { "offers-t.tsv", hdr } };

		assert_int_equal(sky_catalog_load(f, 1, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "accelerators.tsv"));
	}
	{
		struct sky_embedded_file f[2] = { { "accelerators.tsv", good_accels },
						  { "notes.txt", "" } };

		assert_int_equal(sky_catalog_load(f, 2, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "notes.txt"));
	}
	/* a failed load leaves an empty catalog, and init reports the error */
	assert_null(sky_accel_find("X1"));
	assert_int_equal(sky_catalog_init(err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "notes.txt"));
	/* fini goes back to the shipped tables */
	sky_catalog_fini();
	assert_int_equal(sky_catalog_init(err, sizeof(err)), 0);
	assert_string_equal(canonical("A100"), "A100");
}

/* ---- concurrency: merges and readers at once ------------------------ */

static void *merger(void *arg)
{
	const char *provider = arg;
	struct sky_offer o[3];
	int i;

	for (i = 0; i < 300; i++) {
		o[0] = live_offer("g5.xlarge", "us-east-1", "A10G", 1, SKY_MARKET_ON_DEMAND, 0.3);
		o[1] = live_offer("a", "b", "H100", 8, SKY_MARKET_SPOT, 9);
		o[2] = live_offer("c", "d", "", 0, SKY_MARKET_ON_DEMAND, 0.1);
		if (sky_catalog_merge_live(provider, o, (size_t)(i % 4), time(NULL), i & 1))
			return arg;
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct sky_offer *o;
	size_t n;
	int i;

	for (i = 0; i < 300; i++) {
		if (sky_catalog_offers(&o, &n))
			return arg;
		free(o);
		if (!sky_accel_accepts("H100", "H100-NVL"))
			return arg;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	pthread_t t[4];
	void *ret;
	int i;

	(void)state;
	assert_int_equal(pthread_create(&t[0], NULL, merger, "aws"), 0);
	assert_int_equal(pthread_create(&t[1], NULL, merger, "vastai"), 0);
	assert_int_equal(pthread_create(&t[2], NULL, reader, "r1"), 0);
	assert_int_equal(pthread_create(&t[3], NULL, reader, "r2"), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_names),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_snapshot_offers),
		cmocka_unit_test(test_staleness),
		cmocka_unit_test(test_merge_live),
		cmocka_unit_test(test_merge_live_complete),
		cmocka_unit_test(test_providers),
		cmocka_unit_test(test_lazy_load),
		cmocka_unit_test(test_loader_good),
		cmocka_unit_test(test_loader_errors),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
