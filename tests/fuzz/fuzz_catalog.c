/* libFuzzer target: the catalog's table loader (catalog/load.c) through its
 * test hook sky_catalog_load(). An input that starts with "# snapshot" is
 * an offers-fuzz.tsv checked against the shipped accelerators.tsv; any
 * other is an accelerators.tsv, optionally followed by a line "%%" and an
 * offers-fuzz.tsv. A table that loads is then used: name lookups, the
 * offers copy and both renderings (catalog/render.c). Corpus:
 * tests/fuzz/corpus/catalog. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/embedded.h"
#include "common/util.h"

static const char *shipped_accels(void)
{
	size_t i;

	for (i = 0; i < sky_catalog_n_files; i++)
		if (!strcmp(sky_catalog_files[i].name, "accelerators.tsv"))
			return sky_catalog_files[i].text;
	abort();
}

static void use_tables(void)
{
	static const char *const names[] = { "A100", "a100-80gb", "H100", "T4", "x", "" };
	const struct sky_accel *a;
	struct sky_offer *offers = NULL;
	struct sky_buf b = { 0 };
	char hint[160];
	size_t i, n;

	a = sky_catalog_accels(&n);
	for (i = 0; i < n; i++)
		if (sky_accel_find(a[i].name) != &a[i] ||
		    !sky_accel_accepts(a[i].family, a[i].name))
			abort();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		sky_accel_find(names[i]);
		sky_accel_suggest(names[i], hint, sizeof(hint));
	}
	if (sky_catalog_offers(&offers, &n))
		abort();
	free(offers);
	sky_catalog_providers(&n);
	sky_catalog_render_accels(&b);
	sky_catalog_render_offers(&b);
	sky_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sky_embedded_file f[2] = { { "accelerators.tsv", NULL },
					  { "offers-fuzz.tsv", NULL } };
	char *text, *sep, err[256];
	size_t n = 1;

	if (size > (1 << 20) || !(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (!strncmp(text, "# snapshot", 10)) {
		f[0].text = shipped_accels();
		f[1].text = text;
		n = 2;
	} else {
		f[0].text = text;
		if ((sep = strstr(text, "\n%%\n"))) {
			sep[1] = '\0';
			f[1].text = sep + 4;
			n = 2;
		}
	}
	err[0] = '\0';
	if (sky_catalog_load(f, n, err, sizeof(err)) == 0)
		use_tables();
	else if (!err[0])
		abort();
	sky_catalog_fini();
	free(text);
	return 0;
}
