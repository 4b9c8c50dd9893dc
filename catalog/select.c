/* Offer matching, ranking and the walk down the ranked list (see select.h).
 * Owns nothing beyond the arrays it returns; accelerator names are judged by
 * the catalog (sky_accel_accepts). */
#include "catalog/select.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "common/util.h"

static const char *const alloc_names[] = {
	[SKY_ALLOC_SPOT_IF_AVAILABLE] = "spot-if-available",
	[SKY_ALLOC_SPOT] = "spot",
	[SKY_ALLOC_ON_DEMAND] = "on-demand",
	[SKY_ALLOC_CHEAPEST] = "cheapest",
};

const char *sky_allocation_name(enum sky_allocation a)
{
	if ((unsigned)a >= SKY_ARRAY_SIZE(alloc_names))
		return "unknown";
	return alloc_names[a];
}

int sky_allocation_parse(const char *s, enum sky_allocation *out)
{
	size_t i;

	if (!s || !out)
		return -EINVAL;
	/* spellings people write for on-demand in other tools' configs */
	if (!strcasecmp(s, "ondemand") || !strcasecmp(s, "on_demand")) {
		*out = SKY_ALLOC_ON_DEMAND;
		return 0;
	}
	for (i = 0; i < SKY_ARRAY_SIZE(alloc_names); i++) {
		if (!strcasecmp(s, alloc_names[i])) {
			*out = (enum sky_allocation)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Remembers sky_accel_accepts() answers for one request during a ranking:
 * a book holds few distinct accelerator names, and the catalog's lookup
 * (aliases, families) costs far more than hashing the name. */
#define ACCEL_CACHE_SLOTS 64

struct accel_cache {
	struct {
		char name[sizeof(((struct sky_offer *)0)->accelerator)];
		int used;
		int accepts;
	} slot[ACCEL_CACHE_SLOTS];
};

static int accel_accepts(const char *request, const char *canonical, struct accel_cache *cache)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;
	unsigned i, k;
	int ok;

	if (!cache)
		return sky_accel_accepts(request, canonical);
	for (p = (const unsigned char *)canonical; *p; p++)
		h = (h ^ *p) * 16777619u;
	/* linear probing over a few slots; a full neighbourhood just asks the
	 * catalog, which is only slower */
	for (k = 0; k < 4; k++) {
		i = (h + k) % ACCEL_CACHE_SLOTS;
		if (cache->slot[i].used && !strcmp(cache->slot[i].name, canonical))
			return cache->slot[i].accepts;
		if (!cache->slot[i].used)
			break;
	}
	ok = sky_accel_accepts(request, canonical);
	if (k < 4 && strlen(canonical) < sizeof(cache->slot[i].name)) {
		memcpy(cache->slot[i].name, canonical, strlen(canonical) + 1);
		cache->slot[i].used = 1;
		cache->slot[i].accepts = ok;
	}
	return ok;
}

/* A request with what every offer test needs worked out once: sky_rank
 * tests each request against every offer of a large book. */
struct prepared {
	const struct sky_request *r;
	unsigned markets;           /* bit per enum sky_market */
	uint32_t provider_letters;  /* bit per first letter (folded): a quick no */
	size_t region_len;
	int region_prefix;
	struct accel_cache *cache;  /* NULL: ask the catalog every time */
};

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* ASCII cases differ only in bit 5, which the shift count drops */
static uint32_t letter_bit(char c)
{
	return 1u << ((unsigned char)c & 31);
}

/* Whether a and b agree on their first n bytes (or up to an end both
 * share), ignoring ASCII case. Provider and region names are ASCII, and
 * inline this costs less than strcasecmp's call and locale lookup, on
 * every offer of the book. */
static int same_name(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char x = fold((unsigned char)a[i]), y = fold((unsigned char)b[i]);

		if (x != y)
			return 0;
		if (!x)
			break;
	}
	return 1;
}

static void prepare(struct prepared *p, const struct sky_request *r, struct accel_cache *cache)
{
	int i;

	p->r = r;
	switch (r->allocation) {
	case SKY_ALLOC_SPOT:
		p->markets = 1u << SKY_MARKET_SPOT;
		break;
	case SKY_ALLOC_ON_DEMAND:
		p->markets = 1u << SKY_MARKET_ON_DEMAND;
		break;
	case SKY_ALLOC_SPOT_IF_AVAILABLE:
	case SKY_ALLOC_CHEAPEST:
		p->markets = 1u << SKY_MARKET_SPOT | 1u << SKY_MARKET_ON_DEMAND;
		break;
	default:
		p->markets = 0;
		break;
	}
	p->provider_letters = 0;
	for (i = 0; i < r->n_providers && i < SKY_MAX_PROVIDERS; i++)
		p->provider_letters |= letter_bit(r->providers[i][0]);
	p->region_len = strnlen(r->region, sizeof(r->region));
	p->region_prefix = p->region_len && r->region[p->region_len - 1] == '-';
	p->cache = cache;
}

/* The integer tests run first: across a large book most offers fail on
 * market, shape or price before any string is looked at. */
static int matches(const struct prepared *p, const struct sky_offer *o)
{
	const struct sky_request *r = p->r;
	int i;

	if ((unsigned)o->market > 1 || !(p->markets & 1u << o->market))
		return 0;
	if (!r->accelerator[0]) {
		if (o->accelerator[0])
			return 0;
	} else {
		if (!o->accelerator[0])
			return 0;
		/* a shareable offer is a capacity that several nodes split */
		if (o->shareable ? r->accelerator_count > o->accelerator_count
				 : r->accelerator_count != o->accelerator_count)
			return 0;
	}
	if (r->vcpus > 0 && o->vcpus > 0 && o->vcpus < r->vcpus)
		return 0;
	if (r->memory_gb > 0 && o->memory_gb > 0 && o->memory_gb < r->memory_gb)
		return 0;
	if (r->max_price > 0 && !(o->price_usd_per_hour <= r->max_price))
		return 0;
	if (!(p->provider_letters & letter_bit(o->provider[0])))
		return 0;
	for (i = 0; i < r->n_providers && i < SKY_MAX_PROVIDERS; i++)
		if (same_name(r->providers[i], o->provider, sizeof(o->provider)))
			break;
	if (i >= r->n_providers || i >= SKY_MAX_PROVIDERS)
		return 0;
	if (p->region_len && !same_name(r->region, o->region,
					p->region_prefix ? p->region_len : sizeof(o->region)))
		return 0;
	if (r->accelerator[0] && !accel_accepts(r->accelerator, o->accelerator, p->cache))
		return 0;
	return 1;
}

int sky_offer_matches(const struct sky_request *r, const struct sky_offer *o)
{
	struct prepared p;

	prepare(&p, r, NULL);
	return matches(&p, o);
}

/* What the sort moves: 16 bytes instead of a whole candidate. */
struct rank_key {
	uint64_t price;     /* tier in the top bit, then the price's ordered bits */
	uint32_t order;     /* unique, so the order is total and stable */
	uint32_t offer;     /* index into the offers */
};

/* Maps a price to an integer with the same order, so the comparator does no
 * floating-point work. -0.0 becomes 0.0 (they compare equal as doubles) and
 * every NaN sorts after every price. The tier takes the sign bit, which
 * only negative prices use; those are clamped to zero, as no provider pays
 * us to run. */
static uint64_t price_key(int tier, double price)
{
	uint64_t bits;

	if (price != price)
		bits = 0x7ff8000000000000ull;
	else {
		if (!(price > 0))
			price = 0.0;
		memcpy(&bits, &price, sizeof(bits));
	}
	return (uint64_t)(tier ? 1 : 0) << 63 | bits;
}

/* A stable LSD radix sort on the price key: the keys arrive in order
 * (order == position), so stability alone settles ties in the order
 * written, and a few linear passes beat a comparison sort calling back per
 * pair. tmp holds n keys. */
static void sort_keys(struct rank_key *keys, struct rank_key *tmp, size_t n)
{
	size_t hist[8][256];   /* 16 KiB: fine on any thread stack */
	struct rank_key *src = keys, *dst = tmp, *t;
	size_t i, sum;
	int d, b;

	memset(hist, 0, sizeof(hist));
	for (i = 0; i < n; i++)
		for (d = 0; d < 8; d++)
			hist[d][(keys[i].price >> (8 * d)) & 0xff]++;
	for (d = 0; d < 8; d++) {
		/* a byte every key shares orders nothing */
		if (hist[d][(keys[0].price >> (8 * d)) & 0xff] == n)
			continue;
		for (b = 0, sum = 0; b < 256; b++) {
			size_t c = hist[d][b];

			hist[d][b] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[hist[d][(src[i].price >> (8 * d)) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != keys)
		memcpy(keys, src, n * sizeof(*keys));
}

static int grow(struct rank_key **keys, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 1024;
	struct rank_key *k = realloc(*keys, ncap * sizeof(*k));

	if (!k)
		return -ENOMEM;
	*keys = k;
	*cap = ncap;
	return 0;
}

int sky_rank(const struct sky_request *reqs, int n_reqs, const struct sky_offer *offers,
	     size_t n_offers, struct sky_candidate **out, size_t *n)
{
	struct rank_key *found = NULL, *keys = NULL;
	struct sky_candidate *cands = NULL;
	struct accel_cache *cache = NULL;
	struct prepared *prep = NULL;
	size_t *start = NULL;
	uint32_t *alt = NULL;
	size_t cap = 0, count = 0, i;
	int a, rc = 0;

	if (!out || !n || n_reqs < 0 || (n_reqs && !reqs) || (n_offers && !offers))
		return -EINVAL;
	*out = NULL;
	*n = 0;
	if (!n_reqs || !n_offers)
		return 0;
	/* order and offer index are packed into 32 bits each */
	if (n_offers > UINT32_MAX / (size_t)n_reqs)
		return -E2BIG;

	cache = calloc((size_t)n_reqs, sizeof(*cache));
	prep = malloc((size_t)n_reqs * sizeof(*prep));
	start = calloc((size_t)n_reqs + 1, sizeof(*start));
	if (!cache || !prep || !start) {
		rc = -ENOMEM;
		goto out;
	}
	for (a = 0; a < n_reqs; a++)
		prepare(&prep[a], &reqs[a], &cache[a]);
	/* One pass over the offers, trying every alternative on each: a large
	 * book does not fit in cache, and reading it once per alternative
	 * costs more than all the matching. Here order holds the alternative;
	 * the scatter below puts the keys in (alternative, offer) order. */
	for (i = 0; i < n_offers; i++) {
		for (a = 0; a < n_reqs; a++) {
			const struct sky_request *r = &reqs[a];
			int tier;

			if (!matches(&prep[a], &offers[i]))
				continue;
			if (count == cap && (rc = grow(&found, &cap)))
				goto out;
			tier = r->allocation == SKY_ALLOC_SPOT_IF_AVAILABLE &&
			       offers[i].market != SKY_MARKET_SPOT;
			found[count].price = price_key(tier, offers[i].price_usd_per_hour);
			found[count].order = (uint32_t)a;
			found[count].offer = (uint32_t)i;
			start[a + 1]++;
			count++;
		}
	}
	if (!count)
		goto out;

	keys = malloc(count * sizeof(*keys));
	alt = malloc(count * sizeof(*alt));
	if (!keys || !alt) {
		rc = -ENOMEM;
		goto out;
	}
	for (a = 0; a < n_reqs; a++)
		start[a + 1] += start[a];
	for (i = 0; i < count; i++) {
		size_t pos = start[found[i].order]++;

		alt[pos] = found[i].order;
		keys[pos] = found[i];
		keys[pos].order = (uint32_t)pos;
	}
	sort_keys(keys, found, count);

	cands = malloc(count * sizeof(*cands));
	if (!cands) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		struct sky_candidate *c = &cands[i];
		uint32_t k = keys[i].order;

		c->offer = offers[keys[i].offer];
		c->alternative = (int)alt[k];
		c->tier = (int)(keys[i].price >> 63);
		c->pool_usd_per_hour = c->offer.price_usd_per_hour * reqs[alt[k]].nodes;
		c->order = k;
		c->tried = 0;
		c->in_use = 0;
		/* the rest of reason is never read while reason[0] ends it */
		c->reason[0] = '\0';
	}
	*out = cands;
	*n = count;
	cands = NULL;
out:
	free(cands);
	free(alt);
	free(keys);
	free(found);
	free(start);
	free(prep);
	free(cache);
	return rc;
}

long sky_walk(struct sky_candidate *cands, size_t n, sky_try_fn try_fn, void *arg,
	      int (*stop)(void *arg))
{
	size_t i;

	if ((n && !cands) || !try_fn)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct sky_candidate *c = &cands[i];
		char reason[sizeof(c->reason)] = "";
		int rc;

		if (stop && stop(arg))
			return -ECANCELED;
		c->tried = 1;
		rc = try_fn(c, arg, reason, sizeof(reason));
		if (!rc) {
			c->in_use = 1;
			c->reason[0] = '\0';
			return (long)i;
		}
		/* the reason ends up in the pool's plan: never leave it blank */
		if (!reason[0])
			sky_strlcpy(reason, strerror(rc < 0 ? -rc : rc), sizeof(reason));
		sky_strlcpy(c->reason, reason, sizeof(c->reason));
	}
	return -ENOENT;
}
