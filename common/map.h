/* A string-keyed hash map (chained, power-of-two buckets) used for pools by
 * name and jobs by name. The map owns copies of its keys, never its values.
 * No locking: the caller's lock protects it. */
#ifndef SKY_MAP_H
#define SKY_MAP_H

#include <stddef.h>

struct sky_map_entry;
struct sky_map {
	struct sky_map_entry **buckets;
	size_t nbuckets;
	size_t len;
};

void sky_map_init(struct sky_map *m);
void sky_map_free(struct sky_map *m);    /* frees the table, not the values */
void *sky_map_get(const struct sky_map *m, const char *key);
int sky_map_put(struct sky_map *m, const char *key, void *value);   /* -EEXIST if present */
void *sky_map_del(struct sky_map *m, const char *key);              /* the value or NULL */
/* Calls fn for every entry until it returns non-zero (which is returned).
 * fn must not change the map. */
int sky_map_each(const struct sky_map *m, int (*fn)(const char *key, void *value, void *arg),
		 void *arg);

#endif
