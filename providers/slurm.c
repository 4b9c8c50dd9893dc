/* The slurm provider: pools on an existing Slurm cluster, through
 * slurmrestd (slurm_api.h) for everything but the jobs themselves, which
 * are steps launched with srun (transport/srun.h).
 *
 * A node is an allocation: provision() submits one holding job per node
 * ("skyfs-<mount id>-<pool hash>-<pool>-<rank>", one node, the pool's
 * CPUs, memory and GPUs) and waits until it runs, telling the pool what
 * it waits for ("slurm job 42 PENDING (Resources)") however long the
 * queue takes; an rmdir ends the wait. The holding job runs a small
 * script that sleeps until skyfs cancels it, or until skyfs has not
 * touched the pool's alive file for orphan_timeout (the daemon died and
 * nobody came back: the allocation ends itself). Each job of the pool is
 * then a step of that allocation: it starts at once, without a second
 * turn in the queue.
 *
 * The daemon's state directory must be visible to the cluster's nodes at
 * the same path (a shared home or scratch, as Slurm's own sbatch expects
 * of the working directory): steps write the job's output files and run
 * in directories there. provision() checks it with one step per node.
 *
 * A watcher thread per pool touches the alive file and asks Slurm about
 * every holding job every WATCH_S: one that no longer runs (scancel,
 * preemption, time limit, a failed node) is a lost node, and the pool
 * replaces it with a new allocation. terminate() cancels the holding job
 * (its steps go with it); the orphan sweep cancels jobs of this mount
 * whose pool is gone, found by their name.
 *
 * This file: the provider's operations and the watcher; slurm_api.c: the
 * REST client and wire; slurm_steps.c: the probe and leftover steps,
 * through Slurm's client commands.
 *
 * Ownership: struct slurm_state belongs to the scheduler between
 * prepare() and teardown(); st->lock guards nodes[] and the watcher's
 * state, and is never held during a call to Slurm or a callback. */
#define LOG_MODULE "slurm"
#include "providers/provider.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/slurm_api.h"
#include "providers/slurm_steps.h"
#include "scheduler/spec.h"
#include "transport/srun.h"

#define WATCH_S 2.0             /* how often the watcher asks about each allocation */
#define POLL_MIN_S 0.2          /* provision's first polls while the job waits */
#define POLL_MAX_S 2.0
#define MAX_NODES 1024

struct pool_node {
	long job;                        /* its holding job, 0 while none */
	int watched;                     /* running: the watcher asks about it */
	int gone;                        /* reported lost: not again */
};

struct slurm_state {
	struct slurm_client api;
	const struct sky_spec *spec;     /* the pool's; outlives this state */
	char prefix[160];                /* "skyfs-<mount id>-<pool hash>-<pool>" */
	char dir[4096];                  /* <pool state>/slurm: node-side workdir too */
	char alive[4160];                /* the holding jobs end when this goes stale */
	char gres[96];                   /* "gpu:a100:2", "" for none */
	char launch[128];                /* every step's extra srun options */
	int cpus;                        /* per allocation */
	long memory_mb;
	long orphan_s;
	void (*node_state)(void *arg, int rank, int up, const char *why);
	void (*launched)(void *arg, int rank, const char *id, const char *host_pub);
	void (*waiting)(void *arg, int rank, const char *what);
	int (*stopping)(void *arg);
	void *cb_arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;             /* the watcher's sleep; stop wakes it */
	struct pool_node *nodes;
	int n_nodes;
	pthread_t watcher;
	int watching, stop;
};

/* Job states in which the allocation holds its nodes. */
static int holds(const char *state)
{
	return !strcmp(state, "RUNNING");
}

/* States from which it may still come to run. */
static int may_run(const char *state)
{
	return !strcmp(state, "PENDING") || !strcmp(state, "CONFIGURING") ||
	       !strcmp(state, "REQUEUED") || !strcmp(state, "RESIZING");
}

/* States in which the job still holds or waits for nodes: to cancel. */
static int live(const char *state)
{
	return holds(state) || may_run(state) || !strcmp(state, "SUSPENDED");
}

/* "slurm job 42 CANCELLED", with the reason when Slurm gives one. */
static void describe(const struct slurm_job *j, char *out, size_t len)
{
	/* an ended job keeps the reason it last waited for: not news */
	int reason = j->reason[0] && strcmp(j->reason, "None") && may_run(j->state);

	snprintf(out, len, "slurm job %ld %s%s%s%s", j->id, j->state, reason ? " (" : "",
		 reason ? j->reason : "", reason ? ")" : "");
}

/* ---- status, offers ------------------------------------------------------------------ */

static int slurm_status(struct sky_buf *out)
{
	const char *srun = sky_srun_path();

	slurm_client_describe(out);
	sky_buf_printf(out, "srun: %s\n", srun ? srun : "not found (apt-get install slurm-client)");
	return out->data ? 0 : -ENOMEM;
}

/* Whether partition is in the spec's list (all when there is none). */
static int wanted_partition(const struct sky_spec *spec, const char *part)
{
	const char *at = spec ? spec->partition : NULL;
	size_t n = strlen(part);

	if (!at)
		return 1;
	while (*at) {
		size_t k = strcspn(at, ",");

		if (k == n && !strncmp(at, part, n))
			return 1;
		at += k + (at[k] == ',');
	}
	return 0;
}

/* A partition the spec names that no usable node is in: -ENOENT, with
 * the partitions there are. */
static int missing_partition(const struct sky_spec *spec, const struct sky_offer *o,
			     size_t n, struct sky_err *err)
{
	char name[64], have[256] = "";
	const char *at = spec ? spec->partition : NULL;
	size_t i, used = 0;

	while (at && *at) {
		size_t k = strcspn(at, ",");

		snprintf(name, sizeof(name), "%.*s", (int)k, at);
		at += k + (at[k] == ',');
		for (i = 0; i < n && strcmp(o[i].region, name); i++)
			;
		if (i < n)
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(o[i].instance_type, "cpu") && used < sizeof(have))
				used += (size_t)snprintf(have + used, sizeof(have) - used, "%s%s",
							 used ? ", " : "", o[i].region);
		sky_err_set(err, "slurm: no partition \"%s\" with a usable node (the cluster "
			    "has: %s)", name, used ? have : "none");
		return -ENOENT;
	}
	return 0;
}

static int slurm_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
			struct sky_err *err)
{
	struct slurm_client c;
	struct slurm_node *nodes = NULL;
	size_t n_nodes = 0, i, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = slurm_client_init(&c, err)))
		return rc;
	if (!(rc = slurm_nodes_get(&c, &nodes, &n_nodes, err)) &&
	    !(rc = slurm_offers_from_nodes(nodes, n_nodes, out, n)) &&
	    !(rc = missing_partition(spec, *out, *n, err))) {
		for (i = 0; i < *n; i++)
			if (wanted_partition(spec, (*out)[i].region))
				(*out)[k++] = (*out)[i];
		*n = k;
	}
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	free(nodes);
	slurm_client_fini(&c);
	return rc;
}

/* ---- the watcher ------------------------------------------------------------------------ */

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || futimens(fd, NULL))
		log_warn("cannot touch %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* One round: the alive file, then each running allocation. */
static void watch_round(struct slurm_state *st)
{
	struct slurm_job j;
	struct sky_err err = { { 0 } };
	char why[160];
	int i, rc;

	touch(st->alive);
	for (i = 0; i < st->n_nodes; i++) {
		long id;

		pthread_mutex_lock(&st->lock);
		id = st->nodes[i].watched && !st->nodes[i].gone ? st->nodes[i].job : 0;
		pthread_mutex_unlock(&st->lock);
		if (!id)
			continue;
		rc = slurm_job_get(&st->api, id, &j, &err);
		if (rc && rc != -ENOENT)
			continue;    /* no word from Slurm is no news */
		if (!rc && holds(j.state)) {
			st->node_state(st->cb_arg, i, 1, NULL);
			continue;
		}
		if (!rc && !strcmp(j.state, "SUSPENDED")) {
			st->node_state(st->cb_arg, i, 0, "slurm suspended the allocation");
			continue;
		}
		if (rc)
			snprintf(why, sizeof(why), "slurm job %ld is gone", id);
		else
			describe(&j, why, sizeof(why));
		pthread_mutex_lock(&st->lock);
		rc = st->nodes[i].job == id && st->nodes[i].watched && !st->nodes[i].gone;
		if (rc)
			st->nodes[i].gone = 1;
		pthread_mutex_unlock(&st->lock);
		if (rc) {
			log_info("%s-%d: %s", st->prefix, i, why);
			st->node_state(st->cb_arg, i, -1, why);
		}
	}
}

static void *watch_main(void *arg)
{
	struct slurm_state *st = arg;
	struct timespec ts;

	pthread_mutex_lock(&st->lock);
	while (!st->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)WATCH_S;
		pthread_cond_timedwait(&st->cond, &st->lock, &ts);
		if (st->stop)
			break;
		pthread_mutex_unlock(&st->lock);
		watch_round(st);
		pthread_mutex_lock(&st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* ---- prepare, teardown ------------------------------------------------------------------ */

static void stop_watcher(struct slurm_state *st)
{
	if (!st->watching)
		return;
	pthread_mutex_lock(&st->lock);
	st->stop = 1;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	pthread_join(st->watcher, NULL);
	st->watching = 0;
}

static void state_free(struct slurm_state *st)
{
	stop_watcher(st);
	slurm_client_fini(&st->api);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
	free(st->nodes);
	free(st);
}

/* The allocation's shape: CPUs for every slot (or the spec's vcpus),
 * the GPUs of the offer, and for each step its share of the CPUs. */
static void shape(struct slurm_state *st, const struct sky_pool_info *pool)
{
	const struct sky_request *r = pool->request;
	const struct sky_offer *o = pool->offer;
	int slots = st->spec->slots > 0 ? st->spec->slots : 1;

	st->cpus = r && r->vcpus > slots ? r->vcpus : slots;
	st->memory_mb = r && r->memory_gb > 0 ? (long)r->memory_gb * 1024 : 0;
	if (o && o->accelerator[0] && r && r->accelerator_count > 0)
		snprintf(st->gres, sizeof(st->gres), "%s:%d", o->instance_type,
			 r->accelerator_count);
	snprintf(st->launch, sizeof(st->launch), "--cpus-per-task=%d",
		 st->cpus / slots > 0 ? st->cpus / slots : 1);
}

static int slurm_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	struct slurm_state *st = calloc(1, sizeof(*st));
	char hash[9], name[64];
	size_t i, k = 0;
	int rc;

	if (!st) {
		sky_err_set(err, "slurm: out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	st->spec = pool->spec;
	st->node_state = pool->node_state;
	st->launched = pool->launched;
	st->waiting = pool->waiting;
	st->stopping = pool->stopping;
	st->cb_arg = pool->node_state_arg;
	shape(st, pool);
	if (pool->offer && pool->offer->vcpus > 0 && st->cpus > pool->offer->vcpus) {
		sky_err_set(err, "slurm: a node needs %d CPUs (slots, vcpus) and the largest "
			    "usable node of partition %s has %d", st->cpus, pool->offer->region,
			    pool->offer->vcpus);
		rc = -EAGAIN;
		goto out;
	}
	if ((rc = slurm_client_init(&st->api, err)))
		goto out;
	if (!sky_srun_path()) {
		sky_err_set(err, "slurm: srun is not installed here: skyfs starts jobs with srun "
			    "(apt-get install slurm-client)");
		rc = -ENOENT;
		goto out;
	}
	if ((rc = slurm_ping(&st->api, err)))
		goto out;
	st->n_nodes = pool->nodes > 0 && pool->nodes <= MAX_NODES ? pool->nodes : 1;
	if (!(st->nodes = calloc((size_t)st->n_nodes, sizeof(*st->nodes)))) {
		rc = -ENOMEM;
		sky_err_set(err, "slurm: out of memory");
		goto out;
	}
	sky_pool_hash(pool->state_dir, hash);
	for (i = 0; pool->name[i] && k < 40; i++)
		name[k++] = (pool->name[i] >= 'a' && pool->name[i] <= 'z') ||
			    (pool->name[i] >= 'A' && pool->name[i] <= 'Z') ||
			    (pool->name[i] >= '0' && pool->name[i] <= '9') ||
			    pool->name[i] == '-' ? pool->name[i] : '_';
	name[k] = '\0';
	snprintf(st->prefix, sizeof(st->prefix), "skyfs-%s-%s-%s", sky_mount_id(), hash, name);
	if ((size_t)snprintf(st->dir, sizeof(st->dir), "%s/slurm", pool->state_dir) >=
	    sizeof(st->dir) - 64) {
		rc = -ENAMETOOLONG;
		sky_err_set(err, "slurm: the pool's state directory's path is too long");
		goto out;
	}
	if ((rc = sky_mkdir_p(st->dir, 0700))) {
		sky_err_set(err, "slurm: %s: %s", st->dir, strerror(-rc));
		goto out;
	}
	snprintf(st->alive, sizeof(st->alive), "%s/alive", st->dir);
	touch(st->alive);
	st->orphan_s = pool->spec->orphan_timeout_s > 0 ? pool->spec->orphan_timeout_s : 600;
	if (st->orphan_s < pool->spec->node_timeout_s)
		st->orphan_s = pool->spec->node_timeout_s;
	if ((rc = -pthread_create(&st->watcher, NULL, watch_main, st))) {
		sky_err_set(err, "slurm: cannot start the watcher: %s", strerror(-rc));
		goto out;
	}
	st->watching = 1;
	*state = st;
	st = NULL;
out:
	if (st)
		state_free(st);
	return rc;
}

/* Cancels every job that carries the pool's name: those whose submit
 * answer was lost, or that a crashed run left. */
static int cancel_named(struct slurm_state *st, struct sky_err *err)
{
	struct slurm_job *jobs = NULL;
	char prefix[176];
	size_t n = 0, i;
	int rc;

	snprintf(prefix, sizeof(prefix), "%s-", st->prefix);
	if ((rc = slurm_jobs_named(&st->api, prefix, &jobs, &n, err)))
		return rc;
	for (i = 0; i < n && !rc; i++)
		if (live(jobs[i].state))
			rc = slurm_job_cancel(&st->api, jobs[i].id, err);
	free(jobs);
	return rc;
}

static int slurm_teardown(void *state, struct sky_err *err)
{
	struct slurm_state *st = state;
	int rc;

	if (!st)
		return 0;
	if ((rc = cancel_named(st, err)))
		return rc;   /* the scheduler retries: the state stays */
	/* no touch of the alive file into a directory being removed */
	stop_watcher(st);
	sky_rm_rf(st->dir);
	state_free(st);
	return 0;
}

/* ---- provision ------------------------------------------------------------------------ */

/* The holding job's script: sleeps while skyfs keeps the alive file fresh. */
static int holding_script(struct slurm_state *st, struct sky_buf *out)
{
	long step = st->orphan_s / 4 < 15 ? (st->orphan_s / 4 > 1 ? st->orphan_s / 4 : 1) : 15;

	sky_buf_printf(out, "#!/bin/sh\n# skyfs: holds this allocation for a pool until skyfs "
		       "cancels it; ends it\n# when skyfs has not touched the alive file for "
		       "%ld s (skyfs is gone)\nalive=", st->orphan_s);
	sky_buf_shquote(out, st->alive);
	return sky_buf_printf(out, "\nwhile sleep %ld; do\n"
			      "\tm=$(stat -c %%Y \"$alive\" 2>/dev/null) || m=0\n"
			      "\t[ $(( $(date +%%s) - m )) -lt %ld ] || { echo \"skyfs: no word "
			      "from skyfs for %ld s: ending the allocation\" >&2; exit 0; }\n"
			      "done\n", step, st->orphan_s, st->orphan_s);
}

static int submit(struct slurm_state *st, int rank, long *id, struct sky_err *err)
{
	struct slurm_submit s = { 0 };
	struct sky_buf script = { 0 };
	char name[200], output[4200];
	json_t *body = NULL;
	int rc;

	snprintf(name, sizeof(name), "%s-%d", st->prefix, rank);
	snprintf(output, sizeof(output), "%s/holding-%d.out", st->dir, rank);
	if ((rc = holding_script(st, &script))) {
		sky_err_set(err, "slurm: out of memory");
		goto out;
	}
	s.name = name;
	s.script = script.data;
	s.partition = st->spec->partition;
	s.account = st->spec->account;
	s.qos = st->spec->qos;
	s.time_limit_min = (st->spec->time_limit_s + 59) / 60;
	s.cpus = st->cpus;
	s.memory_mb = st->memory_mb;
	s.gres = st->gres[0] ? st->gres : NULL;
	s.workdir = st->dir;
	s.output = output;
	if (!(body = slurm_submit_body(&s))) {
		rc = -ENOMEM;
		sky_err_set(err, "slurm: out of memory");
		goto out;
	}
	rc = slurm_submit(&st->api, body, id, err);
out:
	json_decref(body);
	sky_buf_free(&script);
	return rc;
}

/* Waits until job id runs: 0 and its nodes in inst, -ECANCELED when the
 * pool stops, -EAGAIN when it ended before running. */
static int wait_running(struct slurm_state *st, int rank, long id, struct sky_instance *inst,
			struct sky_err *err)
{
	struct slurm_job j;
	double delay = POLL_MIN_S;
	char what[200];
	int rc, failures = 0;

	for (;;) {
		if (st->stopping && st->stopping(st->cb_arg)) {
			sky_err_set(err, "slurm: stopped while job %ld waited", id);
			return -ECANCELED;
		}
		rc = slurm_job_get(&st->api, id, &j, err);
		if (rc == -ENOENT) {
			sky_err_set(err, "slurm: job %ld is gone before it ran", id);
			return -EAGAIN;
		}
		/* a slurmctld restart must not fail a pool that waits */
		if (rc && ++failures >= 10)
			return rc;
		if (!rc) {
			failures = 0;
			if (holds(j.state)) {
				snprintf(inst->address, sizeof(inst->address), "%.*s",
					 (int)strcspn(j.nodes, ","), j.nodes);
				inst->state = SKY_INST_RUNNING;
				return 0;
			}
			describe(&j, what, sizeof(what));
			if (!may_run(j.state)) {
				sky_err_set(err, "slurm: %s before it ran", what);
				return -EAGAIN;
			}
			if (st->waiting)
				st->waiting(st->cb_arg, rank, what);
		}
		usleep((useconds_t)(delay * 1e6));
		delay = delay * 1.5 < POLL_MAX_S ? delay * 1.5 : POLL_MAX_S;
	}
}

/* The node is ready: the transport and the watcher take it. */
static void take(struct slurm_state *st, int rank, long id, struct sky_instance *inst)
{
	inst->transport = &sky_transport_srun;
	snprintf(inst->workdir, sizeof(inst->workdir), "%s", st->dir);
	snprintf(inst->launch, sizeof(inst->launch), "%s", st->launch);
	pthread_mutex_lock(&st->lock);
	st->nodes[rank].job = id;
	st->nodes[rank].watched = 1;
	st->nodes[rank].gone = 0;
	pthread_mutex_unlock(&st->lock);
}

static int start_node(struct slurm_state *st, int rank, long id, struct sky_instance *inst,
		      struct sky_err *err)
{
	int rc;

	if ((rc = wait_running(st, rank, id, inst, err)))
		return rc;
	if (st->waiting)
		st->waiting(st->cb_arg, rank, "");
	if ((rc = slurm_probe(st->dir, rank, inst, err)))
		return rc;
	take(st, rank, id, inst);
	return 0;
}

static int slurm_provision(void *state, int rank, struct sky_instance *inst,
			   struct sky_err *err)
{
	struct slurm_state *st = state;
	long id = 0;
	int rc;

	if (rank < 0 || rank >= st->n_nodes) {
		sky_err_set(err, "slurm: no node %d in this pool", rank);
		return -EINVAL;
	}
	memset(inst, 0, sizeof(*inst));
	inst->state = SKY_INST_PENDING;
	if ((rc = submit(st, rank, &id, err)))
		return rc == -EIO ? -EAGAIN : rc;
	snprintf(inst->id, sizeof(inst->id), "%ld", id);
	pthread_mutex_lock(&st->lock);
	st->nodes[rank].job = id;
	st->nodes[rank].watched = 0;
	pthread_mutex_unlock(&st->lock);
	if (st->launched)
		st->launched(st->cb_arg, rank, inst->id, "");
	log_info("%s-%d: submitted as job %ld", st->prefix, rank, id);
	return start_node(st, rank, id, inst, err);
}

static int slurm_adopt(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct slurm_state *st = state;
	struct slurm_job j;
	char *end;
	long id = strtol(inst->id, &end, 10);
	int rc;

	if (rank < 0 || rank >= st->n_nodes || end == inst->id || *end || id <= 0) {
		sky_err_set(err, "slurm: \"%s\" is not a job id", inst->id);
		return -ENOENT;
	}
	rc = slurm_job_get(&st->api, id, &j, err);
	if (rc == -ENOENT || (!rc && !holds(j.state) && !may_run(j.state)))
		return -ENOENT;
	if (rc)
		return rc;
	/* its old steps are jobs the scheduler runs again */
	if (holds(j.state) && (rc = slurm_cancel_steps(id, err)))
		return rc;
	pthread_mutex_lock(&st->lock);
	st->nodes[rank].job = id;
	pthread_mutex_unlock(&st->lock);
	return start_node(st, rank, id, inst, err);
}

static int slurm_get_instance(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct slurm_state *st = state;
	struct slurm_job j;
	int rc = slurm_job_get(&st->api, atol(inst->id), &j, err);

	if (rc == -ENOENT) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	if (rc)
		return rc;
	inst->state = holds(j.state) ? SKY_INST_RUNNING : may_run(j.state) ? SKY_INST_PENDING :
		      SKY_INST_GONE;
	return 0;
}

static int slurm_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct slurm_state *st = state;
	long id = atol(inst->id);
	int i, rc;

	if (id <= 0)
		return 0;
	pthread_mutex_lock(&st->lock);
	for (i = 0; i < st->n_nodes; i++)
		if (st->nodes[i].job == id)
			st->nodes[i].watched = 0;
	pthread_mutex_unlock(&st->lock);
	if ((rc = slurm_job_cancel(&st->api, id, err)))
		return rc;
	inst->state = SKY_INST_GONE;
	return 0;
}

/* ---- the orphan sweep ---------------------------------------------------------------- */

static int slurm_sweep(const char *mount_id, const char *const *regions, size_t n_regions,
		       sky_owned_fn owned, void *arg, struct sky_err *err)
{
	struct slurm_client c;
	struct slurm_job *jobs = NULL;
	char prefix[32], hash[9];
	size_t n = 0, i, plen;
	int rc, count = 0;

	(void)regions;
	(void)n_regions;
	/* no slurmrestd here: no cluster of ours to sweep */
	if (!getenv("SKYFS_SLURM_URL") && access(SKY_SLURM_DEFAULT_SOCKET, F_OK))
		return 0;
	if ((rc = slurm_client_init(&c, err)))
		return rc;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "skyfs-%s-", mount_id);
	if ((rc = slurm_jobs_named(&c, prefix, &jobs, &n, err)))
		goto out;
	for (i = 0; i < n; i++) {
		const char *h = jobs[i].name + plen;

		if (strspn(h, "0123456789abcdef") < 8 || h[8] != '-')
			continue;
		memcpy(hash, h, 8);
		hash[8] = '\0';
		if (!live(jobs[i].state) || owned(hash, NULL, arg))
			continue;
		log_info("orphan sweep: cancelling job %ld (%s)", jobs[i].id, jobs[i].name);
		if ((rc = slurm_job_cancel(&c, jobs[i].id, err)))
			goto out;
		count++;
	}
	rc = count;
out:
	free(jobs);
	slurm_client_fini(&c);
	return rc;
}

const struct sky_provider_ops sky_provider_slurm = {
	.name = "slurm",
	.live_complete = 1,
	.status = slurm_status,
	.offers = slurm_offers,
	.prepare = slurm_prepare,
	.provision = slurm_provision,
	.get_instance = slurm_get_instance,
	.terminate = slurm_terminate,
	.teardown = slurm_teardown,
	.adopt = slurm_adopt,
	.sweep = slurm_sweep,
};
