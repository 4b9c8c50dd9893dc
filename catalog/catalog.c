/* The accelerator catalog and the offer book (see catalog.h): when the
 * tables load (load.c parses them), name resolution and suggestions, and
 * the live offers that providers merge over the shipped snapshots. */
#include "catalog/tables.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/embedded.h"
#include "common/util.h"

#define DEFAULT_MAX_AGE (30L * 86400)
#define SUGGEST_MAX 3
#define SUGGEST_DISTANCE 3

struct live_set {
	char provider[32];
	struct sky_offer *offers;
	size_t n;
	int complete;           /* the provider's live offers are all it offers */
};

/* Loading happens on first use (or in sky_catalog_init); the tables are
 * read-only from then until sky_catalog_fini. Loading on first use lets
 * modules that only resolve names (and their unit tests) skip the init. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;                  /* atomic; the tables are set before it */
static int load_rc;
static char load_err[256];

/* Live offers, one set per provider, replaced whole by each merge. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct live_set *live;
static size_t n_live;

static long max_age = DEFAULT_MAX_AGE;   /* atomic */

static void free_live(void)
{
	size_t i;

	pthread_mutex_lock(&live_lock);
	for (i = 0; i < n_live; i++)
		free(live[i].offers);
	free(live);
	live = NULL;
	n_live = 0;
	pthread_mutex_unlock(&live_lock);
}

static void ensure_loaded(void)
{
	if (__atomic_load_n(&loaded, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&load_lock);
	if (!loaded) {
		load_err[0] = '\0';
		load_rc = cat_load(sky_catalog_files, sky_catalog_n_files, load_err, sizeof(load_err));
		__atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&load_lock);
}

int sky_catalog_init(char *err, size_t errlen)
{
	ensure_loaded();
	if (load_rc && err && errlen)
		sky_strlcpy(err, load_err, errlen);
	return load_rc;
}

int sky_catalog_load(const struct sky_embedded_file *files, size_t n, char *err, size_t errlen)
{
	int rc;

	free_live();
	pthread_mutex_lock(&load_lock);
	cat_free_tables();
	load_err[0] = '\0';
	rc = load_rc = cat_load(files, n, load_err, sizeof(load_err));
	__atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&load_lock);
	if (rc && err && errlen)
		sky_strlcpy(err, load_err, errlen);
	return rc;
}

void sky_catalog_fini(void)
{
	pthread_mutex_lock(&load_lock);
	cat_free_tables();
	load_rc = 0;
	__atomic_store_n(&loaded, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&load_lock);
	free_live();
	__atomic_store_n(&max_age, DEFAULT_MAX_AGE, __ATOMIC_RELAXED);
}

void sky_catalog_set_max_age(long seconds)
{
	__atomic_store_n(&max_age, seconds < 0 ? 0 : seconds, __ATOMIC_RELAXED);
}

long sky_catalog_max_age(void)
{
	return __atomic_load_n(&max_age, __ATOMIC_RELAXED);
}

/* ---- names ---------------------------------------------------------- */

const struct sky_accel *sky_catalog_accels(size_t *n)
{
	ensure_loaded();
	if (n)
		*n = cat_n_accels;
	return cat_accels;
}

const struct sky_accel *sky_accel_find(const char *name)
{
	ensure_loaded();
	return cat_lookup(name, NULL);
}

int sky_accel_accepts(const char *request, const char *canonical)
{
	const struct sky_accel *r, *c;
	int family = 0;

	ensure_loaded();
	r = cat_lookup(request, &family);
	c = cat_lookup(canonical, NULL);
	if (!r || !c)
		return 0;
	/* check_accels made the family row its own family, so naming the
	 * family means r is the family row */
	return r == c || (family && !strcmp(r->family, c->family));
}

struct suggestion {
	size_t row;
	int prefix;       /* the request starts the canonical name */
	size_t distance;  /* to the nearest spelling of the row */
	size_t common;    /* leading characters shared with the canonical name */
};

static int better(const struct suggestion *a, const struct suggestion *b)
{
	if (a->prefix != b->prefix)
		return a->prefix > b->prefix;
	if (a->distance != b->distance)
		return a->distance < b->distance;
	/* "h100-sxm4" is one edit from an A100 alias and from an H100 one:
	 * people get the model right more often than the suffix */
	if (a->common != b->common)
		return a->common > b->common;
	return a->row < b->row;
}

/* How close key (a normalized request) comes to row i. */
static void score(size_t i, const char *key, struct suggestion *s)
{
	const char *variant[2] = { key, cat_strip_vendor(i, key) };
	size_t v, d, klen;
	int j;

	s->row = i;
	s->prefix = 0;
	s->distance = SIZE_MAX;
	s->common = 0;
	for (v = 0; v < 2 && variant[v]; v++) {
		klen = strlen(variant[v]);
		for (d = 0; variant[v][d] && variant[v][d] == cat_keys[i].name[d]; d++)
			;
		if (d > s->common)
			s->common = d;
		if (klen >= 2 && !strncmp(cat_keys[i].name, variant[v], klen))
			s->prefix = 1;
		for (j = -1; j < cat_accels[i].n_aliases; j++) {
			d = sky_edit_distance(variant[v], j < 0 ? cat_keys[i].name : cat_keys[i].aliases[j]);
			/* a "suggestion" that rewrites the whole request is noise */
			if (d <= SUGGEST_DISTANCE && d < klen && d < s->distance)
				s->distance = d;
		}
	}
}

void sky_accel_suggest(const char *request, char *buf, size_t len)
{
	struct suggestion best[SUGGEST_MAX], s;
	char key[KEY_MAX];
	size_t i, used = 0;
	int n = 0, j;

	if (!buf || !len)
		return;
	buf[0] = '\0';
	ensure_loaded();
	if (!request || cat_normalize(request, key, sizeof(key)))
		return;
	for (i = 0; i < cat_n_accels; i++) {
		score(i, key, &s);
		if (!s.prefix && s.distance == SIZE_MAX)
			continue;
		if (n == SUGGEST_MAX && !better(&s, &best[n - 1]))
			continue;
		if (n < SUGGEST_MAX)
			n++;
		/* the last of the kept few makes room; s sinks to its place */
		for (j = n - 1; j > 0 && better(&s, &best[j - 1]); j--)
			best[j] = best[j - 1];
		best[j] = s;
	}
	for (j = 0; j < n; j++) {
		const char *name = cat_accels[best[j].row].name;
		size_t need = strlen(name) + (j ? 2 : 0);

		/* whole names only: a cut name would suggest a wrong one */
		if (used + need >= len)
			break;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", j ? ", " : "", name);
	}
}

/* ---- cat_providers and offers ------------------------------------------- */

const struct sky_catalog_provider *sky_catalog_providers(size_t *n)
{
	ensure_loaded();
	if (n)
		*n = cat_n_providers;
	return cat_providers;
}

const struct sky_catalog_provider *sky_catalog_provider(const char *name)
{
	size_t i;

	ensure_loaded();
	for (i = 0; name && i < cat_n_providers; i++)
		if (!strcmp(cat_providers[i].name, name))
			return &cat_providers[i];
	return NULL;
}

static struct live_set *find_live(const char *provider)
{
	size_t i;

	for (i = 0; i < n_live; i++)
		if (!strcmp(live[i].provider, provider))
			return &live[i];
	return NULL;
}

int sky_catalog_merge_live(const char *provider, const struct sky_offer *offers, size_t n,
			   time_t fetched, int complete)
{
	struct sky_offer *copy = NULL, *old = NULL;
	const struct sky_accel *a;
	struct live_set *set;
	size_t i;
	int rc = 0;

	if (!provider || !provider[0] || strlen(provider) >= sizeof(copy->provider) ||
	    (n && !offers))
		return -EINVAL;
	ensure_loaded();
	if (n) {
		if (n > SIZE_MAX / sizeof(*copy))
			return -ENOMEM;
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		copy[i] = offers[i];
		sky_strlcpy(copy[i].provider, provider, sizeof(copy[i].provider));
		a = cat_lookup(copy[i].accelerator, NULL);
		if (a)
			sky_strlcpy(copy[i].accelerator, a->name, sizeof(copy[i].accelerator));
		copy[i].source = SKY_SOURCE_LIVE;
		/* a provider that knows when its figures are from (a spot price
		 * history entry) says so; otherwise they are as old as the fetch */
		if (!copy[i].as_of)
			copy[i].as_of = (long long)fetched;
		copy[i].stale = 0;
	}

	pthread_mutex_lock(&live_lock);
	set = find_live(provider);
	if (!set) {
		struct live_set *grown = realloc(live, (n_live + 1) * sizeof(*grown));

		if (grown) {
			live = grown;
			set = &live[n_live++];
			memset(set, 0, sizeof(*set));
			sky_strlcpy(set->provider, provider, sizeof(set->provider));
		}
	}
	if (set) {
		old = set->offers;
		set->offers = copy;
		set->n = n;
		set->complete = complete;
		copy = NULL;
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&live_lock);
	free(copy);
	free(old);
	return rc;
}

/* Whether a live offer replaces snapshot row o. The count is part of the
 * key: RunPod names one instance type for every count of its GPU. A
 * provider whose live answer is complete replaces every row: what it no
 * longer lists (no capacity in that region now) is not offered. */
static int overridden(const struct sky_offer *o)
{
	const struct live_set *set = find_live(o->provider);
	size_t i;

	if (set && set->complete)
		return 1;
	for (i = 0; set && i < set->n; i++) {
		const struct sky_offer *l = &set->offers[i];

		if (l->market == o->market && l->accelerator_count == o->accelerator_count &&
		    !strcmp(l->instance_type, o->instance_type) && !strcmp(l->region, o->region))
			return 1;
	}
	return 0;
}

int sky_catalog_offers(struct sky_offer **out, size_t *n)
{
	long long now = (long long)time(NULL), age = sky_catalog_max_age();
	struct sky_offer *all = NULL;
	size_t total, i, k = 0;
	int rc = 0;

	if (!out || !n)
		return -EINVAL;
	ensure_loaded();
	pthread_mutex_lock(&live_lock);
	total = cat_n_snapshot;
	for (i = 0; i < n_live; i++)
		total += live[i].n;
	all = malloc((total ? total : 1) * sizeof(*all));
	if (!all) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cat_n_snapshot; i++) {
		if (overridden(&cat_snapshot[i]))
			continue;
		all[k] = cat_snapshot[i];
		all[k].stale = now - cat_snapshot[i].as_of > age;
		k++;
	}
	for (i = 0; i < n_live; i++) {
		if (live[i].n)
			memcpy(&all[k], live[i].offers, live[i].n * sizeof(*all));
		k += live[i].n;
	}
out:
	pthread_mutex_unlock(&live_lock);
	*out = all;
	*n = k;
	return rc;
}
