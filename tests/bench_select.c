/* Selection benchmark (scripts/bench-select.sh): ranks N synthetic offers
 * (default 100k) for a spec with three alternatives, R times (default 200),
 * and reports mean/p50/p99 ms per selection. Baseline in the same run: the
 * obvious approach, which filters each alternative into a fresh array of
 * whole candidates, sorts that with a comparator on the whole structs and
 * merges the sorted lists. Both must give the same list; the program checks.
 *   bench_select [N_OFFERS] [RUNS]       goal: under 10 ms per selection */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "catalog/select.h"

static uint64_t rng_state = 0x5eed5e1ec7ull;

/* splitmix64: deterministic, so every run ranks the same book */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return (double)(rng() >> 11) / (double)(1ull << 53);
}

static void make_offers(struct sky_offer *o, size_t n)
{
	static const char *const providers[] = { "aws", "runpod", "vastai", "lambda" };
	static const char *const regions[] = {
		"us-east-1", "us-east-2", "us-west-2", "us-central-1",
		"eu-west-1", "eu-central-1", "ap-northeast-1", "ca-central-1",
	};
	static const struct {
		const char *name;
		double per_gpu;
		int vcpus_per_gpu, mem_per_gpu;
	} accels[] = {
		{ "A100", 1.60, 12, 85 },
		{ "A100-80GB", 2.10, 12, 120 },
		{ "H100", 3.20, 24, 240 },
		{ "T4", 0.35, 4, 16 },
		{ "L4", 0.55, 8, 32 },
	};
	static const int counts[] = { 1, 2, 4, 8 };
	size_t i;

	memset(o, 0, n * sizeof(*o));
	for (i = 0; i < n; i++) {
		size_t a = rng() % 5;
		int count = counts[rng() % 4];
		int spot = rng() % 2;

		snprintf(o[i].provider, sizeof(o[i].provider), "%s", providers[rng() % 4]);
		snprintf(o[i].region, sizeof(o[i].region), "%s", regions[rng() % 8]);
		snprintf(o[i].accelerator, sizeof(o[i].accelerator), "%s", accels[a].name);
		snprintf(o[i].instance_type, sizeof(o[i].instance_type), "%s-%dx-%zu",
			 accels[a].name, count, i);
		o[i].accelerator_count = count;
		o[i].vcpus = accels[a].vcpus_per_gpu * count;
		o[i].memory_gb = accels[a].mem_per_gpu * count;
		o[i].market = spot ? SKY_MARKET_SPOT : SKY_MARKET_ON_DEMAND;
		/* spot at 30-70% of on-demand, on-demand within +-25% of list;
		 * rounded to cents, so equal prices (ties) are common */
		o[i].price_usd_per_hour = accels[a].per_gpu * count * (0.75 + 0.5 * rng_unit()) *
					  (spot ? 0.3 + 0.4 * rng_unit() : 1.0);
		o[i].price_usd_per_hour =
			(double)(long)(o[i].price_usd_per_hour * 100.0 + 0.5) / 100.0;
		o[i].source = SKY_SOURCE_SNAPSHOT;
		o[i].as_of = 1790000000;
	}
}

static void make_requests(struct sky_request r[3])
{
	memset(r, 0, 3 * sizeof(*r));
	snprintf(r[0].accelerator, sizeof(r[0].accelerator), "A100");
	r[0].accelerator_count = 8;
	snprintf(r[0].providers[0], sizeof(r[0].providers[0]), "aws");
	snprintf(r[0].providers[1], sizeof(r[0].providers[1]), "runpod");
	r[0].n_providers = 2;
	r[0].allocation = SKY_ALLOC_SPOT_IF_AVAILABLE;
	r[0].nodes = 4;

	snprintf(r[1].name, sizeof(r[1].name), "vast");
	snprintf(r[1].accelerator, sizeof(r[1].accelerator), "A100-80GB");
	r[1].accelerator_count = 8;
	snprintf(r[1].providers[0], sizeof(r[1].providers[0]), "vastai");
	r[1].n_providers = 1;
	r[1].allocation = SKY_ALLOC_CHEAPEST;
	r[1].max_price = 14.0;
	r[1].nodes = 4;

	snprintf(r[2].name, sizeof(r[2].name), "h100");
	snprintf(r[2].accelerator, sizeof(r[2].accelerator), "H100");
	r[2].accelerator_count = 8;
	snprintf(r[2].providers[0], sizeof(r[2].providers[0]), "aws");
	snprintf(r[2].providers[1], sizeof(r[2].providers[1]), "runpod");
	snprintf(r[2].providers[2], sizeof(r[2].providers[2]), "vastai");
	snprintf(r[2].providers[3], sizeof(r[2].providers[3]), "lambda");
	r[2].n_providers = 4;
	snprintf(r[2].region, sizeof(r[2].region), "us-");
	r[2].vcpus = 96;
	r[2].allocation = SKY_ALLOC_SPOT_IF_AVAILABLE;
	r[2].nodes = 2;
}

/* The baseline. */

static int cand_cmp(const void *a, const void *b)
{
	const struct sky_candidate *x = a, *y = b;

	if (x->tier != y->tier)
		return x->tier - y->tier;
	if (x->offer.price_usd_per_hour != y->offer.price_usd_per_hour)
		return x->offer.price_usd_per_hour < y->offer.price_usd_per_hour ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

static int naive_rank(const struct sky_request *reqs, int n_reqs, const struct sky_offer *offers,
		      size_t n_offers, struct sky_candidate **out, size_t *n)
{
	struct sky_candidate *list[3] = { NULL }, *merged = NULL;
	size_t len[3] = { 0 }, head[3] = { 0 }, total = 0, order = 0, i;
	int a, rc = 0;

	if (n_reqs > 3)
		return -E2BIG;
	for (a = 0; a < n_reqs; a++) {
		size_t cap = 0;

		for (i = 0; i < n_offers; i++) {
			struct sky_candidate *c;

			if (!sky_offer_matches(&reqs[a], &offers[i]))
				continue;
			if (len[a] == cap) {
				struct sky_candidate *p;

				cap = cap ? cap * 2 : 64;
				p = realloc(list[a], cap * sizeof(*p));
				if (!p) {
					rc = -ENOMEM;
					goto out;
				}
				list[a] = p;
			}
			c = &list[a][len[a]++];
			memset(c, 0, sizeof(*c));
			c->offer = offers[i];
			c->alternative = a;
			c->tier = reqs[a].allocation == SKY_ALLOC_SPOT_IF_AVAILABLE &&
				  offers[i].market != SKY_MARKET_SPOT;
			c->pool_usd_per_hour = offers[i].price_usd_per_hour * reqs[a].nodes;
			c->order = order++;
		}
		if (len[a])
			qsort(list[a], len[a], sizeof(*list[a]), cand_cmp);
		total += len[a];
	}
	merged = malloc((total ? total : 1) * sizeof(*merged));
	if (!merged) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < total; i++) {
		int best = -1;

		for (a = 0; a < n_reqs; a++)
			if (head[a] < len[a] &&
			    (best < 0 || cand_cmp(&list[a][head[a]], &list[best][head[best]]) < 0))
				best = a;
		merged[i] = list[best][head[best]++];
	}
	*out = merged;
	*n = total;
	merged = NULL;
out:
	free(merged);
	for (a = 0; a < 3; a++)
		free(list[a]);
	return rc;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stats {
	double mean, p50, p99;
};

static struct stats summarize(double *t, int runs)
{
	struct stats s = { 0, 0, 0 };
	int i;

	for (i = 0; i < runs; i++)
		s.mean += t[i];
	s.mean /= runs;
	qsort(t, (size_t)runs, sizeof(*t), dbl_cmp);
	s.p50 = t[runs / 2];
	s.p99 = t[(runs * 99) / 100 < runs ? (runs * 99) / 100 : runs - 1];
	return s;
}

typedef int (*rank_fn)(const struct sky_request *, int, const struct sky_offer *, size_t,
		       struct sky_candidate **, size_t *);

static int time_runs(rank_fn fn, const struct sky_request *r, const struct sky_offer *o,
		     size_t n_offers, int runs, double *t)
{
	int i, rc;

	for (i = 0; i < runs; i++) {
		struct sky_candidate *c = NULL;
		size_t n = 0;
		double t0 = now_ms();

		rc = fn(r, 3, o, n_offers, &c, &n);
		t[i] = now_ms() - t0;
		free(c);
		if (rc)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t n_offers = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 200;
	struct sky_candidate *ours = NULL, *base = NULL;
	size_t n_ours = 0, n_base = 0, i, per_alt[3] = { 0 }, tier1 = 0;
	struct sky_offer *offers = NULL;
	struct sky_request reqs[3];
	double *t = NULL;
	struct stats so, sb;
	char err[256] = "";
	int rc = 1, same;

	if (!n_offers || n_offers > 10000000 || runs < 1) {
		fprintf(stderr, "usage: bench_select [N_OFFERS] [RUNS]\n");
		return 2;
	}
	/* the accelerator names are the catalog's */
	if (sky_catalog_init(err, sizeof(err))) {
		fprintf(stderr, "bench_select: catalog: %s\n", err);
		return 1;
	}
	offers = malloc(n_offers * sizeof(*offers));
	t = malloc((size_t)runs * sizeof(*t));
	if (!offers || !t) {
		fprintf(stderr, "bench_select: out of memory\n");
		goto out;
	}
	make_offers(offers, n_offers);
	make_requests(reqs);

	/* the same list from both, before anything is timed */
	if (sky_rank(reqs, 3, offers, n_offers, &ours, &n_ours) ||
	    naive_rank(reqs, 3, offers, n_offers, &base, &n_base)) {
		fprintf(stderr, "bench_select: ranking failed\n");
		goto out;
	}
	same = n_ours == n_base;
	for (i = 0; same && i < n_ours; i++)
		same = ours[i].order == base[i].order &&
		       ours[i].alternative == base[i].alternative && ours[i].tier == base[i].tier &&
		       !strcmp(ours[i].offer.instance_type, base[i].offer.instance_type) &&
		       ours[i].pool_usd_per_hour == base[i].pool_usd_per_hour;
	for (i = 0; i < n_ours; i++) {
		per_alt[ours[i].alternative]++;
		tier1 += ours[i].tier;
	}
	if (!same) {
		fprintf(stderr, "bench_select: sky_rank and the baseline disagree\n");
		goto out;
	}

	if (time_runs(sky_rank, reqs, offers, n_offers, runs, t))
		goto out;
	so = summarize(t, runs);
	if (time_runs(naive_rank, reqs, offers, n_offers, runs, t))
		goto out;
	sb = summarize(t, runs);

	printf("\nselection benchmark: %zu offers, 3 alternatives, %d runs\n", n_offers, runs);
	printf("candidates: %zu (A100:8 aws+runpod spot-if-available %zu, A100-80GB:8 vastai "
	       "cheapest <= $14 %zu, H100:8 us- %zu; %zu on-demand behind spot)\n",
	       n_ours, per_alt[0], per_alt[1], per_alt[2], tier1);
	if (n_ours)
		printf("first: %s %s %s %.2f $/h; ", ours[0].offer.provider, ours[0].offer.region,
		       ours[0].offer.instance_type, ours[0].offer.price_usd_per_hour);
	printf("both rankings identical: yes\n\n");
	printf("%-40s %9s %9s %9s\n", "ms per selection", "mean", "p50", "p99");
	printf("%-40s %9.3f %9.3f %9.3f\n", "sky_rank (compact keys, one pass)", so.mean, so.p50,
	       so.p99);
	printf("%-40s %9.3f %9.3f %9.3f\n", "baseline (filter, qsort structs, merge)", sb.mean,
	       sb.p50, sb.p99);
	printf("%-40s %9.2f %9.2f %9.2f\n", "speed-up", sb.mean / so.mean, sb.p50 / so.p50,
	       sb.p99 / so.p99);
	printf("\ngoal < 10 ms per selection (p99): %s\n", so.p99 < 10.0 ? "met" : "NOT met");
	rc = 0;
out:
	free(ours);
	free(base);
	free(offers);
	free(t);
	sky_catalog_fini();
	return rc;
}
