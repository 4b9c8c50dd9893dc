/* The local provider: a node is a working directory under the pool's state
 * directory, and its jobs are processes on this machine (transport/local.c).
 * It offers "accelerator = none" always and, where `nvidia-smi -L` lists
 * GPUs, those GPUs; then every job slot of every node gets its own devices
 * through CUDA_VISIBLE_DEVICES, so slots never share a GPU. */
#define LOG_MODULE "local"
#include "providers/provider.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/accel.h"
#include "common/log.h"
#include "common/util.h"
#include "scheduler/spec.h"
#include "transport/transport.h"

#define MAX_GPUS 64

struct local_state {
	char dir[4096];            /* the pool's state dir */
	int per_node;              /* devices each node gets (slots x count) */
	int n_gpus;
	char gpus[MAX_GPUS][16];   /* indexes of the matching GPUs */
};

static int local_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
			struct sky_err *err)
{
	struct sky_gpu gpus[MAX_GPUS];
	struct sky_offer *o;
	int ng = sky_gpu_list(gpus, MAX_GPUS), i, j;
	size_t k = 0;

	(void)spec;
	(void)err;
	o = calloc((size_t)ng + 1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	/* one offer per GPU model, with all the devices of that model */
	for (i = 0; i < ng; i++) {
		for (j = 0; j < (int)k; j++)
			if (!strcmp(o[j].accelerator, gpus[i].model))
				break;
		if (j < (int)k) {
			o[j].accelerator_count++;
			continue;
		}
		sky_strlcpy(o[k].accelerator, gpus[i].model, sizeof(o[k].accelerator));
		o[k].accelerator_count = 1;
		k++;
	}
	k++;   /* the accelerator-less offer, last */
	for (j = 0; j < (int)k; j++) {
		snprintf(o[j].provider, sizeof(o[j].provider), "local");
		snprintf(o[j].instance_type, sizeof(o[j].instance_type), "local");
		snprintf(o[j].region, sizeof(o[j].region), "local");
		o[j].market = SKY_MARKET_ON_DEMAND;
		/* GPUs are a capacity that nodes and slots split, not a shape */
		o[j].shareable = 1;
		o[j].vcpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
		o[j].memory_gb = (int)((double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) /
				       (1024.0 * 1024 * 1024));
		o[j].source = SKY_SOURCE_LIVE;
		o[j].as_of = (long long)sky_now();
	}
	*out = o;
	*n = k;
	return 0;
}

static int local_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	const struct sky_spec *spec = pool->spec;
	const struct sky_request *req = pool->request;
	struct local_state *st;
	struct sky_gpu gpus[MAX_GPUS];
	int ng, i, need;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (sky_strlcpy(st->dir, pool->state_dir, sizeof(st->dir)) >= sizeof(st->dir)) {
		free(st);
		return -ENAMETOOLONG;
	}
	if (req->accelerator[0]) {
		ng = sky_gpu_list(gpus, MAX_GPUS);
		/* the offer's model: the one the catalog matched for this request */
		for (i = 0; i < ng; i++)
			if (sky_accel_same(pool->offer->accelerator, gpus[i].model))
				sky_strlcpy(st->gpus[st->n_gpus++], gpus[i].index,
					    sizeof(st->gpus[0]));
		st->per_node = spec->slots * req->accelerator_count;
		need = pool->nodes * st->per_node;
		if (need > st->n_gpus) {
			sky_err_set(err, "local: %d x %s needed (%d nodes x %d slots x %d), "
				    "this machine has %d", need, pool->offer->accelerator, pool->nodes,
				    spec->slots, req->accelerator_count, st->n_gpus);
			free(st);
			return -EAGAIN;
		}
	}
	*state = st;
	return 0;
}

static int local_provision(void *state, int rank, struct sky_instance *inst,
			   struct sky_err *err)
{
	struct local_state *st = state;
	char sub[sizeof(inst->workdir) + 16];
	int rc, i;

	snprintf(inst->id, sizeof(inst->id), "local-%d", rank);
	snprintf(inst->address, sizeof(inst->address), "127.0.0.1");
	if (snprintf(inst->workdir, sizeof(inst->workdir), "%s/nodes/node-%d", st->dir, rank) >=
	    (int)sizeof(inst->workdir))
		return -ENAMETOOLONG;
	/* work/ holds each job's working directory (see sched.c) */
	snprintf(sub, sizeof(sub), "%s/work", inst->workdir);
	rc = sky_mkdir_p(sub, 0755);
	if (rc) {
		sky_err_set(err, "local: cannot create %s: %s", inst->workdir, strerror(-rc));
		return rc;
	}
	inst->n_devices = 0;
	for (i = 0; i < st->per_node && i < (int)SKY_ARRAY_SIZE(inst->devices); i++)
		sky_strlcpy(inst->devices[inst->n_devices++], st->gpus[rank * st->per_node + i],
			    sizeof(inst->devices[0]));
	inst->transport = &sky_transport_local;
	inst->state = SKY_INST_RUNNING;
	return 0;
}

static int local_get_instance(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct stat sb;

	(void)state;
	(void)err;
	inst->state = stat(inst->workdir, &sb) ? SKY_INST_GONE : SKY_INST_RUNNING;
	return 0;
}

static int local_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	int rc;

	(void)state;
	if (!inst->workdir[0])
		return 0;   /* recorded by a crashed daemon: teardown removes nodes/ */
	rc = sky_rm_rf(inst->workdir);
	if (rc) {
		sky_err_set(err, "local: cannot remove %s: %s", inst->workdir, strerror(-rc));
		return rc;
	}
	inst->state = SKY_INST_GONE;
	return 0;
}

static int local_teardown(void *state, struct sky_err *err)
{
	struct local_state *st = state;
	char nodes[4096 + 8];

	(void)err;
	if (!st)
		return 0;
	snprintf(nodes, sizeof(nodes), "%s/nodes", st->dir);
	sky_rm_rf(nodes);
	free(st);
	return 0;
}

static int local_status(struct sky_buf *out)
{
	return sky_buf_printf(out, "configured: yes (no credentials needed)\n");
}

const struct sky_provider_ops sky_provider_local = {
	.name = "local",
	.fixed_nodes = 1,
	.status = local_status,
	.offers = local_offers,
	.prepare = local_prepare,
	.provision = local_provision,
	.get_instance = local_get_instance,
	.terminate = local_terminate,
	.teardown = local_teardown,
};
