/* The orphan sweep: at mount and then every sweep_interval seconds, each
 * provider lists the machines that carry this mount's id (sky_mount_id())
 * and terminates those whose pool is not live here: a launch whose
 * answer was lost and whose pool is gone, a pool removed while its
 * provider's API was down, the machines of a state directory's pool whose
 * journal a crash cut short. Pools being provisioned, recovering or
 * releasing own theirs, so the sweep never races a worker. A live pool
 * whose nodes are all up owns only the machines its nodes hold: a launch
 * the cloud carried out after the recovery had looked for it (a request
 * still in flight when the daemon died) is ended by the next sweep.
 *
 * Regions: EC2 is regional, so the sweep asks in every region this state
 * directory ever used (STATE/regions, one "provider region" line each,
 * appended when a candidate is first tried there). */
#define LOG_MODULE "sweep"
#include "scheduler/sweep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "scheduler/internal.h"

#define MAX_REGIONS 64

/* The regions file's lines, loaded once; under regions_lock. */
static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;
static char regions[MAX_REGIONS][2][64];
static int n_regions, regions_loaded;

static void regions_load(void)
{
	char path[PATH_MAX], *text = NULL, *line, *save = NULL;

	if (regions_loaded)
		return;
	regions_loaded = 1;
	snprintf(path, sizeof(path), "%s/regions", g.state_dir);
	if (sky_read_file(path, &text, NULL, 1 << 20))
		return;
	for (line = strtok_r(text, "\n", &save); line && n_regions < MAX_REGIONS;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (!sp)
			continue;
		*sp = '\0';
		sky_strlcpy(regions[n_regions][0], line, sizeof(regions[0][0]));
		sky_strlcpy(regions[n_regions][1], sp + 1, sizeof(regions[0][1]));
		n_regions++;
	}
	free(text);
}

void sweep_note_region(const char *provider, const char *region)
{
	char path[PATH_MAX], line[160];
	int i, n;

	if (!region[0])
		return;
	pthread_mutex_lock(&regions_lock);
	regions_load();
	for (i = 0; i < n_regions; i++)
		if (!strcmp(regions[i][0], provider) && !strcmp(regions[i][1], region))
			goto out;
	if (n_regions == MAX_REGIONS)
		goto out;
	sky_strlcpy(regions[n_regions][0], provider, sizeof(regions[0][0]));
	sky_strlcpy(regions[n_regions][1], region, sizeof(regions[0][1]));
	n_regions++;
	snprintf(path, sizeof(path), "%s/regions", g.state_dir);
	n = snprintf(line, sizeof(line), "%s %s\n", provider, region);
	if (sky_append(path, line, (size_t)n))
		log_warn("cannot record region %s of %s in %s", region, provider, path);
out:
	pthread_mutex_unlock(&regions_lock);
}

/* sky_owned_fn: a pool here whose state directory hashes to pool_hash and
 * whose worker runs (provisioning, live, recovering or releasing); for one
 * machine, see held(). */
struct owned_arg {
	const char *hash, *id;
	int owned;
};

/* Whether the machine id is one of live pool p's, or may be: while any
 * node is not up (a launch, a replacement, a drain, a recovery in flight)
 * every machine may be one it is about to record (lock held). */
static int held(const struct sky_pool *p, const char *id)
{
	int i;

	if (p->replay || p->stop || p->state != POOL_READY || !p->nodes)
		return 1;
	for (i = 0; i < p->n_nodes; i++)
		if (!p->nodes[i] || p->nodes[i]->state != NODE_READY || p->nodes[i]->removing ||
		    !p->nodes[i]->inst.id[0] || !strcmp(p->nodes[i]->inst.id, id))
			return 1;
	return 0;
}

static int owned_cb(const char *key, void *value, void *arg)
{
	struct sky_pool *p = value;
	struct owned_arg *oa = arg;
	char hash[9];

	(void)key;
	sky_pool_hash(p->dir, hash);
	if (strcmp(hash, oa->hash))
		return 0;
	oa->owned = (p->worker_alive && !p->worker_done) || p->replay;
	if (oa->owned && oa->id)
		oa->owned = held(p, oa->id);
	return 1;
}

static int owned(const char *pool_hash, const char *machine_id, void *arg)
{
	struct owned_arg oa = { pool_hash, machine_id, 0 };

	(void)arg;
	pthread_mutex_lock(&g.lock);
	sky_map_each(&g.pools, owned_cb, &oa);
	pthread_mutex_unlock(&g.lock);
	return oa.owned;
}

int sweep_once(void)
{
	const struct sky_provider_ops *const *provs;
	const char *list[MAX_REGIONS];
	size_t n, i, k;
	int total = 0, rc, j;

	provs = sky_providers(&n);
	for (i = 0; i < n; i++) {
		struct sky_err err = { { 0 } };

		if (!provs[i]->sweep)
			continue;
		pthread_mutex_lock(&regions_lock);
		regions_load();
		for (k = 0, j = 0; j < n_regions; j++)
			if (!strcmp(regions[j][0], provs[i]->name))
				list[k++] = regions[j][1];
		pthread_mutex_unlock(&regions_lock);
		rc = provs[i]->sweep(sky_mount_id(), k ? list : NULL, k, owned, NULL, &err);
		if (rc > 0) {
			log_warn("orphan sweep: terminated %d %s machine(s) that no pool here owns",
				 rc, provs[i]->name);
			total += rc;
		} else if (rc < 0 && rc != -ENOKEY) {
			log_warn("orphan sweep of %s failed: %s", provs[i]->name,
				 err.msg[0] ? err.msg : strerror(-rc));
		}
	}
	return total;
}

static void *sweeper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&g.lock);
	while (!g.quitting && !g.quit_at) {
		pthread_mutex_unlock(&g.lock);
		sweep_once();
		pthread_mutex_lock(&g.lock);
		if (g.sweep_interval <= 0)
			break;
		/* g.dispatch is broadcast at unmount */
		double until = sky_mono() + g.sweep_interval;
		while (!g.quitting && !g.quit_at && sky_mono() < until)
			sched_cond_wait(&g.dispatch, until - sky_mono() < 1 ? until - sky_mono() : 1);
	}
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

int sweep_start(void)
{
	int rc = -pthread_create(&g.sweeper, NULL, sweeper_main, NULL);

	if (!rc)
		g.sweeper_alive = 1;
	return rc;
}

void sweep_stop(void)
{
	if (g.sweeper_alive)
		pthread_join(g.sweeper, NULL);
	g.sweeper_alive = 0;
}
