/* The pool's plan: every offer that satisfies the spec's alternatives,
 * ranked (catalog/select.c), with the candidate in use and the reason each
 * tried one failed; and its text, pools/<p>/plan. */
#define LOG_MODULE "plan"
#include "scheduler/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/log.h"

#define PLAN_MAX_ROWS 200   /* the text shows this many ranked rows at most */

static int named(const struct sky_spec *s, const char *provider)
{
	int a, i;

	for (a = 0; a < s->n_alts; a++)
		for (i = 0; i < s->alts[a].n_providers; i++)
			if (!strcmp(s->alts[a].providers[i], provider))
				return 1;
	return 0;
}

/* Asks every registered provider (p NULL) or those p's spec names for
 * their live offers and merges them into the catalog. For a pool, a
 * provider that cannot answer has no live offers (its snapshot still
 * ranks): offers that depend on the spec (ssh's hosts) must not come from
 * another pool's. Its reasons go to errs (may be NULL), "; "-separated. */
static void refresh_live(struct sky_pool *p, struct sky_buf *errs)
{
	static const struct sky_spec none;
	const struct sky_provider_ops *const *provs;
	size_t n, i;

	provs = sky_providers(&n);
	for (i = 0; i < n; i++) {
		struct sky_offer *offers = NULL;
		struct sky_err err = { { 0 } };
		size_t k = 0;
		int rc;

		if (p && !named(&p->spec, provs[i]->name))
			continue;
		rc = provs[i]->offers(p ? &p->spec : &none, &offers, &k, &err);
		if (rc) {
			sky_provider_note_error(provs[i]->name, err.msg[0] ? err.msg : strerror(-rc));
			if (p) {
				sky_catalog_merge_live(provs[i]->name, NULL, 0, (time_t)sky_now(), 0);
				pthread_mutex_lock(&g.lock);
				pool_event(p, "%s: no live offers: %s", provs[i]->name,
					   err.msg[0] ? err.msg : strerror(-rc));
				pthread_mutex_unlock(&g.lock);
			}
			if (errs)
				sky_buf_printf(errs, "%s%s", errs->len ? "; " : "",
					       err.msg[0] ? err.msg : strerror(-rc));
		} else {
			sky_catalog_merge_live(provs[i]->name, offers, k, (time_t)sky_now(),
					       provs[i]->live_complete);
		}
		free(offers);
	}
}

void plan_refresh_all(void)
{
	refresh_live(NULL, NULL);
}

/* For an empty plan: what each alternative asked for and what its
 * providers do offer, e.g. "H100:1 on local (offered there: none, T4 x4)". */
static void explain(const struct sky_spec *s, const struct sky_offer *offers, size_t n,
		    char *why, size_t len)
{
	size_t used = 0, i, j;
	int a, k;

	used += (size_t)snprintf(why, len, "no offer matches the spec:");
	for (a = 0; a < s->n_alts && used < len; a++) {
		const struct sky_request *r = &s->alts[a];
		struct sky_buf seen = { 0 };

		used += (size_t)snprintf(why + used, len - used, "%s %s%s%s%s:%d on ",
					 a ? ";" : "", r->name[0] ? "[" : "", r->name,
					 r->name[0] ? "] " : "",
					 r->accelerator[0] ? r->accelerator : "none",
					 r->accelerator_count);
		for (k = 0; k < r->n_providers && used < len; k++)
			used += (size_t)snprintf(why + used, len - used, "%s%s", k ? ", " : "",
						 r->providers[k]);
		/* distinct accelerators those providers offer, in catalog order */
		for (i = 0; i < n; i++) {
			char item[96];
			int ours = 0;

			for (k = 0; k < r->n_providers; k++)
				ours |= !strcmp(offers[i].provider, r->providers[k]);
			if (!ours)
				continue;
			if (offers[i].accelerator[0])
				snprintf(item, sizeof(item), "%s x%d", offers[i].accelerator,
					 offers[i].accelerator_count);
			else
				snprintf(item, sizeof(item), "none");
			for (j = 0; seen.data && j < seen.len; j += strlen(seen.data + j) + 1)
				if (!strcmp(seen.data + j, item))
					break;
			if (seen.data && j < seen.len)
				continue;
			sky_buf_append(&seen, item, strlen(item) + 1);
		}
		used += (size_t)snprintf(why + used, len - used, " (offered there: ");
		for (j = 0; seen.data && j < seen.len && used < len; j += strlen(seen.data + j) + 1)
			used += (size_t)snprintf(why + used, len - used, "%s%s", j ? ", " : "",
						 seen.data + j);
		used += (size_t)snprintf(why + used, len - used, "%s)",
					 seen.len ? "" : "nothing");
		sky_buf_free(&seen);
	}
}

int plan_build(struct sky_pool *p, char *why, size_t len)
{
	struct sky_offer *offers = NULL;
	struct sky_candidate *cands = NULL;
	struct sky_buf errs = { 0 };
	size_t n = 0, nc = 0;
	int rc;

	why[0] = '\0';
	refresh_live(p, &errs);
	rc = sky_catalog_offers(&offers, &n);
	if (!rc)
		rc = sky_rank(p->spec.alts, p->spec.n_alts, offers, n, &cands, &nc);
	if (rc) {
		snprintf(why, len, "cannot rank offers: %s", strerror(-rc));
		goto out;
	}
	if (!nc)
		explain(&p->spec, offers, n, why, len);
	/* what a provider said is why it offered nothing: first */
	if (!nc && errs.data && sky_buf_printf(&errs, "; %s", why) == 0)
		sky_strlcpy(why, errs.data, len);
	pthread_mutex_lock(&g.lock);
	free(p->cands);
	p->cands = cands;
	p->n_cands = nc;
	p->planned = 1;
	p->planned_at = sky_now();
	cands = NULL;
	pthread_mutex_unlock(&g.lock);
out:
	sky_buf_free(&errs);
	free(cands);
	free(offers);
	return rc;
}

static void put_row(struct sky_buf *out, const struct sky_pool *p, size_t i)
{
	const struct sky_candidate *c = &p->cands[i];
	const struct sky_offer *o = &c->offer;
	const struct sky_request *r = &p->spec.alts[c->alternative];
	char accel[96], source[32];

	if (o->accelerator[0])
		snprintf(accel, sizeof(accel), "%s x%d", o->accelerator,
			 o->shareable ? r->accelerator_count : o->accelerator_count);
	else
		snprintf(accel, sizeof(accel), "none");
	snprintf(source, sizeof(source), "%s%s", o->source == SKY_SOURCE_LIVE ? "live" : "snapshot",
		 o->stale ? ",stale" : "");
	sky_buf_printf(out, "%-5zu %-9s %-14s %-34s %-16s %-10s %12.4f %12.4f %-14s %-14s %s\n",
		       i + 1, o->provider, o->region[0] ? o->region : "-", o->instance_type, accel,
		       sky_market_name(o->market), o->price_usd_per_hour, c->pool_usd_per_hour,
		       r->name[0] ? r->name : "-", source,
		       c->in_use ? "in use" : c->tried ? "failed" : "");
}

int render_plan(const struct sky_pool *p, struct sky_buf *out)
{
	char ts[40];
	size_t i, shown = 0, tried = 0;

	if (!p->planned) {
		sky_buf_printf(out, "no plan: %s\n", p->spec_text ? "not ranked yet" :
			       "write a spec first");
		return out->data ? 0 : -ENOMEM;
	}
	sky_fmt_time(p->planned_at, ts, sizeof(ts));
	sky_buf_printf(out, "plan: %zu candidate%s for %d node%s, ranked %s\n", p->n_cands,
		       p->n_cands == 1 ? "" : "s", p->spec.nodes, p->spec.nodes == 1 ? "" : "s", ts);
	sky_buf_printf(out, "%-5s %-9s %-14s %-34s %-16s %-10s %12s %12s %-14s %-14s %s\n",
		       "rank", "provider", "region", "offer", "accelerator", "market",
		       "usd/node-h", "usd/h", "alternative", "source", "status");
	for (i = 0; i < p->n_cands; i++) {
		const struct sky_candidate *c = &p->cands[i];

		tried += c->tried;
		if (shown < PLAN_MAX_ROWS || c->tried) {
			put_row(out, p, i);
			shown++;
		}
	}
	if (shown < p->n_cands)
		sky_buf_printf(out, "... %zu more candidates not shown\n", p->n_cands - shown);
	if (tried) {
		sky_buf_printf(out, "\ntried:\n");
		for (i = 0; i < p->n_cands; i++) {
			const struct sky_candidate *c = &p->cands[i];
			if (!c->tried)
				continue;
			sky_buf_printf(out, "%zu %s %s %s %s: %s\n", i + 1, c->offer.provider,
				       c->offer.instance_type, c->offer.region,
				       sky_market_name(c->offer.market),
				       c->in_use ? "in use" : c->reason);
		}
	}
	return out->data ? 0 : -ENOMEM;
}
