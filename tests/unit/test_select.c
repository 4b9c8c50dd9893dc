/* Unit tests for offer matching, ranking and the walk (catalog/select.c).
 * Offers are built by hand here, not taken from the shipped catalog, and
 * only accelerator names every catalog has canonical (A100, A100-80GB, H100,
 * T4) are used, relying on nothing but: a name accepts itself, "A100"
 * accepts "A100-80GB", "A100-80GB" does not accept "A100", "T4" does not
 * accept "A100". */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog/catalog.h"
#include "catalog/select.h"

#define SPOT SKY_MARKET_SPOT
#define OD SKY_MARKET_ON_DEMAND

static struct sky_offer offer(const char *provider, const char *type, const char *region,
			      const char *accel, int count, enum sky_market market, double price)
{
	struct sky_offer o;

	memset(&o, 0, sizeof(o));
	snprintf(o.provider, sizeof(o.provider), "%s", provider);
	snprintf(o.instance_type, sizeof(o.instance_type), "%s", type);
	snprintf(o.region, sizeof(o.region), "%s", region);
	snprintf(o.accelerator, sizeof(o.accelerator), "%s", accel);
	o.accelerator_count = count;
	o.market = market;
	o.price_usd_per_hour = price;
	return o;
}

/* A request for accel x count on the given providers (NULL-terminated),
 * any region, no cap, one node. */
static struct sky_request request(const char *accel, int count, enum sky_allocation a, ...)
{
	struct sky_request r;
	const char *p;
	va_list ap;

	memset(&r, 0, sizeof(r));
	snprintf(r.accelerator, sizeof(r.accelerator), "%s", accel);
	r.accelerator_count = count;
	r.allocation = a;
	r.nodes = 1;
	va_start(ap, a);
	while ((p = va_arg(ap, const char *)) && r.n_providers < SKY_MAX_PROVIDERS)
		snprintf(r.providers[r.n_providers++], sizeof(r.providers[0]), "%s", p);
	va_end(ap);
	return r;
}

/* Ranks and checks that the instance types come out as listed. */
static void expect_rank(const struct sky_request *reqs, int n_reqs, const struct sky_offer *offers,
			size_t n_offers, const char *const *want, size_t n_want)
{
	struct sky_candidate *c = NULL;
	size_t n = 99, i;

	assert_int_equal(sky_rank(reqs, n_reqs, offers, n_offers, &c, &n), 0);
	assert_int_equal(n, n_want);
	for (i = 0; i < n; i++)
		assert_string_equal(c[i].offer.instance_type, want[i]);
	free(c);
}

static void test_allocation_names(void **state)
{
	static const struct {
		const char *s;
		enum sky_allocation a;
	} ok[] = {
		{ "spot-if-available", SKY_ALLOC_SPOT_IF_AVAILABLE },
		{ "Spot-If-Available", SKY_ALLOC_SPOT_IF_AVAILABLE },
		{ "spot", SKY_ALLOC_SPOT },
		{ "SPOT", SKY_ALLOC_SPOT },
		{ "on-demand", SKY_ALLOC_ON_DEMAND },
		{ "ondemand", SKY_ALLOC_ON_DEMAND },
		{ "on_demand", SKY_ALLOC_ON_DEMAND },
		{ "On-Demand", SKY_ALLOC_ON_DEMAND },
		{ "cheapest", SKY_ALLOC_CHEAPEST },
	};
	static const char *const bad[] = { "", "spot-if", "on demand", "cheap", "spots" };
	enum sky_allocation a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		a = (enum sky_allocation)-1;
		assert_int_equal(sky_allocation_parse(ok[i].s, &a), 0);
		assert_int_equal(a, ok[i].a);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sky_allocation_parse(bad[i], &a), -EINVAL);
	assert_string_equal(sky_allocation_name(SKY_ALLOC_SPOT_IF_AVAILABLE), "spot-if-available");
	assert_string_equal(sky_allocation_name(SKY_ALLOC_SPOT), "spot");
	assert_string_equal(sky_allocation_name(SKY_ALLOC_ON_DEMAND), "on-demand");
	assert_string_equal(sky_allocation_name(SKY_ALLOC_CHEAPEST), "cheapest");
	/* every name parses back to itself */
	for (i = 0; i <= SKY_ALLOC_CHEAPEST; i++) {
		enum sky_allocation want = (enum sky_allocation)i;

		assert_int_equal(sky_allocation_parse(sky_allocation_name(want), &a), 0);
		assert_int_equal(a, want);
	}
}

/* One book for the allocation modes: on-demand is the cheapest market. */
static const struct sky_offer *mixed_book(size_t *n)
{
	static struct sky_offer o[5];

	o[0] = offer("aws", "spot-3", "us-east-1", "A100", 8, SPOT, 3.0);
	o[1] = offer("aws", "od-1", "us-east-1", "A100", 8, OD, 1.0);
	o[2] = offer("aws", "spot-2", "us-east-1", "A100", 8, SPOT, 2.0);
	o[3] = offer("aws", "od-1.5", "us-east-1", "A100", 8, OD, 1.5);
	o[4] = offer("aws", "spot-2.5", "us-east-1", "A100", 8, SPOT, 2.5);
	*n = 5;
	return o;
}

static void test_spot_only(void **state)
{
	static const char *const want[] = { "spot-2", "spot-2.5", "spot-3" };
	struct sky_request r = request("A100", 8, SKY_ALLOC_SPOT, "aws", NULL);
	size_t n;
	const struct sky_offer *o = mixed_book(&n);

	(void)state;
	expect_rank(&r, 1, o, n, want, 3);
}

static void test_on_demand_only(void **state)
{
	static const char *const want[] = { "od-1", "od-1.5" };
	struct sky_request r = request("A100", 8, SKY_ALLOC_ON_DEMAND, "aws", NULL);
	size_t n;
	const struct sky_offer *o = mixed_book(&n);

	(void)state;
	expect_rank(&r, 1, o, n, want, 2);
}

static void test_spot_if_available(void **state)
{
	static const char *const want[] = { "spot-2", "spot-2.5", "spot-3", "od-1", "od-1.5" };
	struct sky_request r = request("A100", 8, SKY_ALLOC_SPOT_IF_AVAILABLE, "aws", NULL);
	struct sky_candidate *c = NULL;
	size_t n, nc, i;
	const struct sky_offer *o = mixed_book(&n);

	(void)state;
	expect_rank(&r, 1, o, n, want, 5);
	assert_int_equal(sky_rank(&r, 1, o, n, &c, &nc), 0);
	for (i = 0; i < nc; i++)
		assert_int_equal(c[i].tier, c[i].offer.market == SPOT ? 0 : 1);
	free(c);
}

static void test_cheapest(void **state)
{
	static const char *const want[] = { "od-1", "od-1.5", "spot-2", "spot-2.5", "spot-3" };
	struct sky_request r = request("A100", 8, SKY_ALLOC_CHEAPEST, "aws", NULL);
	struct sky_candidate *c = NULL;
	size_t n, nc, i;
	const struct sky_offer *o = mixed_book(&n);

	(void)state;
	expect_rank(&r, 1, o, n, want, 5);
	assert_int_equal(sky_rank(&r, 1, o, n, &c, &nc), 0);
	for (i = 0; i < nc; i++)
		assert_int_equal(c[i].tier, 0);
	free(c);
}

/* Three alternatives over different providers and accelerators; the
 * spot-if-available one keeps its on-demand offers behind every spot one,
 * whatever alternative those belong to. */
static void test_alternatives(void **state)
{
	struct sky_offer o[] = {
		offer("aws", "aws-a100-od", "us-east-1", "A100", 8, OD, 20.0),
		offer("aws", "aws-a100-spot", "us-east-1", "A100", 8, SPOT, 9.0),
		offer("runpod", "rp-a100-80", "eu-west-1", "A100-80GB", 8, SPOT, 12.0),
		offer("vastai", "va-a100-80", "us-west-2", "A100-80GB", 8, OD, 7.0),
		offer("vastai", "va-h100", "us-west-2", "H100", 8, SPOT, 15.0),
		offer("lambda", "la-h100", "us-east-1", "H100", 8, OD, 14.0),
		offer("lambda", "la-t4", "us-east-1", "T4", 8, OD, 1.0),
	};
	struct sky_request r[3];
	static const char *const want[] = {
		"va-a100-80",   /* alt 1, 7.00 */
		"aws-a100-spot", /* alt 0, 9.00 */
		"rp-a100-80",   /* alt 0, 12.00: "A100" takes the 80GB variant */
		"la-h100",      /* alt 2, 14.00 */
		"va-h100",      /* alt 2, 15.00 */
		"aws-a100-od",  /* alt 0, on-demand: tier 1 */
	};
	static const int want_alt[] = { 1, 0, 0, 2, 2, 0 };
	struct sky_candidate *c = NULL;
	size_t n, i;

	(void)state;
	r[0] = request("A100", 8, SKY_ALLOC_SPOT_IF_AVAILABLE, "aws", "runpod", NULL);
	r[1] = request("A100-80GB", 8, SKY_ALLOC_CHEAPEST, "vastai", NULL);
	r[2] = request("H100", 8, SKY_ALLOC_CHEAPEST, "vastai", "lambda", NULL);
	r[1].nodes = 4;
	r[2].nodes = 2;
	assert_int_equal(sky_rank(r, 3, o, sizeof(o) / sizeof(o[0]), &c, &n), 0);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++) {
		assert_string_equal(c[i].offer.instance_type, want[i]);
		assert_int_equal(c[i].alternative, want_alt[i]);
		assert_int_equal(c[i].tried, 0);
		assert_int_equal(c[i].in_use, 0);
		assert_string_equal(c[i].reason, "");
	}
	assert_true(c[0].pool_usd_per_hour == 28.0);
	assert_true(c[1].pool_usd_per_hour == 9.0);
	assert_true(c[3].pool_usd_per_hour == 28.0);
	/* order: (alternative, offer) position among the matches */
	assert_int_equal(c[5].order, 0);
	assert_int_equal(c[1].order, 1);
	assert_int_equal(c[2].order, 2);
	assert_int_equal(c[0].order, 3);
	assert_int_equal(c[4].order, 4);
	assert_int_equal(c[3].order, 5);
	free(c);
}

/* The same offer satisfying two alternatives is two candidates. */
static void test_same_offer_twice(void **state)
{
	struct sky_offer o = offer("aws", "p4de", "us-east-1", "A100-80GB", 8, SPOT, 30.0);
	struct sky_request r[2];
	struct sky_candidate *c = NULL;
	size_t n;

	(void)state;
	r[0] = request("A100", 8, SKY_ALLOC_SPOT, "aws", NULL);
	r[1] = request("A100-80GB", 8, SKY_ALLOC_CHEAPEST, "aws", NULL);
	r[1].nodes = 3;
	assert_int_equal(sky_rank(r, 2, &o, 1, &c, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].alternative, 0);
	assert_int_equal(c[1].alternative, 1);
	assert_true(c[0].pool_usd_per_hour == 30.0);
	assert_true(c[1].pool_usd_per_hour == 90.0);
	free(c);
}

/* Equal prices keep the order written: alternative first, then offer. */
static void test_ties(void **state)
{
	struct sky_offer o[] = {
		offer("aws", "a", "us-east-1", "A100", 8, SPOT, 5.0),
		offer("runpod", "b", "us-east-1", "A100", 8, SPOT, 5.0),
		offer("aws", "c", "us-east-1", "A100", 8, SPOT, 5.0),
		offer("runpod", "d", "us-east-1", "A100", 8, SPOT, 4.0),
		offer("aws", "e", "us-east-1", "A100", 8, SPOT, 5.0),
	};
	struct sky_request r[2];
	/* alt 0 (runpod): d b; alt 1 (aws): a c e; all 5.00 except d */
	static const char *const want[] = { "d", "b", "a", "c", "e" };
	struct sky_candidate *c = NULL;
	size_t n, i;

	(void)state;
	r[0] = request("A100", 8, SKY_ALLOC_SPOT, "runpod", NULL);
	r[1] = request("A100", 8, SKY_ALLOC_SPOT, "aws", NULL);
	expect_rank(r, 2, o, 5, want, 5);
	/* a larger pool does not reorder: the key is the node-hour price */
	r[1].nodes = 10;
	expect_rank(r, 2, o, 5, want, 5);

	/* many ties: the ranked order is the written order */
	{
		struct sky_offer many[200];

		for (i = 0; i < 200; i++) {
			many[i] = offer(i % 2 ? "aws" : "runpod", "", "us-east-1", "A100", 8, SPOT,
					1.0);
			snprintf(many[i].instance_type, sizeof(many[i].instance_type), "%zu", i);
		}
		r[1].nodes = 1;
		assert_int_equal(sky_rank(r, 2, many, 200, &c, &n), 0);
		assert_int_equal(n, 200);
		for (i = 0; i < n; i++) {
			assert_int_equal(c[i].order, i);
			assert_int_equal(c[i].alternative, i < 100 ? 0 : 1);
			assert_int_equal((size_t)atoi(c[i].offer.instance_type),
					 i < 100 ? 2 * i : 2 * (i - 100) + 1);
		}
		free(c);
	}
}

static void test_max_price(void **state)
{
	struct sky_offer o[] = {
		offer("aws", "cheap", "us-east-1", "A100", 8, SPOT, 9.99),
		offer("aws", "edge", "us-east-1", "A100", 8, SPOT, 10.0),
		offer("aws", "dear", "us-east-1", "A100", 8, SPOT, 10.01),
	};
	static const char *const capped[] = { "cheap", "edge" };
	static const char *const all[] = { "cheap", "edge", "dear" };
	struct sky_request r = request("A100", 8, SKY_ALLOC_CHEAPEST, "aws", NULL);

	(void)state;
	expect_rank(&r, 1, o, 3, all, 3);
	r.max_price = 10.0;
	expect_rank(&r, 1, o, 3, capped, 2);
	r.max_price = 1.0;
	expect_rank(&r, 1, o, 3, NULL, 0);
}

static void test_region(void **state)
{
	struct sky_offer o = offer("aws", "x", "us-east-1", "A100", 8, SPOT, 1.0);
	struct sky_request r = request("A100", 8, SKY_ALLOC_SPOT, "aws", NULL);
	static const char *const yes[] = { "", "us-east-1", "US-EAST-1", "us-", "US-", "us-east-" };
	static const char *const no[] = {
		"us", "us-east", "us-east-2", "eu-", "us-west-", "us-east-1-",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(r.region, sizeof(r.region), "%s", yes[i]);
		assert_true(sky_offer_matches(&r, &o));
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(r.region, sizeof(r.region), "%s", no[i]);
		assert_false(sky_offer_matches(&r, &o));
	}
}

static void test_vcpus_memory(void **state)
{
	struct sky_offer o = offer("aws", "x", "us-east-1", "A100", 8, SPOT, 1.0);
	struct sky_request r = request("A100", 8, SKY_ALLOC_SPOT, "aws", NULL);

	(void)state;
	o.vcpus = 96;
	o.memory_gb = 1152;
	r.vcpus = 96;
	r.memory_gb = 1152;
	assert_true(sky_offer_matches(&r, &o));
	r.vcpus = 97;
	assert_false(sky_offer_matches(&r, &o));
	r.vcpus = 0;
	r.memory_gb = 1153;
	assert_false(sky_offer_matches(&r, &o));
	/* an offer that does not say passes */
	r.vcpus = 97;
	o.vcpus = 0;
	o.memory_gb = 0;
	assert_true(sky_offer_matches(&r, &o));
}

static void test_shareable(void **state)
{
	struct sky_offer o = offer("local", "local", "", "A100", 4, OD, 0.0);
	struct sky_request r = request("A100", 1, SKY_ALLOC_SPOT_IF_AVAILABLE, "local", NULL);

	(void)state;
	o.shareable = 1;
	for (r.accelerator_count = 1; r.accelerator_count <= 4; r.accelerator_count++)
		assert_true(sky_offer_matches(&r, &o));
	r.accelerator_count = 8;
	assert_false(sky_offer_matches(&r, &o));

	/* a fixed shape must match exactly */
	o.shareable = 0;
	for (r.accelerator_count = 1; r.accelerator_count <= 8; r.accelerator_count++)
		assert_int_equal(sky_offer_matches(&r, &o), r.accelerator_count == 4);
}

static void test_accelerator_none(void **state)
{
	struct sky_offer gpu = offer("aws", "p4d", "us-east-1", "A100", 8, OD, 30.0);
	struct sky_offer cpu = offer("aws", "c7i", "us-east-1", "", 0, OD, 1.0);
	struct sky_request none = request("", 0, SKY_ALLOC_ON_DEMAND, "aws", NULL);
	struct sky_request a100 = request("A100", 8, SKY_ALLOC_ON_DEMAND, "aws", NULL);

	(void)state;
	assert_true(sky_offer_matches(&none, &cpu));
	assert_false(sky_offer_matches(&none, &gpu));
	assert_true(sky_offer_matches(&a100, &gpu));
	assert_false(sky_offer_matches(&a100, &cpu));
	/* "no accelerator" is not "any count of any accelerator" */
	gpu.shareable = 1;
	assert_false(sky_offer_matches(&none, &gpu));
}

static void test_accelerator_names(void **state)
{
	struct sky_offer a100 = offer("aws", "x", "us-east-1", "A100", 8, SPOT, 1.0);
	struct sky_offer a100_80 = offer("aws", "y", "us-east-1", "A100-80GB", 8, SPOT, 1.0);
	struct sky_offer h100 = offer("aws", "z", "us-east-1", "H100", 8, SPOT, 1.0);
	struct sky_request r = request("A100", 8, SKY_ALLOC_SPOT, "aws", NULL);

	(void)state;
	assert_true(sky_offer_matches(&r, &a100));
	assert_true(sky_offer_matches(&r, &a100_80));
	assert_false(sky_offer_matches(&r, &h100));
	snprintf(r.accelerator, sizeof(r.accelerator), "A100-80GB");
	assert_true(sky_offer_matches(&r, &a100_80));
	assert_false(sky_offer_matches(&r, &a100));
	snprintf(r.accelerator, sizeof(r.accelerator), "T4");
	assert_false(sky_offer_matches(&r, &a100));
	snprintf(r.accelerator, sizeof(r.accelerator), "H100");
	assert_true(sky_offer_matches(&r, &h100));
}

static void test_count_mismatch(void **state)
{
	struct sky_offer o[] = {
		offer("aws", "one", "us-east-1", "A100", 1, SPOT, 1.0),
		offer("aws", "four", "us-east-1", "A100", 4, SPOT, 4.0),
		offer("aws", "eight", "us-east-1", "A100", 8, SPOT, 8.0),
	};
	static const char *const four[] = { "four" };
	struct sky_request r = request("A100", 4, SKY_ALLOC_SPOT, "aws", NULL);

	(void)state;
	expect_rank(&r, 1, o, 3, four, 1);
	r.accelerator_count = 2;
	expect_rank(&r, 1, o, 3, NULL, 0);
}

static void test_providers(void **state)
{
	struct sky_offer o[] = {
		offer("aws", "a", "us-east-1", "T4", 1, SPOT, 1.0),
		offer("runpod", "b", "us-east-1", "T4", 1, SPOT, 1.0),
		offer("vastai", "c", "us-east-1", "T4", 1, SPOT, 1.0),
	};
	static const char *const want[] = { "a", "c" };
	struct sky_request r = request("T4", 1, SKY_ALLOC_SPOT, "vastai", "aws", NULL);
	struct sky_request nobody = request("T4", 1, SKY_ALLOC_SPOT, NULL);

	(void)state;
	expect_rank(&r, 1, o, 3, want, 2);
	expect_rank(&nobody, 1, o, 3, NULL, 0);
	/* names are compared without case, as regions are */
	snprintf(r.providers[0], sizeof(r.providers[0]), "VastAI");
	expect_rank(&r, 1, o, 3, want, 2);
}

/* sky_rank against the plain definition on a random book with many equal
 * prices: filter each alternative with sky_offer_matches, then order by
 * (tier, price, order) with a comparator. */
static uint64_t rnd_state = 42;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rnd_state >> 33);
}

static int ref_cmp(const void *a, const void *b)
{
	const struct sky_candidate *x = a, *y = b;

	if (x->tier != y->tier)
		return x->tier - y->tier;
	if (x->offer.price_usd_per_hour != y->offer.price_usd_per_hour)
		return x->offer.price_usd_per_hour < y->offer.price_usd_per_hour ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

static void test_rank_reference(void **state)
{
	static const char *const prov[] = { "aws", "runpod", "vastai", "lambda" };
	static const char *const acc[] = { "A100", "A100-80GB", "H100", "T4", "" };
	static const char *const reg[] = { "us-east-1", "us-west-2", "eu-west-1" };
	enum { N = 3000 };
	struct sky_offer *o = calloc(N, sizeof(*o));
	struct sky_candidate *ref = calloc(3 * N, sizeof(*ref)), *c = NULL;
	struct sky_request r[3];
	size_t n_ref = 0, n, i;
	int a, round;

	(void)state;
	assert_non_null(o);
	assert_non_null(ref);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < N; i++) {
			const char *ac = acc[rnd() % 5];

			int count = ac[0] ? 1 << (rnd() % 4) : 0;

			o[i] = offer(prov[rnd() % 4], "", reg[rnd() % 3], ac, count,
				     rnd() % 2 ? SPOT : OD, (double)(rnd() % 40) / 4.0);
			snprintf(o[i].instance_type, sizeof(o[i].instance_type), "i%zu", i);
			o[i].shareable = rnd() % 8 == 0;
		}
		r[0] = request("A100", 4, (enum sky_allocation)(round % 4), "aws", "runpod", NULL);
		r[1] = request("A100-80GB", 8, SKY_ALLOC_SPOT_IF_AVAILABLE, "vastai", "aws", NULL);
		r[2] = request("", 0, (enum sky_allocation)((round + 2) % 4), "aws", "lambda",
			       NULL);
		snprintf(r[1].region, sizeof(r[1].region), "us-");
		r[1].max_price = 6.0;
		r[1].nodes = 3;
		n_ref = 0;
		for (a = 0; a < 3; a++) {
			for (i = 0; i < N; i++) {
				if (!sky_offer_matches(&r[a], &o[i]))
					continue;
				ref[n_ref].offer = o[i];
				ref[n_ref].alternative = a;
				ref[n_ref].tier = r[a].allocation == SKY_ALLOC_SPOT_IF_AVAILABLE &&
						  o[i].market != SPOT;
				ref[n_ref].order = n_ref;
				n_ref++;
			}
		}
		qsort(ref, n_ref, sizeof(*ref), ref_cmp);
		assert_int_equal(sky_rank(r, 3, o, N, &c, &n), 0);
		assert_int_equal(n, n_ref);
		assert_true(n > 100);
		for (i = 0; i < n; i++) {
			assert_int_equal(c[i].order, ref[i].order);
			assert_int_equal(c[i].alternative, ref[i].alternative);
			assert_int_equal(c[i].tier, ref[i].tier);
			assert_string_equal(c[i].offer.instance_type, ref[i].offer.instance_type);
			assert_true(c[i].pool_usd_per_hour ==
				    c[i].offer.price_usd_per_hour * r[c[i].alternative].nodes);
		}
		free(c);
	}
	free(ref);
	free(o);
}

static void test_rank_empty(void **state)
{
	struct sky_offer o = offer("aws", "a", "us-east-1", "T4", 1, SPOT, 1.0);
	struct sky_request r = request("H100", 8, SKY_ALLOC_SPOT, "aws", NULL);
	struct sky_candidate *c = (struct sky_candidate *)&o;
	size_t n = 7;

	(void)state;
	assert_int_equal(sky_rank(&r, 1, &o, 1, &c, &n), 0);
	assert_int_equal(n, 0);
	assert_null(c);
	n = 7;
	assert_int_equal(sky_rank(&r, 1, NULL, 0, &c, &n), 0);
	assert_int_equal(n, 0);
	n = 7;
	assert_int_equal(sky_rank(NULL, 0, &o, 1, &c, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sky_rank(&r, 1, &o, 1, NULL, &n), -EINVAL);
}

/* The walk. */

struct walk_ctx {
	size_t fail_first;  /* this many tries fail with a capacity reason */
	int silent;         /* fail without a reason */
	size_t calls;
	size_t stop_after;  /* stop() says yes once this many tries were made */
};

static int try_capacity(struct sky_candidate *c, void *arg, char *reason, size_t len)
{
	struct walk_ctx *w = arg;

	assert_int_equal(c->tried, 1);
	if (w->calls++ < w->fail_first) {
		if (!w->silent)
			snprintf(reason, len, "%s: insufficient capacity", c->offer.instance_type);
		return -EAGAIN;
	}
	return 0;
}

static int stop_after(void *arg)
{
	struct walk_ctx *w = arg;

	return w->calls >= w->stop_after;
}

static struct sky_candidate *ranked(size_t *n)
{
	struct sky_offer o[6];
	struct sky_request r = request("A100", 8, SKY_ALLOC_CHEAPEST, "aws", NULL);
	struct sky_candidate *c = NULL;
	size_t i;

	for (i = 0; i < 6; i++) {
		o[i] = offer("aws", "", "us-east-1", "A100", 8, SPOT, 1.0 + (double)i);
		snprintf(o[i].instance_type, sizeof(o[i].instance_type), "t%zu", i);
	}
	assert_int_equal(sky_rank(&r, 1, o, 6, &c, n), 0);
	assert_int_equal(*n, 6);
	return c;
}

static void test_walk_fails_first_k(void **state)
{
	size_t k, n, i;

	(void)state;
	for (k = 0; k < 6; k++) {
		struct walk_ctx w = { .fail_first = k, .stop_after = SIZE_MAX };
		struct sky_candidate *c = ranked(&n);
		size_t reasons = 0;

		assert_int_equal(sky_walk(c, n, try_capacity, &w, stop_after), (long)k);
		assert_int_equal(w.calls, k + 1);
		for (i = 0; i < n; i++) {
			if (c[i].reason[0]) {
				char want[64];

				snprintf(want, sizeof(want), "t%zu: insufficient capacity", i);
				assert_string_equal(c[i].reason, want);
				reasons++;
			}
			assert_int_equal(c[i].tried, i <= k);
			assert_int_equal(c[i].in_use, i == k);
		}
		assert_int_equal(reasons, k);
		free(c);
	}
}

static void test_walk_exhausted(void **state)
{
	struct walk_ctx w = { .fail_first = SIZE_MAX, .stop_after = SIZE_MAX };
	struct sky_candidate *c;
	size_t n, i;

	(void)state;
	c = ranked(&n);
	assert_int_equal(sky_walk(c, n, try_capacity, &w, NULL), -ENOENT);
	for (i = 0; i < n; i++) {
		assert_int_equal(c[i].tried, 1);
		assert_int_equal(c[i].in_use, 0);
		assert_true(c[i].reason[0] != '\0');
	}
	free(c);

	/* a failure without a reason gets the error's text */
	c = ranked(&n);
	w.calls = 0;
	w.silent = 1;
	assert_int_equal(sky_walk(c, n, try_capacity, &w, NULL), -ENOENT);
	for (i = 0; i < n; i++)
		assert_string_equal(c[i].reason, strerror(EAGAIN));
	free(c);

	/* nothing to walk */
	w.calls = 0;
	assert_int_equal(sky_walk(NULL, 0, try_capacity, &w, NULL), -ENOENT);
	assert_int_equal(w.calls, 0);
}

static void test_walk_stop(void **state)
{
	struct walk_ctx w = { .fail_first = SIZE_MAX, .stop_after = 2 };
	struct sky_candidate *c;
	size_t n, i;

	(void)state;
	c = ranked(&n);
	assert_int_equal(sky_walk(c, n, try_capacity, &w, stop_after), -ECANCELED);
	assert_int_equal(w.calls, 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(c[i].tried, i < 2);
		assert_int_equal(c[i].reason[0] != '\0', i < 2);
		assert_int_equal(c[i].in_use, 0);
	}
	/* a stop before anything is tried tries nothing */
	w.calls = 0;
	w.stop_after = 0;
	assert_int_equal(sky_walk(c, n, try_capacity, &w, stop_after), -ECANCELED);
	assert_int_equal(w.calls, 0);
	free(c);
}

/* The accelerator names are the catalog's, so it must be loaded. */
static int setup(void **state)
{
	char err[256] = "";

	(void)state;
	if (sky_catalog_init(err, sizeof(err))) {
		print_error("catalog: %s\n", err);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocation_names),
		cmocka_unit_test(test_spot_only),
		cmocka_unit_test(test_on_demand_only),
		cmocka_unit_test(test_spot_if_available),
		cmocka_unit_test(test_cheapest),
		cmocka_unit_test(test_alternatives),
		cmocka_unit_test(test_same_offer_twice),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_max_price),
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_vcpus_memory),
		cmocka_unit_test(test_shareable),
		cmocka_unit_test(test_accelerator_none),
		cmocka_unit_test(test_accelerator_names),
		cmocka_unit_test(test_count_mismatch),
		cmocka_unit_test(test_providers),
		cmocka_unit_test(test_rank_reference),
		cmocka_unit_test(test_rank_empty),
		cmocka_unit_test(test_walk_fails_first_k),
		cmocka_unit_test(test_walk_exhausted),
		cmocka_unit_test(test_walk_stop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
