/* What MNT/providers/ shows: every provider skyfs knows (the registry's,
 * and those the catalog has offers for that this build cannot provision
 * yet), each with a status text. */
#include "providers/provider.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/util.h"

int sky_provider_known(const char *name)
{
	return sky_provider_find(name) || sky_catalog_provider(name);
}

int sky_provider_each(int (*fn)(const char *name, void *arg), void *arg)
{
	const struct sky_provider_ops *const *provs;
	const struct sky_catalog_provider *cp;
	size_t n, i;
	int rc;

	provs = sky_providers(&n);
	for (i = 0; i < n; i++)
		if ((rc = fn(provs[i]->name, arg)))
			return rc;
	cp = sky_catalog_providers(&n);
	for (i = 0; i < n; i++)
		if (!sky_provider_find(cp[i].name) && (rc = fn(cp[i].name, arg)))
			return rc;
	return 0;
}

int sky_provider_render_status(const char *name, struct sky_buf *out)
{
	const struct sky_provider_ops *prov = sky_provider_find(name);
	const struct sky_catalog_provider *cp = sky_catalog_provider(name);
	struct sky_offer *offers = NULL;
	size_t n = 0, i, live = 0, snap = 0, stale = 0;
	char err[512];
	int rc;

	if (!prov && !cp)
		return -ENOENT;
	if ((rc = sky_catalog_offers(&offers, &n)))
		return rc;
	for (i = 0; i < n; i++) {
		if (strcmp(offers[i].provider, name))
			continue;
		if (offers[i].source == SKY_SOURCE_LIVE)
			live++;
		else
			snap++;
		stale += offers[i].stale;
	}
	free(offers);
	sky_buf_printf(out, "%s\n", prov ? "available" : "not available in this build");
	sky_buf_printf(out, "name: %s\n", name);
	sky_buf_printf(out, "implemented: %s\n", prov ? "yes" : "no");
	if (prov && prov->status)
		prov->status(out);
	else
		sky_buf_printf(out, "configured: no (no client in this build)\n");
	sky_buf_printf(out, "offers: %zu\noffers_live: %zu\noffers_snapshot: %zu\n"
		       "offers_stale: %zu\n", live + snap, live, snap, stale);
	if (cp && cp->snapshot_date[0])
		sky_buf_printf(out, "snapshot: %s\n", cp->snapshot_date);
	else if (cp && cp->live_only)
		sky_buf_printf(out, "snapshot: none (live offers only)\n");
	sky_provider_last_error(name, err, sizeof(err));
	sky_buf_printf(out, "last_error: %s\n", err[0] ? err : "none");
	return out->data ? 0 : -ENOMEM;
}
