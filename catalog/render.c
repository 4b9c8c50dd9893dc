/* The texts of MNT/catalog/accelerators and MNT/catalog/offers. */
#include "catalog/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/util.h"

int sky_catalog_render_accels(struct sky_buf *out)
{
	size_t n, i;
	const struct sky_accel *a = sky_catalog_accels(&n);
	int k;

	sky_buf_printf(out, "%-12s %-10s %-8s %9s  %s\n", "name", "family", "vendor", "memory_gb",
		       "aliases");
	for (i = 0; i < n; i++) {
		sky_buf_printf(out, "%-12s %-10s %-8s %9d  ", a[i].name, a[i].family, a[i].vendor,
			       a[i].memory_gb);
		for (k = 0; k < a[i].n_aliases; k++)
			sky_buf_printf(out, "%s%s", k ? ", " : "", a[i].aliases[k]);
		sky_buf_printf(out, "\n");
	}
	return out->data ? 0 : -ENOMEM;
}

/* "3d", "5h", "12m": how old an offer's figures are */
static void fmt_age(long long secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		snprintf(buf, len, "%lldd", secs / 86400);
	else if (secs >= 3600)
		snprintf(buf, len, "%lldh", secs / 3600);
	else if (secs >= 60)
		snprintf(buf, len, "%lldm", secs / 60);
	else
		snprintf(buf, len, "%llds", secs);
}

int sky_catalog_render_offers(struct sky_buf *out)
{
	struct sky_offer *o = NULL;
	long long now = (long long)time(NULL);
	size_t n = 0, i;
	char age[16];
	int rc = sky_catalog_offers(&o, &n);

	if (rc)
		return rc;
	sky_buf_printf(out, "%-9s %-34s %-14s %-12s %5s %5s %9s %-10s %12s %-9s %s\n",
		       "provider", "instance_type", "region", "accelerator", "count", "vcpus",
		       "memory_gb", "market", "usd_per_hour", "source", "age");
	for (i = 0; i < n; i++) {
		fmt_age(now - o[i].as_of, age, sizeof(age));
		sky_buf_printf(out, "%-9s %-34s %-14s %-12s %5d %5d %9d %-10s %12.4f %-9s %s%s\n",
			       o[i].provider, o[i].instance_type, o[i].region[0] ? o[i].region : "-",
			       o[i].accelerator[0] ? o[i].accelerator : "none",
			       o[i].accelerator_count, o[i].vcpus, o[i].memory_gb,
			       sky_market_name(o[i].market), o[i].price_usd_per_hour,
			       o[i].source == SKY_SOURCE_LIVE ? "live" : "snapshot", age,
			       o[i].stale ? " stale" : "");
	}
	free(o);
	return out->data ? 0 : -ENOMEM;
}
