/* Selection: which offers satisfy a spec's alternatives, in what order to
 * try them, and the walk down that list.
 *
 * Pure functions over arrays: no locks, no I/O, so they are unit-tested and
 * benchmarked alone (tests/unit/test_select.c, scripts/bench-select.sh). */
#ifndef SKY_SELECT_H
#define SKY_SELECT_H

#include <stddef.h>

#include "providers/provider.h"

enum sky_allocation {
	SKY_ALLOC_SPOT_IF_AVAILABLE,   /* default: spot by price, then on-demand by price */
	SKY_ALLOC_SPOT,                /* spot offers only */
	SKY_ALLOC_ON_DEMAND,           /* on-demand offers only */
	SKY_ALLOC_CHEAPEST,            /* both markets, all by price */
};
const char *sky_allocation_name(enum sky_allocation a);
/* -EINVAL for an unknown name. */
int sky_allocation_parse(const char *s, enum sky_allocation *out);

#define SKY_MAX_PROVIDERS 8

/* What one alternative asks for (the spec's top level, or one [section]
 * with the top level's values where it sets none). */
struct sky_request {
	char name[64];                 /* section name, "" for the top level */
	char providers[SKY_MAX_PROVIDERS][32];
	int n_providers;
	char accelerator[64];          /* "" = none; else a catalog name or family */
	int accelerator_count;         /* per node */
	int vcpus;                     /* minimum, 0 = any */
	int memory_gb;                 /* minimum, 0 = any */
	char region[32];               /* exact, or a prefix ending in '-' ("us-"); "" = any */
	double max_price;              /* USD per node-hour, 0 = no cap */
	enum sky_allocation allocation;
	int nodes;
};

/* One ranked candidate: an offer for one alternative. */
struct sky_candidate {
	struct sky_offer offer;
	int alternative;               /* index into the requests */
	int tier;                      /* 0 before 1 (spot-if-available: spot first) */
	double pool_usd_per_hour;      /* offer price x nodes */
	size_t order;                  /* position in (alternative, offer) order: ties */
	int tried;                     /* the walk tried it */
	int in_use;                    /* the walk settled on it */
	char reason[256];              /* why it failed, when tried and not in use */
};

/* Whether offer o satisfies request r (provider, accelerator and count,
 * vcpus, memory, region, max price, market for the allocation). */
int sky_offer_matches(const struct sky_request *r, const struct sky_offer *o);

/* Ranks every offer that satisfies any request: by tier, then price per
 * node-hour, then the order written (alternative, then offer order). The
 * array (*out, *n) is malloc'd; the caller frees it. */
int sky_rank(const struct sky_request *reqs, int n_reqs, const struct sky_offer *offers,
	     size_t n_offers, struct sky_candidate **out, size_t *n);

/* Tries one candidate: 0 when it gave the pool its nodes, else -errno with
 * a reason in reason[len]. */
typedef int (*sky_try_fn)(struct sky_candidate *c, void *arg, char *reason, size_t len);
/* Walks the ranked list in order, recording each failure's reason in its
 * candidate, until one succeeds (its index is returned) or the list is
 * exhausted (-ENOENT) or stop() says so (-ECANCELED). stop may be NULL. */
long sky_walk(struct sky_candidate *cands, size_t n, sky_try_fn try_fn, void *arg,
	      int (*stop)(void *arg));

#endif
