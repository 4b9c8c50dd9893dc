/* Loading the catalog's tables (compiled in from catalog/data, see
 * catalog/embedded.h): strict parsing of accelerators.tsv and every
 * offers-<provider>.tsv, name normalization and lookup. The state lives in
 * tables.h; catalog.c owns when loading happens. */
#include "catalog/tables.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

#define LINE_MAX_LEN 1024

static const char accel_header[] = "name\tfamily\tvendor\tmemory_gb\taliases";
static const char offers_header[] =
	"instance_type\tregion\taccelerator\tcount\tvcpus\tmemory_gb\tondemand_usd_h\tspot_usd_h";

/* Providers with no shipped snapshot: marketplaces, where each ask is one
 * host's and prices move by the minute, so a snapshot would only mislead.
 * Their offers come from the live API alone. */
static const char *const live_only[] = { "vastai" };

/* The shipped tables (see tables.h). */
struct sky_accel *cat_accels;
struct accel_keys *cat_keys;
size_t cat_n_accels;
struct sky_catalog_provider *cat_providers;
size_t cat_n_providers;
struct sky_offer *cat_snapshot;
size_t cat_n_snapshot;

/* ---- parsing helpers ------------------------------------------------ */

struct cursor {
	const char *file;
	const char *p;
	int line;
};

static int fail(char *err, size_t len, const struct cursor *c, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, const struct cursor *c, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->line)
		snprintf(err, len, "catalog/data/%s:%d: %s", c->file, c->line, msg);
	else
		snprintf(err, len, "catalog/data/%s: %s", c->file, msg);
	return -EINVAL;
}

/* The next line into buf, without its "\n" or "\r\n": 1, or 0 at the end. */
static int next_line(struct cursor *c, char *buf, size_t len, char *err, size_t errlen)
{
	const char *end;
	size_t n;

	if (!*c->p)
		return 0;
	end = strchr(c->p, '\n');
	n = end ? (size_t)(end - c->p) : strlen(c->p);
	c->line++;
	if (n >= len)
		return fail(err, errlen, c, "line longer than %zu bytes", len - 1);
	memcpy(buf, c->p, n);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\r')
		buf[n - 1] = '\0';
	c->p += n + (end != NULL);
	return 1;
}

/* The next line that is neither blank nor a comment. */
static int next_row(struct cursor *c, char *buf, size_t len, char *err, size_t errlen)
{
	int rc;

	while ((rc = next_line(c, buf, len, err, errlen)) == 1)
		if (buf[0] && buf[0] != '#')
			return 1;
	return rc;
}

/* Splits line on tabs in place; returns the number of fields, which may be
 * more than max (only max are stored). */
static int split_tabs(char *line, char **f, int max)
{
	int n = 0;
	char *tab;

	for (;;) {
		if (n < max)
			f[n] = line;
		n++;
		tab = strchr(line, '\t');
		if (!tab)
			return n;
		*tab = '\0';
		line = tab + 1;
	}
}

static int parse_int(const char *s, int max, int *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int parse_price(const char *s, double *out)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > 1e6)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "2026-11-01" -> that day at 00:00 UTC. */
static int parse_date(const char *s, long long *out)
{
	static const char shape[] = "dddd-dd-dd";
	struct tm tm;
	int y, m, d, i;
	time_t t;

	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return -EINVAL;
	if (s[i] && s[i] != ' ')
		return -EINVAL;
	if (sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	t = timegm(&tm);
	/* timegm normalizes 2026-02-30 into March: a changed field means the
	 * date does not exist */
	if (t == (time_t)-1 || tm.tm_year != y - 1900 || tm.tm_mon != m - 1 || tm.tm_mday != d)
		return -EINVAL;
	*out = (long long)t;
	return 0;
}

/* Lower case, every run of '-', '_' and blanks as one '-', none at either
 * end: "NVIDIA  A100_80GB " -> "nvidia-a100-80gb". Providers spell one
 * device all three ways ("H100 SXM", "H100-SXM", "H100_SXM"). */
int cat_normalize(const char *s, char *out, size_t len)
{
	size_t k = 0;
	int sep = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '-' || ch == '_' || isspace(ch)) {
			sep = k > 0;
			continue;
		}
		if (k + 1 + (size_t)sep >= len)
			return -ENAMETOOLONG;
		if (sep)
			out[k++] = '-';
		sep = 0;
		out[k++] = (char)tolower(ch);
	}
	out[k] = '\0';
	return k ? 0 : -EINVAL;
}

/* ---- accelerators --------------------------------------------------- */

static int row_has_key(size_t i, const char *key)
{
	int j;

	if (!strcmp(cat_keys[i].name, key))
		return 1;
	for (j = 0; j < cat_accels[i].n_aliases; j++)
		if (!strcmp(cat_keys[i].aliases[j], key))
			return 1;
	return 0;
}

/* key with row i's vendor taken off the front ("nvidia-l4" -> "l4"), or
 * NULL when it does not start with it. */
const char *cat_strip_vendor(size_t i, const char *key)
{
	size_t n = strlen(cat_keys[i].vendor);

	if (n && !strncmp(key, cat_keys[i].vendor, n) && key[n] == '-')
		return key + n + 1;
	return NULL;
}

/* The row name denotes; *is_family says whether name (less any vendor) is
 * that row's family name, i.e. asks for every variant of the family. */
const struct sky_accel *cat_lookup(const char *name, int *is_family)
{
	char key[KEY_MAX];
	const char *k;
	size_t i;

	if (!name || cat_normalize(name, key, sizeof(key)))
		return NULL;
	/* the whole name first, so that an alias spelled with the vendor
	 * never loses to a shorter one of another row */
	for (i = 0; i < cat_n_accels; i++) {
		if (row_has_key(i, key)) {
			k = key;
			goto found;
		}
	}
	for (i = 0; i < cat_n_accels; i++) {
		k = cat_strip_vendor(i, key);
		if (k && row_has_key(i, k))
			goto found;
	}
	return NULL;
found:
	if (is_family)
		*is_family = !strcmp(k, cat_keys[i].family);
	return &cat_accels[i];
}

static int add_key(char *err, size_t len, const struct cursor *c, const char *what,
		   const char *s, char *key)
{
	if (cat_normalize(s, key, KEY_MAX))
		return fail(err, len, c, "%s \"%s\" is empty or too long", what, s);
	return 0;
}

static int parse_accel_row(char *line, struct sky_accel *a, struct accel_keys *k, char *err,
			   size_t len, const struct cursor *c)
{
	char *f[5], *alias, *rest;
	int n = split_tabs(line, f, 5), rc;

	if (n != 5)
		return fail(err, len, c, "%d columns, expected 5 (%s)", n, "name family vendor "
			    "memory_gb aliases");
	memset(a, 0, sizeof(*a));
	memset(k, 0, sizeof(*k));
	if (!f[0][0] || sky_strlcpy(a->name, f[0], sizeof(a->name)) >= sizeof(a->name))
		return fail(err, len, c, "name \"%s\" is empty or too long", f[0]);
	if (strchr(f[0], ','))
		return fail(err, len, c, "name \"%s\" contains a comma", f[0]);
	if (!f[1][0] || sky_strlcpy(a->family, f[1], sizeof(a->family)) >= sizeof(a->family))
		return fail(err, len, c, "family \"%s\" is empty or too long", f[1]);
	if (!f[2][0] || sky_strlcpy(a->vendor, f[2], sizeof(a->vendor)) >= sizeof(a->vendor))
		return fail(err, len, c, "vendor \"%s\" is empty or too long", f[2]);
	if (parse_int(f[3], 100000, &a->memory_gb) || a->memory_gb == 0)
		return fail(err, len, c, "memory_gb \"%s\" is not a positive integer", f[3]);
	if ((rc = add_key(err, len, c, "name", a->name, k->name)) ||
	    (rc = add_key(err, len, c, "family", a->family, k->family)) ||
	    (rc = add_key(err, len, c, "vendor", a->vendor, k->vendor)))
		return rc;
	/* strsep, not strtok: ",," is a mistake to report, not to skip */
	for (rest = f[4][0] ? f[4] : NULL; (alias = strsep(&rest, ","));) {
		while (*alias == ' ')
			alias++;
		if (a->n_aliases == SKY_ACCEL_ALIASES)
			return fail(err, len, c, "more than %d aliases", SKY_ACCEL_ALIASES);
		if (sky_strlcpy(a->aliases[a->n_aliases], alias, sizeof(a->aliases[0])) >=
		    sizeof(a->aliases[0]))
			return fail(err, len, c, "alias \"%s\" too long", alias);
		if ((rc = add_key(err, len, c, "alias", alias, k->aliases[a->n_aliases])))
			return rc;
		a->n_aliases++;
	}
	return 0;
}

/* Every spelling must denote one row only, and every family must be a row
 * that is its own family, so that a family request always resolves. */
static int check_accels(char *err, size_t len, const struct cursor *c)
{
	size_t i, j;
	int a, b;

	for (i = 0; i < cat_n_accels; i++) {
		const struct sky_accel *fam = NULL;

		for (j = 0; j < cat_n_accels; j++)
			if (!strcmp(cat_keys[j].name, cat_keys[i].family))
				fam = &cat_accels[j];
		if (!fam || strcmp(fam->family, fam->name))
			return fail(err, len, c, "%s: family %s is not a row that is its own family",
				    cat_accels[i].name, cat_accels[i].family);
		/* spelled as that row's name: requests compare families as written */
		if (strcmp(cat_accels[i].family, fam->name))
			return fail(err, len, c, "%s: family %s is not spelled as the row %s",
				    cat_accels[i].name, cat_accels[i].family, fam->name);
		for (a = -1; a < cat_accels[i].n_aliases; a++) {
			const char *ka = a < 0 ? cat_keys[i].name : cat_keys[i].aliases[a];

			for (j = i; j < cat_n_accels; j++) {
				for (b = -1; b < cat_accels[j].n_aliases; b++) {
					const char *kb = b < 0 ? cat_keys[j].name : cat_keys[j].aliases[b];

					if ((j > i || b > a) && !strcmp(ka, kb))
						return fail(err, len, c, "%s and %s: \"%s\" names both",
							    cat_accels[i].name, cat_accels[j].name, ka);
				}
			}
		}
	}
	return 0;
}

static int load_accels(const struct sky_embedded_file *file, char *err, size_t len)
{
	struct cursor c = { file->name, file->text, 0 };
	char line[LINE_MAX_LEN];
	size_t cap = 0;
	int rc;

	rc = next_row(&c, line, sizeof(line), err, len);
	if (rc < 0)
		goto out;
	if (rc == 0 || strcmp(line, accel_header)) {
		rc = fail(err, len, &c, "expected the header line \"%s\"", accel_header);
		goto out;
	}
	while ((rc = next_row(&c, line, sizeof(line), err, len)) == 1) {
		if (cat_n_accels == cap) {
			size_t ncap = cap ? 2 * cap : 32;
			struct sky_accel *na = realloc(cat_accels, ncap * sizeof(*na));
			struct accel_keys *nk;

			if (!na) {
				rc = -ENOMEM;
				goto out;
			}
			cat_accels = na;
			nk = realloc(cat_keys, ncap * sizeof(*nk));
			if (!nk) {
				rc = -ENOMEM;
				goto out;
			}
			cat_keys = nk;
			cap = ncap;
		}
		rc = parse_accel_row(line, &cat_accels[cat_n_accels], &cat_keys[cat_n_accels], err, len, &c);
		if (rc)
			goto out;
		cat_n_accels++;
	}
	if (rc < 0)
		goto out;
	c.line = 0;
	if (!cat_n_accels)
		rc = fail(err, len, &c, "no accelerators");
	else
		rc = check_accels(err, len, &c);
out:
	if (rc == -ENOMEM)
		snprintf(err, len, "out of memory loading the catalog");
	return rc;
}

/* ---- offer snapshots ------------------------------------------------ */

static int is_live_only(const char *provider)
{
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(live_only); i++)
		if (!strcmp(live_only[i], provider))
			return 1;
	return 0;
}

static int add_provider(const char *name, const char *date, int live_only_flag)
{
	struct sky_catalog_provider *np;

	np = realloc(cat_providers, (cat_n_providers + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	cat_providers = np;
	memset(&cat_providers[cat_n_providers], 0, sizeof(*np));
	sky_strlcpy(cat_providers[cat_n_providers].name, name, sizeof(np->name));
	sky_strlcpy(cat_providers[cat_n_providers].snapshot_date, date, sizeof(np->snapshot_date));
	cat_providers[cat_n_providers].live_only = live_only_flag;
	cat_n_providers++;
	return 0;
}

static int add_offer(const struct sky_offer *o)
{
	struct sky_offer *ns;

	/* grows by doubling: cat_n_snapshot is a power of two exactly when full */
	if (!cat_n_snapshot || !(cat_n_snapshot & (cat_n_snapshot - 1))) {
		ns = realloc(cat_snapshot, (cat_n_snapshot ? 2 * cat_n_snapshot : 1) * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		cat_snapshot = ns;
	}
	cat_snapshot[cat_n_snapshot++] = *o;
	return 0;
}

static int parse_offer_row(char *line, struct sky_offer *o, double *spot, char *err, size_t len,
			   const struct cursor *c)
{
	char *f[8];
	int n = split_tabs(line, f, 8);
	const struct sky_accel *a;

	if (n != 8)
		return fail(err, len, c, "%d columns, expected 8 (%s)", n,
			    "instance_type region accelerator count vcpus memory_gb ondemand_usd_h "
			    "spot_usd_h");
	if (!f[0][0] || sky_strlcpy(o->instance_type, f[0], sizeof(o->instance_type)) >=
	    sizeof(o->instance_type))
		return fail(err, len, c, "instance_type \"%s\" is empty or too long", f[0]);
	if (!f[1][0] || sky_strlcpy(o->region, f[1], sizeof(o->region)) >= sizeof(o->region))
		return fail(err, len, c, "region \"%s\" is empty or too long", f[1]);
	if (parse_int(f[3], 1024, &o->accelerator_count))
		return fail(err, len, c, "count \"%s\" is not an integer", f[3]);
	if (f[2][0]) {
		a = cat_lookup(f[2], NULL);
		if (!a)
			return fail(err, len, c, "unknown accelerator \"%s\"", f[2]);
		/* the tables use canonical names only, so that they read alike */
		if (strcmp(a->name, f[2]))
			return fail(err, len, c, "accelerator \"%s\" is not a canonical name "
				    "(use %s)", f[2], a->name);
		if (!o->accelerator_count)
			return fail(err, len, c, "count 0 with accelerator %s", f[2]);
		sky_strlcpy(o->accelerator, a->name, sizeof(o->accelerator));
	} else if (o->accelerator_count) {
		return fail(err, len, c, "count %d with no accelerator", o->accelerator_count);
	}
	if (parse_int(f[4], 1000000, &o->vcpus))
		return fail(err, len, c, "vcpus \"%s\" is not an integer", f[4]);
	if (parse_int(f[5], 100000000, &o->memory_gb))
		return fail(err, len, c, "memory_gb \"%s\" is not an integer", f[5]);
	if (parse_price(f[6], &o->price_usd_per_hour))
		return fail(err, len, c, "ondemand_usd_h \"%s\" is not a positive price", f[6]);
	*spot = 0;
	if (f[7][0] && parse_price(f[7], spot))
		return fail(err, len, c, "spot_usd_h \"%s\" is not a positive price", f[7]);
	return 0;
}

/* One offers-<provider>.tsv: the snapshot line, the header, then rows. */
static int load_offers(const struct sky_embedded_file *file, char *err, size_t len)
{
	struct cursor c = { file->name, file->text, 0 };
	char line[LINE_MAX_LEN], name[32], date[16];
	const char *p = file->name + strlen("offers-");
	size_t first = cat_n_snapshot, i, plen = strlen(p) - strlen(".tsv");
	long long as_of;
	int rc;

	if (!plen || plen >= sizeof(name) || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_") < plen)
		return fail(err, len, &c, "provider name must be 1-31 of [a-z0-9_]");
	memcpy(name, p, plen);
	name[plen] = '\0';
	if (is_live_only(name))
		return fail(err, len, &c, "%s is live-only (catalog.c): it has no snapshot", name);
	for (i = 0; i < cat_n_providers; i++)
		if (!strcmp(cat_providers[i].name, name))
			return fail(err, len, &c, "a second snapshot for %s", name);

	rc = next_line(&c, line, sizeof(line), err, len);
	if (rc < 0)
		return rc;
	if (rc == 0 || strncmp(line, "# snapshot ", 11) || parse_date(line + 11, &as_of))
		return fail(err, len, &c, "the first line must be \"# snapshot YYYY-MM-DD source\"");
	sky_strlcpy(date, line + 11, 11);
	rc = next_row(&c, line, sizeof(line), err, len);
	if (rc < 0)
		return rc;
	if (rc == 0 || strcmp(line, offers_header))
		return fail(err, len, &c, "expected the header line \"%s\"", offers_header);

	while ((rc = next_row(&c, line, sizeof(line), err, len)) == 1) {
		struct sky_offer o;
		double spot;

		memset(&o, 0, sizeof(o));
		if ((rc = parse_offer_row(line, &o, &spot, err, len, &c)))
			return rc;
		/* one row per node shape: a second would make the live override
		 * (keyed like this) ambiguous */
		for (i = first; i < cat_n_snapshot; i++)
			if (!strcmp(cat_snapshot[i].instance_type, o.instance_type) &&
			    !strcmp(cat_snapshot[i].region, o.region) &&
			    cat_snapshot[i].accelerator_count == o.accelerator_count)
				return fail(err, len, &c, "a second row for %s in %s with count %d",
					    o.instance_type, o.region, o.accelerator_count);
		sky_strlcpy(o.provider, name, sizeof(o.provider));
		o.source = SKY_SOURCE_SNAPSHOT;
		o.as_of = as_of;
		o.market = SKY_MARKET_ON_DEMAND;
		if (add_offer(&o))
			return -ENOMEM;
		if (spot > 0) {
			o.market = SKY_MARKET_SPOT;
			o.price_usd_per_hour = spot;
			if (add_offer(&o))
				return -ENOMEM;
		}
	}
	if (rc < 0)
		return rc;
	return add_provider(name, date, 0);
}

/* ---- loading -------------------------------------------------------- */

void cat_free_tables(void)
{
	free(cat_accels);
	free(cat_keys);
	free(cat_providers);
	free(cat_snapshot);
	cat_accels = NULL;
	cat_keys = NULL;
	cat_providers = NULL;
	cat_snapshot = NULL;
	cat_n_accels = cat_n_providers = cat_n_snapshot = 0;
}

static int cmp_provider(const void *a, const void *b)
{
	return strcmp(((const struct sky_catalog_provider *)a)->name,
		      ((const struct sky_catalog_provider *)b)->name);
}

int cat_load(const struct sky_embedded_file *files, size_t n_files, char *err, size_t len)
{
	const struct sky_embedded_file *accel_file = NULL;
	size_t i, nl;
	int rc = 0;

	for (i = 0; i < n_files; i++)
		if (!strcmp(files[i].name, "accelerators.tsv"))
			accel_file = &files[i];
	if (!accel_file) {
		snprintf(err, len, "catalog/data/accelerators.tsv was not compiled in");
		rc = -EINVAL;
		goto out;
	}
	/* accelerators first: offer rows are checked against them */
	if ((rc = load_accels(accel_file, err, len)))
		goto out;
	for (i = 0; i < n_files; i++) {
		const char *name = files[i].name;

		nl = strlen(name);
		if (&files[i] == accel_file)
			continue;
		if (nl <= strlen("offers-.tsv") || strncmp(name, "offers-", 7) ||
		    strcmp(name + nl - 4, ".tsv")) {
			snprintf(err, len, "catalog/data/%s: not accelerators.tsv or "
				 "offers-<provider>.tsv", name);
			rc = -EINVAL;
			goto out;
		}
		if ((rc = load_offers(&files[i], err, len)))
			goto out;
	}
	for (i = 0; i < SKY_ARRAY_SIZE(live_only); i++)
		if ((rc = add_provider(live_only[i], "", 1)))
			goto out;
	qsort(cat_providers, cat_n_providers, sizeof(*cat_providers), cmp_provider);
out:
	if (rc == -ENOMEM)
		snprintf(err, len, "out of memory loading the catalog");
	if (rc)
		cat_free_tables();
	return rc;
}

