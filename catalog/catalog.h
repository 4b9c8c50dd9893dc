/* The accelerator catalog and the offer book.
 *
 * Accelerators: canonical names (T4, A100, A100-80GB, H100, H100-NVL, ...),
 * each with a family, vendor, memory and aliases, matched case-insensitively.
 * A request names either a family (then every variant of it matches: "A100"
 * matches A100 and A100-80GB; "H100" matches H100, H100-PCIE and H100-NVL)
 * or one variant ("A100-80GB", an alias such as "a100-40gb" or
 * "NVIDIA A100 80GB PCIe").
 *
 * Offers: shipped per-provider snapshots (catalog/data/offers-<provider>.tsv,
 * each with its date), over which live offers from providers are merged
 * (same provider, instance type, region, market and device count: the live
 * row wins; RunPod uses one instance type for several counts).
 * Every offer carries its source and the time its figures are from; a
 * snapshot row older than the max age is flagged stale.
 *
 * The shipped tables are compiled into the binary (see catalog/data and
 * meson.build). Locking: the tables load once, on first use of any
 * function (sky_catalog_init() is where a load error is reported, and the
 * daemon calls it at start-up); they are read-only after that, except the
 * live offers, which sky_catalog_merge_live() replaces under the catalog's
 * own lock; readers take a copy with sky_catalog_offers(). A device name
 * the catalog does not know stays as reported and can never be requested
 * (specs name catalog accelerators only). */
#ifndef SKY_CATALOG_H
#define SKY_CATALOG_H

#include <stddef.h>
#include <time.h>

#include "providers/provider.h"

#define SKY_ACCEL_ALIASES 8

struct sky_accel {
	char name[32];          /* canonical: "A100-80GB" */
	char family[32];        /* "A100": a request for the family matches every variant */
	char vendor[16];        /* "NVIDIA", "AMD" */
	int memory_gb;
	char aliases[SKY_ACCEL_ALIASES][48];
	int n_aliases;
};

/* Loads the shipped tables. Returns 0 or -errno with a message in err;
 * a malformed shipped table is a build bug, reported with file and line. */
int sky_catalog_init(char *err, size_t errlen);
void sky_catalog_fini(void);

/* Seconds after which a snapshot row is flagged stale (default 30 days). */
void sky_catalog_set_max_age(long seconds);
long sky_catalog_max_age(void);

/* Every accelerator, in table order. */
const struct sky_accel *sky_catalog_accels(size_t *n);
/* The accelerator a name or alias denotes (NULL if none). */
const struct sky_accel *sky_accel_find(const char *name);
/* Whether a request ("A100", "a100-80gb", "H100") accepts accelerator
 * canonical name `canonical`: same row, or the request names the family. */
int sky_accel_accepts(const char *request, const char *canonical);
/* For an unknown request: the closest known names as "A100-80GB" or
 * "A100-80GB, A100" (edit distance and family prefixes), into buf. */
void sky_accel_suggest(const char *request, char *buf, size_t len);

/* A provider the catalog knows about (it has a snapshot, or is live-only). */
struct sky_catalog_provider {
	char name[32];
	char snapshot_date[16];  /* "2026-11-01", "" when live-only */
	int live_only;           /* no shipped snapshot: offers only from its API */
};
const struct sky_catalog_provider *sky_catalog_providers(size_t *n);
const struct sky_catalog_provider *sky_catalog_provider(const char *name);

/* Replaces the live offers of one provider (copied; each offer's provider
 * is set to `provider`). Offer accelerator names are mapped to canonical
 * names where the catalog knows them. An offer's own as_of is kept when
 * set (e.g. a spot price's timestamp), else it is `fetched`. */
int sky_catalog_merge_live(const char *provider, const struct sky_offer *offers, size_t n,
			   time_t fetched, int complete);
/* A copy of every offer (snapshot rows overridden by live ones), into a
 * malloc'd array the caller frees. */
int sky_catalog_offers(struct sky_offer **out, size_t *n);

/* The texts of MNT/catalog/accelerators and MNT/catalog/offers (render.c). */
struct sky_buf;
int sky_catalog_render_accels(struct sky_buf *out);
int sky_catalog_render_offers(struct sky_buf *out);

#endif
