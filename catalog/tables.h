/* Private to catalog/: the loaded tables (load.c fills them, catalog.c
 * decides when and answers questions about them). They are written only
 * while catalog.c holds its load lock and no reader can run. */
#ifndef SKY_CATALOG_TABLES_H
#define SKY_CATALOG_TABLES_H

#include <stddef.h>

#include "catalog/catalog.h"
#include "catalog/embedded.h"

#define KEY_MAX 64

/* The normalized spellings of one row, computed once so that lookups (made
 * for every offer a ranking looks at) only compare strings. */
struct accel_keys {
	char name[KEY_MAX];
	char family[KEY_MAX];
	char vendor[KEY_MAX];
	char aliases[SKY_ACCEL_ALIASES][KEY_MAX];
};

extern struct sky_accel *cat_accels;
extern struct accel_keys *cat_keys;
extern size_t cat_n_accels;
extern struct sky_catalog_provider *cat_providers;   /* sorted by name */
extern size_t cat_n_providers;
extern struct sky_offer *cat_snapshot;
extern size_t cat_n_snapshot;

/* Parses files into the tables (freeing what was there on failure). */
int cat_load(const struct sky_embedded_file *files, size_t n_files, char *err, size_t len);
void cat_free_tables(void);
/* Lower-cases and folds '-', '_' and ' ' so that spellings compare equal. */
int cat_normalize(const char *s, char *out, size_t len);
/* The row a name or alias denotes; *is_family when it named the family. */
const struct sky_accel *cat_lookup(const char *name, int *is_family);
/* key without row i's vendor in front ("nvidia a100 80gb" -> "a100 80gb"),
 * or key itself. */
const char *cat_strip_vendor(size_t i, const char *key);

#endif
