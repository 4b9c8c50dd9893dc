/* The lambda provider: Lambda Cloud instances as nodes, through its REST
 * API (lambda_api.h over json_api.h) and reached over SSH (cloud.h).
 *
 * Per pool (prepare): an ed25519 login key registered as SSH key
 * "skyfs-<pool id>" (one a crashed run left under that name is deleted and
 * registered anew). Per node (provision): a launch, batched: the nodes of
 * the pool waiting when a launch goes out share it (quantity = their
 * number; a 2-node pool is one launch). A launch is named "<prefix>-<rank>"
 * for one node and "<prefix>-<first rank>-<last rank>" for several, and the
 * i-th id of its answer is the i-th lowest rank it carries; teardown finds
 * every one by the prefix (Lambda has no tags). Launches go through one
 * process-wide limiter (lambda_api.h): Lambda takes about one a 10 s.
 * The pool's threads share one GET /instances a second (Lambda allows about
 * one request a second) while they wait for "active" and an ip. Lambda's
 * launch takes no user data, so skyfs cannot install a host key: the first
 * key a node shows is recorded in <pool state>/lambda/known_hosts (never the
 * user's) and required from then on. terminate is batched like launch;
 * teardown terminates whatever still carries the pool's prefix and deletes
 * the SSH key.
 *
 * This file: the provider's operations. lambda_pool.c: the API client, the
 * instance listing and the batches; lambda_api.c: the wire (pure).
 *
 * Ownership: struct lambda_state belongs to the scheduler between prepare()
 * and teardown(); its locking is lambda_internal.h's. */
#define LOG_MODULE "lambda"
#include "providers/provider.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/json_api.h"
#include "providers/lambda_internal.h"
#include "scheduler/spec.h"
#include "transport/ssh.h"
#include "transport/sshkey.h"

#define DEFAULT_USER "ubuntu"
#define POLL_S 0.5
#define SWEEP_CHUNK 100

/* ---- offers, status ---------------------------------------------------------------- */

static int lambda_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
			 struct sky_err *err)
{
	struct lambda_client c;
	json_t *doc = NULL;
	int rc;

	(void)spec;
	*out = NULL;
	*n = 0;
	if ((rc = lambda_client_init(&c, err)))
		return rc;
	rc = lambda_call(&c, "GET", "/instance-types", NULL, &doc, err, "listing instance types",
			 NULL);
	if (!rc && (rc = lambda_parse_instance_types(doc, out, n)))
		sky_err_set(err, "lambda: GET /instance-types: unexpected answer (%s)",
			    strerror(-rc));
	json_decref(doc);
	lambda_client_fini(&c);
	return rc;
}

static int lambda_status(struct sky_buf *out)
{
	const char *key = getenv("LAMBDA_API_KEY");
	int configured = key && *key;

	sky_buf_printf(out, "configured: %s\n", configured ? "yes (API key from environment)" :
		       "no (LAMBDA_API_KEY is not set)");
	lambda_render_health(out, configured);
	return out->data ? 0 : -ENOMEM;
}

/* ---- prepare ---------------------------------------------------------------------- */

static int delete_key(struct lambda_state *st, const char *id, struct sky_err *err)
{
	char path[128];

	snprintf(path, sizeof(path), "/ssh-keys/%s", id);
	return lambda_call(&st->api, "DELETE", path, NULL, NULL, err, "deleting the SSH key", NULL);
}

/* The id of the SSH key named name: 0, -ENOENT when none, or -errno. */
static int find_key(struct lambda_state *st, const char *name, char *id, size_t len)
{
	struct sky_err err = { { 0 } };
	json_t *doc = NULL;
	int rc;

	rc = lambda_call(&st->api, "GET", "/ssh-keys", NULL, &doc, &err, "listing SSH keys", NULL);
	if (!rc)
		rc = lambda_find_ssh_key(doc, name, id, len);
	json_decref(doc);
	return rc;
}

/* The pool's login key, made here and registered; one left under the same
 * name by an earlier run of this pool (whose private half is gone) is
 * deleted and the key registered anew. */
static int register_key(struct lambda_state *st, struct sky_err *err)
{
	char pub[SKY_SSHKEY_LINE_MAX], old[64];
	int rc, tries;

	if ((rc = sky_cloud_login_key(st->base.dir, st->base.resume, st->prefix, st->base.key_path,
				      sizeof(st->base.key_path), pub, sizeof(pub), err)))
		return rc;
	for (tries = 0; tries < 2; tries++) {
		json_t *body = lambda_ssh_key_body(st->prefix, pub), *doc = NULL;

		rc = body ? lambda_call(&st->api, "POST", "/ssh-keys", body, &doc, err,
					"registering the SSH key", NULL) : -ENOMEM;
		json_decref(body);
		if (!rc && (rc = lambda_parse_ssh_key(doc, st->key_id, sizeof(st->key_id))))
			sky_err_set(err, "lambda: POST /ssh-keys answered without a key id");
		json_decref(doc);
		if ((rc != -EEXIST && rc != -EIO) || tries)
			break;
		/* the name in use reads as a refused request (Lambda says "invalid
		 * parameters") or a duplicate: only a key of that name tells */
		if (find_key(st, st->prefix, old, sizeof(old)))
			break;
		log_info("%s: replacing the SSH key an earlier run left", st->prefix);
		if ((rc = delete_key(st, old, err)))
			break;
	}
	return rc;
}

static int lambda_teardown(void *state, struct sky_err *err);
static int instance_gone(struct sky_cloud_node *n, char *why, size_t len);

static int lambda_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	struct lambda_state *st;
	pthread_condattr_t ca;
	int i, rc;

	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = sky_cloud_pool_init(&st->base, "lambda", pool, sizeof(*st->nodes));
	st->nodes = st->base.nodes;
	st->base.gone = instance_gone;
	if (rc)
		goto fail;
	for (i = 0; i < st->base.n_nodes; i++)
		st->nodes[i].waiting = -1;
	if ((rc = lambda_client_init(&st->api, err)))
		goto fail;
	lambda_prefix(st->base.id, st->prefix, sizeof(st->prefix));
	if ((rc = sky_cloud_dir(pool, "lambda", st->base.dir, sizeof(st->base.dir), err)))
		goto fail;
	/* a crashed run's records name addresses Lambda has given out again;
	 * a resumed pool's are its machines' */
	snprintf(st->known_hosts, sizeof(st->known_hosts), "%s/known_hosts", st->base.dir);
	if (!pool->resume)
		unlink(st->known_hosts);
	if ((rc = register_key(st, err)))
		goto fail;
	log_info("%s: prepared: SSH key %s (%s), %s in %s", pool->name, st->prefix, st->key_id,
		 st->base.offer->instance_type, st->base.offer->region);
	*state = st;
	return 0;
fail:
	/* give back what was made; the first error is the one to report */
	{
		struct sky_err ignored;

		st->base.keep = pool->resume;
		lambda_teardown(st, &ignored);
	}
	return rc;
}

/* ---- provision ---------------------------------------------------------------------- */

/* Whether a node that dropped is not coming back: its instance is going
 * or no longer listed (sky_cloud_pool.gone). */
static int instance_gone(struct sky_cloud_node *n, char *why, size_t len)
{
	struct lambda_state *st = (struct lambda_state *)n->pool;
	struct lambda_instance in;

	if (lambda_refresh(st, 0, NULL))
		return 0;
	if (lambda_lookup(st, n->id, &in)) {
		snprintf(why, len, "instance %s no longer listed", n->id);
		return 1;
	}
	if (lambda_instance_state(in.status) >= SKY_INST_STOPPING) {
		snprintf(why, len, "instance %s %s", n->id, in.status);
		return 1;
	}
	return 0;
}

/* Waits for the instance to be active with an ip (which may come later). */
static int wait_active(struct lambda_state *st, struct lambda_node *ln,
		       struct lambda_instance *in, double deadline, struct sky_err *err)
{
	int rc;

	memset(in, 0, sizeof(*in));
	for (;;) {
		if ((rc = lambda_refresh(st, POLL_FRESH_S, err)))
			return rc;
		if (!lambda_lookup(st, ln->base.id, in)) {
			if (!strcmp(in->status, "active") && in->ip[0])
				return 0;
			if (lambda_instance_state(in->status) >= SKY_INST_STOPPING) {
				sky_err_set(err, "lambda: instance %s %s while booting",
					    ln->base.id,
					    in->status);
				return -EAGAIN;
			}
		}
		if (sky_mono() >= deadline) {
			sky_err_set(err, "lambda: instance %s not active with an ip after %ld s "
				    "(%s)",
				    ln->base.id, sky_cloud_boot_s(&st->base),
				    in->status[0] ? in->status :
				    "not listed yet");
			return -ETIMEDOUT;
		}
		usleep((useconds_t)(POLL_S * 1e6));
	}
}

/* SSH to an active instance; no user data means no key of ours on it: its
 * first one is recorded (and checked from then on). */
static int connect_node(struct lambda_state *st, struct lambda_node *ln,
			const struct lambda_instance *in, struct sky_instance *inst, double deadline,
			struct sky_err *err)
{
	struct sky_cloud_ssh ssh = { 0 };

	sky_strlcpy(inst->address, in->ip, sizeof(inst->address));
	ssh.id = ln->base.id;
	ssh.host = inst->address;
	ssh.pinned_key = NULL;
	ssh.record_file = st->known_hosts;
	ssh.deadline = deadline;
	return sky_cloud_node_connect(&st->base, &ln->base, &ssh, DEFAULT_USER, inst, err);
}

static int terminate_listed(void *state, int rank, size_t *found, struct sky_err *err);

static int lambda_provision(void *state, int rank, struct sky_instance *inst,
			    struct sky_err *err)
{
	struct lambda_state *st = state;
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	struct lambda_instance in;
	struct lambda_node *ln;
	int rc;

	if (rank < 0 || rank >= st->base.n_nodes)
		return -EINVAL;
	ln = &st->nodes[rank];
	if ((rc = sky_cloud_end_strays(&st->base, st, rank, terminate_listed, err)))
		return rc;
	if ((rc = lambda_batch(st, ln, OP_LAUNCH, err)))
		return rc;
	/* from here on the node exists: terminate() must see its id */
	sky_strlcpy(inst->id, ln->base.id, sizeof(inst->id));
	inst->state = SKY_INST_PENDING;
	sky_cloud_launched(&st->base, rank, inst->id, NULL);
	if ((rc = wait_active(st, ln, &in, deadline, err)))
		return rc;
	return connect_node(st, ln, &in, inst, deadline, err);
}

/* An instance a crashed daemon recorded: still active and answering with
 * the host key recorded on first use (the pool's known_hosts survives a
 * resumed prepare), or not taken back. */
static int lambda_adopt(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct lambda_state *st = state;
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	struct lambda_instance in;
	struct lambda_node *ln;
	int rc;

	if ((rc = sky_cloud_adopt_begin(&st->base, rank, inst, 0, err)))
		return rc;
	ln = &st->nodes[rank];
	if ((rc = wait_active(st, ln, &in, deadline, err)))
		return rc == -EAGAIN ? -ENOENT : rc;
	return connect_node(st, ln, &in, inst, deadline, err);
}

static int lambda_get_instance(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct lambda_state *st = state;
	struct lambda_instance in;
	int rc;

	if (!inst->id[0]) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	if ((rc = lambda_refresh(st, POLL_FRESH_S, err)))
		return rc;
	/* not listed yet reads as booting: a launch shows up a little later */
	inst->state = lambda_lookup(st, inst->id, &in) ? SKY_INST_PENDING :
		      lambda_instance_state(in.status);
	return 0;
}

/* ---- terminate, teardown -------------------------------------------------------------- */

static int lambda_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct lambda_state *st = state;
	struct lambda_node *ln = (struct lambda_node *)sky_cloud_drop_conn(&st->base, inst);
	char ids[1][64];
	int rc, done = 0;

	if (ln) {
		pthread_mutex_lock(&st->base.lock);
		done = ln->terminated;
		pthread_mutex_unlock(&st->base.lock);
	}
	if (!inst->id[0] || done) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	if (ln) {
		rc = lambda_batch(st, ln, OP_TERMINATE, err);
	} else {
		sky_strlcpy(ids[0], inst->id, sizeof(ids[0]));
		rc = lambda_terminate_ids(st, ids, 1, err);
	}
	if (!rc)
		inst->state = SKY_INST_GONE;
	return rc;
}

/* Terminates what Lambda lists as the pool's (by name) and still runs:
 * every instance (rank < 0), or the ones of launches that carried the rank
 * and that no node here holds. *found: how many it asked to terminate. */
static int terminate_listed(void *state, int rank, size_t *found, struct sky_err *err)
{
	struct lambda_state *st = state;
	char (*ids)[64] = NULL;
	size_t n = 0, i;
	int rc, r;

	*found = 0;
	if ((rc = lambda_refresh(st, 0, err)))
		return rc;
	pthread_mutex_lock(&st->base.lock);
	ids = calloc(st->n_seen + 1, sizeof(*ids));
	for (i = 0; ids && i < st->n_seen; i++) {
		const struct lambda_instance *in = &st->seen[i];

		if (lambda_instance_state(in->status) >= SKY_INST_STOPPING ||
		    (rank >= 0 && !lambda_name_carries(in->name, st->prefix, rank)))
			continue;
		if (rank < 0 || !sky_cloud_node_of(&st->base, in->id))
			sky_strlcpy(ids[n++], in->id, sizeof(ids[0]));
	}
	pthread_mutex_unlock(&st->base.lock);
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < n; i += SWEEP_CHUNK)
		if ((r = lambda_terminate_ids(st, ids + i,
					      n - i < SWEEP_CHUNK ? n - i : SWEEP_CHUNK, err)) &&
		    !rc)
			rc = r;
	*found = n;
	free(ids);
	return rc;
}

/* Everything named as this pool's that still runs: instances whose
 * launch answer was lost, or a crashed run's. */
static int sweep(struct lambda_state *st, struct sky_err *err)
{
	size_t n = 0;
	int rc = terminate_listed(st, -1, &n, err);

	if (n)
		log_info("%s: swept %zu instance(s) of the pool", st->prefix, n);
	return rc;
}

/* The orphan sweep (provider.h): every instance of the account named as a
 * pool of this mount whose pool is not live here. */
static int lambda_sweep(const char *mount_id, const char *const *regions, size_t n_regions,
			sky_owned_fn owned, void *arg, struct sky_err *err)
{
	struct lambda_state st = { 0 };
	struct lambda_instance *list = NULL;
	json_t *doc = NULL;
	char hash[9], (*ids)[64] = NULL;
	size_t n = 0, i, k = 0;
	int rc;

	(void)regions;
	(void)n_regions;
	if ((rc = lambda_client_init(&st.api, err)))
		return rc == -EACCES ? -ENOKEY : rc;
	rc = lambda_call(&st.api, "GET", "/instances", NULL, &doc, err, "listing the instances",
			 NULL);
	/* every name "skyfs-..." (lambda_name_matches adds the dash) */
	if (!rc && (rc = lambda_parse_instances(doc, "skyfs", &list, &n)))
		sky_err_set(err, "lambda: GET /instances: unexpected answer (%s)", strerror(-rc));
	json_decref(doc);
	if (!rc && !(ids = calloc(n + 1, sizeof(*ids))))
		rc = -ENOMEM;
	for (i = 0; !rc && i < n; i++) {
		if (lambda_instance_state(list[i].status) >= SKY_INST_STOPPING ||
		    sky_cloud_pool_hash_in(list[i].name, mount_id, hash) ||
		    owned(hash, list[i].id, arg))
			continue;
		log_warn("orphan sweep: instance %s (%s) belongs to no node of a live pool: "
			 "terminating",
			 list[i].id, list[i].name);
		sky_strlcpy(ids[k++], list[i].id, sizeof(ids[0]));
	}
	for (i = 0; !rc && i < k; i += SWEEP_CHUNK)
		rc = lambda_terminate_ids(&st, ids + i, k - i < SWEEP_CHUNK ? k - i : SWEEP_CHUNK,
					  err);
	free(ids);
	free(list);
	lambda_client_fini(&st.api);
	return rc ? rc : (int)k;
}

static int lambda_teardown(void *state, struct sky_err *err)
{
	struct lambda_state *st = state;
	int rc = 0, r;

	if (!st)
		return 0;
	sky_cloud_close_nodes(&st->base);
	if (st->base.keep)
		st->key_id[0] = st->known_hosts[0] = '\0';
	else if (st->api.http && st->prefix[0])
		rc = sweep(st, err);
	if (st->key_id[0] && (r = delete_key(st, st->key_id, err)) && r != -ENOENT && !rc)
		rc = r;
	if (st->known_hosts[0])
		unlink(st->known_hosts);
	lambda_client_fini(&st->api);
	pthread_cond_destroy(&st->cond);
	free(st->seen);
	sky_cloud_pool_fini(&st->base);
	free(st);
	return rc;
}

const struct sky_provider_ops sky_provider_lambda = {
	.name = "lambda",
	.live_complete = 1,
	.status = lambda_status,
	.offers = lambda_offers,
	.prepare = lambda_prepare,
	.provision = lambda_provision,
	.get_instance = lambda_get_instance,
	.terminate = lambda_terminate,
	.teardown = lambda_teardown,
	.adopt = lambda_adopt,
	.sweep = lambda_sweep,
};
