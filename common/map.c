/* String-keyed hash map (see map.h). */
#include "common/map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sky_map_entry {
	struct sky_map_entry *next;
	void *value;
	uint64_t hash;
	char key[];
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

void sky_map_init(struct sky_map *m)
{
	m->buckets = NULL;
	m->nbuckets = 0;
	m->len = 0;
}

void sky_map_free(struct sky_map *m)
{
	size_t i;

	for (i = 0; i < m->nbuckets; i++) {
		struct sky_map_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	sky_map_init(m);
}

static struct sky_map_entry **find(const struct sky_map *m, const char *key, uint64_t h)
{
	struct sky_map_entry **pe;

	if (!m->nbuckets)
		return NULL;
	for (pe = &m->buckets[h & (m->nbuckets - 1)]; *pe; pe = &(*pe)->next)
		if ((*pe)->hash == h && !strcmp((*pe)->key, key))
			return pe;
	return NULL;
}

void *sky_map_get(const struct sky_map *m, const char *key)
{
	struct sky_map_entry **pe = find(m, key, hash_str(key));

	return pe ? (*pe)->value : NULL;
}

static int grow(struct sky_map *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 16, i;
	struct sky_map_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (i = 0; i < m->nbuckets; i++) {
		struct sky_map_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
	return 0;
}

int sky_map_put(struct sky_map *m, const char *key, void *value)
{
	uint64_t h = hash_str(key);
	size_t klen = strlen(key);
	struct sky_map_entry *e;

	if (find(m, key, h))
		return -EEXIST;
	if (m->len + 1 > m->nbuckets && grow(m))
		return -ENOMEM;
	e = malloc(sizeof(*e) + klen + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->value = value;
	e->next = m->buckets[h & (m->nbuckets - 1)];
	m->buckets[h & (m->nbuckets - 1)] = e;
	m->len++;
	return 0;
}

void *sky_map_del(struct sky_map *m, const char *key)
{
	struct sky_map_entry **pe = find(m, key, hash_str(key)), *e;
	void *v;

	if (!pe)
		return NULL;
	e = *pe;
	*pe = e->next;
	v = e->value;
	free(e);
	m->len--;
	return v;
}

int sky_map_each(const struct sky_map *m, int (*fn)(const char *key, void *value, void *arg),
		 void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < m->nbuckets; i++) {
		struct sky_map_entry *e;
		for (e = m->buckets[i]; e; e = e->next)
			if ((rc = fn(e->key, e->value, arg)))
				return rc;
	}
	return 0;
}
