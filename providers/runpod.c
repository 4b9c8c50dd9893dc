/* The runpod provider: RunPod pods as nodes, through its GraphQL API
 * (runpod_api.h) and reached over SSH (transport/ssh.h).
 *
 * Per pool (prepare): the API key (RUNPOD_API_KEY or ~/.runpod/config.toml)
 * and an ed25519 login key, handed to every pod as PUBLIC_KEY. Per node
 * (provision): a host key made here, handed to the pod in its environment
 * (SKYFS_HOST_KEY) with a start command that installs it as sshd's only
 * host key, so the transport pins that exact key from the first
 * connection on; then podFindAndDeployOnDemand, or podRentInterruptable
 * bidding the offer's spot price, named skyfs-<pool id>-<rank>. The pool's
 * provisioning threads share one `myself { pods }` listing (refreshed at
 * most twice a second), so 64 pods booting cost two calls a second, not
 * 128; the listing is also where a pod made twice (a deploy retried after
 * its answer was lost) shows up, and the extra one is terminated.
 * Teardown terminates every pod named as the pool's.
 *
 * Ownership: struct rp_state belongs to the scheduler between prepare()
 * and teardown(); its lock guards the pod listing and the nodes' ids and
 * connections, and is never held during a call to RunPod or the transport. */
#define LOG_MODULE "runpod"
#include "providers/provider.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "common/log.h"
#include "common/util.h"
#include "providers/cloud.h"
#include "providers/json_api.h"
#include "providers/runpod_api.h"
#include "scheduler/spec.h"
#include "transport/ssh.h"
#include "transport/sshkey.h"

#define DEFAULT_USER "root"
#define DEFAULT_IMAGE "runpod/base:0.6.2-cuda12.2.0"
#define CONTAINER_DISK_GB 20
#define CACHE_FRESH_S 0.5          /* one listing serves every waiter this long */
#define POLL_S 0.5
#define DIRECT_EVERY_S 5.0         /* a pod missing from the listing is asked for alone */

static struct sky_cloud_health health = SKY_CLOUD_HEALTH_INIT;

struct rp_node {
	struct sky_cloud_node base;      /* first: rank, id (the pod's), conn */
	double deployed_at;              /* sky_mono() when it answered */
	char host_pub[SKY_SSHKEY_LINE_MAX];
	int gone;                        /* atomic: reported gone for good */
};

struct rp_state {
	struct sky_cloud_pool base;      /* first: spec, offer, pool id, dir, lock, poll */
	struct rp_client api;
	char gpu_type[64];               /* the offer's "<gpuTypeId>/<cloud>", split */
	char cloud[16];                  /* SECURE, COMMUNITY */
	char prefix[128];                /* "skyfs-<pool id>-": the pool's pod names */
	char login_pub[SKY_SSHKEY_LINE_MAX];
	struct rp_node *nodes;           /* base.nodes */
	struct rp_pod *seen;             /* the pool's pods as last listed */
	size_t n_seen;
	double listed_at;                /* sky_mono() when that listing was asked for */
};

/* One call; the body is consumed. A failure as "runpod: <what>: <code>:
 * <message>" in err (may be NULL) and the whole error in *out (may be
 * NULL). Notes refused keys for providers/runpod/status. */
static int rp_pcall(struct rp_client *c, json_t *body, json_t **data, struct sky_err *err,
		    const char *what, struct sky_api_error *out)
{
	struct sky_api_error e;
	json_t *d = NULL;
	int rc = rp_call(c, body, &d, &e);

	json_decref(body);
	sky_cloud_health_note(&health, rc, &e, c->url);
	if (rc && err) {
		if (e.kind == SKY_API_AUTH)
			sky_err_set(err, "runpod: API key refused, check it (%s): %s%s%s", c->source,
				    e.code, e.code[0] ? ": " : "", e.message);
		else
			sky_err_set(err, "runpod: %s: %s%s%s%s", what, e.code, e.code[0] ? ": " : "",
				    e.message, e.attempts > 1 ? " (after retries)" : "");
	}
	if (out)
		*out = e;
	if (data)
		*data = d;
	else
		json_decref(d);
	return rc;
}

/* rp_client_init with its message in err; without a key every candidate
 * of the provider would fail alike: unusable. */
static int client_for(struct rp_client *c, struct sky_err *err)
{
	char msg[400] = "";
	int rc = rp_client_init(c, msg, sizeof(msg));

	if (rc)
		sky_err_set(err, "runpod: %s", msg[0] ? msg : strerror(-rc));
	return rc == -ENOENT ? -EACCES : rc;
}

/* ---- offers ------------------------------------------------------------------------- */

/* The snapshot's estimates of vCPUs and memory for the same shape: the
 * API prices a GPU type, not a machine. */
static void fill_shapes(struct sky_offer *live, size_t n)
{
	struct sky_offer *all = NULL;
	size_t n_all = 0, i, j;

	if (sky_catalog_offers(&all, &n_all))
		return;
	for (i = 0; i < n; i++)
		for (j = 0; j < n_all; j++)
			if (!strcmp(all[j].provider, "runpod") && all[j].vcpus &&
			    all[j].accelerator_count == live[i].accelerator_count &&
			    !strcmp(all[j].instance_type, live[i].instance_type) &&
			    !strcmp(all[j].region, live[i].region)) {
				live[i].vcpus = all[j].vcpus;
				live[i].memory_gb = all[j].memory_gb;
				break;
			}
	free(all);
}

static int rp_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
		     struct sky_err *err)
{
	struct rp_client c;
	json_t *data = NULL;
	int rc;

	(void)spec;
	*out = NULL;
	*n = 0;
	if ((rc = client_for(&c, err)))
		return rc;
	if ((rc = rp_pcall(&c, rp_req_gpu_types(), &data, err, "listing GPU types", NULL)))
		goto out;
	if ((rc = rp_parse_gpu_types(data, out, n))) {
		sky_err_set(err, "runpod: gpuTypes missing from the answer");
		goto out;
	}
	fill_shapes(*out, *n);
out:
	json_decref(data);
	rp_client_fini(&c);
	return rc;
}

/* ---- the pool's pods, listed together -------------------------------------------- */

/* The rank a pod name gives when it is one of the pool's ("<prefix><rank>"),
 * else -1: another pool's id may start with this one's. */
static int rank_of(const struct rp_state *st, const char *name)
{
	size_t n = strlen(st->prefix);
	const char *r = name + n;

	if (strncmp(name, st->prefix, n) || !*r || strspn(r, "0123456789") != strlen(r) ||
	    strlen(r) > 6)
		return -1;
	return atoi(r);
}

static int terminate_pod(struct rp_state *st, const char *id, struct sky_err *err)
{
	char what[128];
	int rc;

	snprintf(what, sizeof(what), "terminating pod %s", id);
	rc = rp_pcall(&st->api, rp_req_terminate(id), NULL, err, what, NULL);
	return rc == -ENOENT ? 0 : rc;   /* gone already */
}

/* Lists the pool's pods into st->seen (sky_cloud_poll's fetch: one thread
 * at a time), then terminates any pod with a node's name that is not the
 * node's: a deploy whose answer was lost and that was sent again. */
static int list_pods(void *arg, struct sky_err *err)
{
	struct rp_state *st = arg;
	struct rp_pod *list = NULL;
	char (*strays)[64] = NULL;
	size_t n = 0, i, k = 0, n_strays = 0;
	json_t *data = NULL;
	double asked = sky_mono();
	int rc, r;

	rc = rp_pcall(&st->api, rp_req_pods(), &data, err, "listing the pods", NULL);
	if (!rc && (rc = rp_parse_pods(data, &list, &n)))
		sky_err_set(err, "runpod: myself.pods missing from the answer");
	json_decref(data);
	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		if (rank_of(st, list[i].name) >= 0)
			list[k++] = list[i];
	strays = calloc(k + 1, sizeof(*strays));
	pthread_mutex_lock(&st->base.lock);
	for (i = 0; strays && i < k; i++) {
		r = rank_of(st, list[i].name);
		if (r < st->base.n_nodes && st->nodes[r].base.id[0] &&
		    strcmp(st->nodes[r].base.id, list[i].id) && strcmp(list[i].status, "TERMINATED"))
			sky_strlcpy(strays[n_strays++], list[i].id, sizeof(strays[0]));
	}
	free(st->seen);
	st->seen = list;
	st->n_seen = k;
	st->listed_at = asked;
	pthread_mutex_unlock(&st->base.lock);
	for (i = 0; i < n_strays; i++) {
		log_warn("%s: pod %s has a node's name but is not its pod (a deploy sent twice): "
			 "terminating it", st->base.id, strays[i]);
		terminate_pod(st, strays[i], NULL);
	}
	free(strays);
	return 0;
}

static int rp_refresh(struct rp_state *st, double max_age, struct sky_err *err)
{
	return sky_cloud_poll(&st->base.poll, max_age, list_pods, st, err);
}

/* The listed view of pod id: 0 and *out, -ENOENT when not listed; then
 * -ESTALE when the listing was asked for before since (the pod may be too
 * new for it). */
static int rp_lookup(struct rp_state *st, const char *id, double since, struct rp_pod *out)
{
	size_t i;
	int rc;

	pthread_mutex_lock(&st->base.lock);
	rc = st->listed_at < since ? -ESTALE : -ENOENT;
	for (i = 0; i < st->n_seen; i++)
		if (!strcmp(st->seen[i].id, id)) {
			*out = st->seen[i];
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&st->base.lock);
	return rc;
}

/* pod(input:{podId}) alone: 0 and *out, -ENOENT when RunPod has no such pod. */
static int query_pod(struct rp_state *st, const char *id, struct rp_pod *out,
		     struct sky_err *err)
{
	json_t *data = NULL;
	int rc = rp_pcall(&st->api, rp_req_pod(id), &data, err, "asking for a pod", NULL);

	if (!rc)
		rc = rp_parse_pod_answer(data, out);
	json_decref(data);
	return rc;
}

/* ---- prepare ------------------------------------------------------------------------ */

static int rp_teardown(void *state, struct sky_err *err);
static int pod_gone(struct sky_cloud_node *n, char *why, size_t len);

/* "<gpuTypeId>/<secure|community>" (the catalog's instance type) into
 * the deploy's gpuTypeId and cloudType. */
static int split_offer(struct rp_state *st, struct sky_err *err)
{
	const char *type = st->base.offer->instance_type, *slash = strrchr(type, '/');

	if (slash && (size_t)(slash - type) < sizeof(st->gpu_type) && slash > type) {
		snprintf(st->gpu_type, sizeof(st->gpu_type), "%.*s", (int)(slash - type), type);
		if (!strcmp(slash + 1, "secure"))
			sky_strlcpy(st->cloud, "SECURE", sizeof(st->cloud));
		else if (!strcmp(slash + 1, "community"))
			sky_strlcpy(st->cloud, "COMMUNITY", sizeof(st->cloud));
		if (st->cloud[0])
			return 0;
	}
	sky_err_set(err, "runpod: offer %s is not <gpuTypeId>/<secure|community>", type);
	return -EINVAL;
}

static int rp_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	struct rp_state *st;
	char comment[160];
	int rc;

	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	rc = sky_cloud_pool_init(&st->base, "runpod", pool, sizeof(*st->nodes));
	st->nodes = st->base.nodes;
	st->base.gone = pod_gone;
	if (rc)
		goto fail;
	if ((rc = split_offer(st, err)) || (rc = client_for(&st->api, err)))
		goto fail;
	snprintf(st->prefix, sizeof(st->prefix), "skyfs-%s-", st->base.id);
	snprintf(comment, sizeof(comment), "skyfs-%s", st->base.id);
	if ((rc = sky_cloud_dir(pool, "runpod", st->base.dir, sizeof(st->base.dir), err)) ||
	    (rc = sky_cloud_login_key(st->base.dir, pool->resume, comment, st->base.key_path,
				      sizeof(st->base.key_path), st->login_pub, sizeof(st->login_pub), err)))
		goto fail;
	log_info("%s: prepared: %s cloud, GPU type %s, pods %s<rank>, API %s (key from %s)",
		 pool->name, st->cloud, st->gpu_type, st->prefix, st->api.url, st->api.source);
	*state = st;
	return 0;
fail:
	/* give back what was made; the first error is the one to report */
	{
		struct sky_err ignored;

		st->base.keep = pool->resume;
		rp_teardown(st, &ignored);
	}
	return rc;
}

/* ---- provision ------------------------------------------------------------------------ */

/* Why a pod that was listed is not coming back, into buf. */
static void why_gone(const struct rp_pod *pod, int listed, char *buf, size_t len)
{
	if (!listed)
		snprintf(buf, len, "pod %s is gone (no longer listed)", pod->id);
	else
		snprintf(buf, len, "pod %s is %s%s", pod->id, pod->status,
			 !strcmp(pod->status, "EXITED") ? " (stopped, or reclaimed if spot)" : "");
}

/* Whether a node that dropped is not coming back: its pod is gone
 * (sky_cloud_pool.gone). */
static int pod_gone(struct sky_cloud_node *n, char *why, size_t len)
{
	struct rp_state *st = (struct rp_state *)n->pool;
	struct rp_node *an = (struct rp_node *)n;
	struct rp_pod pod = { .has_runtime = 0 };
	int listed;

	if (rp_refresh(st, 0, NULL))
		return 0;
	sky_strlcpy(pod.id, an->base.id, sizeof(pod.id));
	listed = !rp_lookup(st, an->base.id, 0, &pod);
	if (listed && !rp_pod_gone(&pod))
		return 0;
	why_gone(&pod, listed, why, len);
	__atomic_store_n(&an->gone, 1, __ATOMIC_RELEASE);
	return 1;
}

/* The transport's thread says a node dropped or came back. Once its pod
 * is gone nothing it says counts (its address may be another machine's by
 * then). */
static void conn_state(void *arg, int up, const char *why)
{
	struct rp_node *an = arg;

	if (__atomic_load_n(&an->gone, __ATOMIC_ACQUIRE))
		return;
	if (up < 0)
		__atomic_store_n(&an->gone, 1, __ATOMIC_RELEASE);
	sky_cloud_conn_state(arg, up, why);
}

static int deploy(struct rp_state *st, struct rp_node *an, const char *host_key,
		  struct sky_err *err)
{
	const struct sky_offer *o = st->base.offer;
	struct rp_deploy d = { 0 };
	struct sky_api_error e;
	char name[160], id[64], *b64 = NULL;
	size_t klen = strlen(host_key);
	json_t *data = NULL;
	int rc;

	if (!(b64 = malloc(4 * ((klen + 2) / 3) + 1)))
		return -ENOMEM;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)host_key, (int)klen);
	snprintf(name, sizeof(name), "%s%d", st->prefix, an->base.rank);
	d.spot = o->market == SKY_MARKET_SPOT;
	d.cloud = st->cloud;
	d.gpu_type = st->gpu_type;
	d.gpu_count = o->accelerator_count > 0 ? o->accelerator_count : 1;
	d.bid_per_gpu = o->price_usd_per_hour / d.gpu_count;
	d.name = name;
	d.image = DEFAULT_IMAGE;
	d.public_key = st->login_pub;
	d.host_key_b64 = b64;
	d.container_disk_gb = CONTAINER_DISK_GB;
	rc = rp_pcall(&st->api, rp_req_deploy(&d), &data, err,
		      d.spot ? "renting a spot pod" : "deploying a pod", &e);
	if (rc && d.spot && e.kind == SKY_API_CLIENT) {
		/* RunPod dropped spot pods in 2026: a refused mutation is no spot
		 * market here, the next candidate's business */
		sky_err_set(err, "runpod: no spot pods (podRentInterruptable refused: %s%s%s)",
			    e.code, e.code[0] ? ": " : "", e.message);
		rc = -EAGAIN;
	}
	if (!rc && (rc = rp_parse_deploy(data, id, sizeof(id))))
		sky_err_set(err, "runpod: the deploy answered without a pod id");
	if (!rc) {
		pthread_mutex_lock(&st->base.lock);
		sky_strlcpy(an->base.id, id, sizeof(an->base.id));
		an->deployed_at = sky_mono();
		pthread_mutex_unlock(&st->base.lock);
	}
	json_decref(data);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return rc;
}

/* Waits for the pod's container to run with a public port mapped to 22. */
static int wait_running(struct rp_state *st, struct rp_node *an, struct rp_pod *pod,
			double deadline, struct sky_err *err)
{
	double direct_at = 0;
	char why[300];
	int rc, listed;

	for (;;) {
		if ((rc = rp_refresh(st, CACHE_FRESH_S, err)))
			return rc;
		rc = rp_lookup(st, an->base.id, an->deployed_at, pod);
		listed = !rc;
		if (rc == -ENOENT && sky_mono() >= direct_at) {
			/* not in a listing newer than the pod: ask for it alone,
			 * now and then */
			direct_at = sky_mono() + DIRECT_EVERY_S;
			rc = query_pod(st, an->base.id, pod, err);
			if (rc == -ENOENT) {
				sky_strlcpy(pod->id, an->base.id, sizeof(pod->id));
				why_gone(pod, 0, why, sizeof(why));
				sky_err_set(err, "runpod: %s while booting", why);
				return -EAGAIN;
			}
			if (rc)
				return rc;
			listed = 1;
		}
		if (listed && rp_pod_gone(pod)) {
			why_gone(pod, 1, why, sizeof(why));
			sky_err_set(err, "runpod: %s while booting", why);
			return -EAGAIN;
		}
		if (listed && pod->has_runtime && pod->ip[0])
			return 0;
		if (sky_mono() >= deadline) {
			sky_err_set(err, "runpod: pod %s has no public SSH port after %ld s (%s)",
				    an->base.id, sky_cloud_boot_s(&st->base),
				    !listed ? "not listed yet" :
				    !pod->has_runtime ? "its container is not up" :
				    "no public port maps 22");
			return -ETIMEDOUT;
		}
		usleep((useconds_t)(POLL_S * 1e6));
	}
}

/* The pod ends itself when its controller is gone: runpodctl (in RunPod's
 * images, with the pod's own key), else podTerminate with the key RunPod
 * gives every pod (RUNPOD_API_KEY); the user's key never goes to a node. */
static int install_deadman(struct rp_state *st, struct sky_instance *inst, struct sky_err *err)
{
	struct sky_buf how = { 0 };
	int rc;

	sky_buf_printf(&how, "runpodctl remove pod %s 2>/dev/null || curl -fsS -m 30 "
		       "-H 'Content-Type: application/json' -H \"Authorization: Bearer ", inst->id);
	sky_cloud_env_ref(&how, "RUNPOD_API_KEY");
	sky_buf_printf(&how, "\" --data '{\"query\":\"mutation { podTerminate(input: "
		       "{podId: \\\"%s\\\"}) }\"}' '%s'", inst->id, st->api.url);
	rc = how.data ? sky_cloud_deadman(inst->conn, sky_cloud_orphan_timeout(&st->base),
					  how.data, err) : -ENOMEM;
	sky_buf_free(&how);
	return rc;
}

/* SSH to a running pod with its pinned host key, then its dead-man switch. */
static int connect_pod(struct rp_state *st, struct rp_node *an, const struct rp_pod *pod,
		       struct sky_instance *inst, double deadline, struct sky_err *err)
{
	struct sky_cloud_ssh ssh = { 0 };
	int rc;

	/* the host's public address: what other nodes' jobs are told */
	sky_strlcpy(inst->address, pod->ip, sizeof(inst->address));
	ssh.id = an->base.id;
	ssh.host = pod->ip;
	ssh.port = pod->port;
	ssh.pinned_key = an->host_pub;
	ssh.deadline = deadline;
	ssh.state = conn_state;
	rc = sky_cloud_node_connect(&st->base, &an->base, &ssh, DEFAULT_USER, inst, err);
	if (!rc)
		rc = install_deadman(st, inst, err);
	return rc;
}

static int terminate_listed(void *state, int rank, size_t *found, struct sky_err *err);

static int rp_provision(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct rp_state *st = state;
	struct rp_node *an;
	struct rp_pod pod = { .has_runtime = 0 };
	char *key = NULL, comment[200];
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	int rc;

	if (rank < 0 || rank >= st->base.n_nodes)
		return -EINVAL;
	an = &st->nodes[rank];
	if ((rc = sky_cloud_end_strays(&st->base, st, rank, terminate_listed, err)))
		goto out;
	snprintf(comment, sizeof(comment), "%s%d", st->prefix, rank);
	if ((rc = sky_cloud_host_key(st->base.dir, rank, comment, &key, an->host_pub,
				     sizeof(an->host_pub), err)))
		goto out;
	if ((rc = deploy(st, an, key, err)))
		goto out;
	/* from here on the pod exists: terminate() must see its id */
	sky_strlcpy(inst->id, an->base.id, sizeof(inst->id));
	inst->state = SKY_INST_PENDING;
	sky_cloud_launched(&st->base, rank, inst->id, an->host_pub);
	if ((rc = wait_running(st, an, &pod, deadline, err)))
		goto out;
	rc = connect_pod(st, an, &pod, inst, deadline, err);
out:
	sky_cloud_free_secret(key);
	return rc;
}

/* A pod a crashed daemon recorded: still running and answering with the
 * host key skyfs made for it, or not taken back. */
static int rp_adopt(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct rp_state *st = state;
	struct rp_node *an;
	struct rp_pod pod = { .has_runtime = 0 };
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	int rc;

	if ((rc = sky_cloud_adopt_begin(&st->base, rank, inst, 1, err)))
		return rc;
	an = &st->nodes[rank];
	pthread_mutex_lock(&st->base.lock);
	an->deployed_at = 0;
	pthread_mutex_unlock(&st->base.lock);
	sky_strlcpy(an->host_pub, inst->host_pub, sizeof(an->host_pub));
	if ((rc = wait_running(st, an, &pod, deadline, err)))
		return rc == -EAGAIN ? -ENOENT : rc;
	return connect_pod(st, an, &pod, inst, deadline, err);
}

/* When the pod's deploy answered (0 when it is not a node's). */
static double node_deployed_at(struct rp_state *st, const char *id)
{
	struct rp_node *an;
	double at;

	pthread_mutex_lock(&st->base.lock);
	an = (struct rp_node *)sky_cloud_node_of(&st->base, id);
	at = an ? an->deployed_at : 0;
	pthread_mutex_unlock(&st->base.lock);
	return at;
}

static int rp_get_instance(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct rp_state *st = state;
	struct rp_pod pod;
	int rc;

	if (!inst->id[0]) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	if ((rc = rp_refresh(st, CACHE_FRESH_S, err)))
		return rc;
	rc = rp_lookup(st, inst->id, node_deployed_at(st, inst->id), &pod);
	if (rc == -ESTALE) {
		inst->state = SKY_INST_PENDING;   /* too new for the listing */
		return 0;
	}
	if (rc) {
		rc = query_pod(st, inst->id, &pod, err);
		if (rc == -ENOENT) {
			inst->state = SKY_INST_GONE;
			return 0;
		}
		if (rc)
			return rc;
	}
	if (!strcmp(pod.status, "TERMINATED"))
		inst->state = SKY_INST_GONE;
	else if (rp_pod_gone(&pod))
		inst->state = SKY_INST_STOPPING;
	else if (pod.has_runtime && pod.ip[0])
		inst->state = SKY_INST_RUNNING;
	else
		inst->state = SKY_INST_PENDING;
	return 0;
}

/* ---- terminate, teardown ------------------------------------------------------------ */

static int rp_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct rp_state *st = state;
	int rc;

	sky_cloud_drop_conn(&st->base, inst);
	if (!inst->id[0]) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	if (!(rc = terminate_pod(st, inst->id, err)))
		inst->state = SKY_INST_GONE;
	return rc;
}

/* Terminates what RunPod lists as the pool's (by name) and is not
 * terminated: every pod (rank < 0), or the ones named as the rank that no
 * node here holds. *found: how many it asked to terminate. */
static int terminate_listed(void *state, int rank, size_t *found, struct sky_err *err)
{
	struct rp_state *st = state;
	char (*ids)[64] = NULL;
	size_t n = 0, i;
	int rc, r;

	*found = 0;
	if ((rc = rp_refresh(st, 0, err)))
		return rc;
	pthread_mutex_lock(&st->base.lock);
	ids = calloc(st->n_seen + 1, sizeof(*ids));
	for (i = 0; ids && i < st->n_seen; i++) {
		if (!strcmp(st->seen[i].status, "TERMINATED") ||
		    (rank >= 0 && rank_of(st, st->seen[i].name) != rank))
			continue;
		if (rank < 0 || !sky_cloud_node_of(&st->base, st->seen[i].id))
			sky_strlcpy(ids[n++], st->seen[i].id, sizeof(ids[0]));
	}
	pthread_mutex_unlock(&st->base.lock);
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if ((r = terminate_pod(st, ids[i], err)) && !rc)
			rc = r;
	*found = n;
	free(ids);
	return rc;
}

/* Every pod named as the pool's that is not terminated: pods whose deploy
 * answer was lost, or a crashed run's. */
static int sweep(struct rp_state *st, struct sky_err *err)
{
	size_t n = 0;
	int rc = terminate_listed(st, -1, &n, err);

	if (n)
		log_info("%s: swept %zu pod(s) of the pool", st->base.id, n);
	return rc;
}

static int rp_teardown(void *state, struct sky_err *err)
{
	struct rp_state *st = state;
	int rc = 0;

	if (!st)
		return 0;
	sky_cloud_close_nodes(&st->base);
	if (st->api.http && st->prefix[0] && !st->base.keep)
		rc = sweep(st, err);
	rp_client_fini(&st->api);
	free(st->seen);
	sky_cloud_pool_fini(&st->base);
	free(st);
	return rc;
}

/* The orphan sweep (provider.h): every pod of the account named as a pool
 * of this mount whose pool is not live here. */
static int rp_sweep(const char *mount_id, const char *const *regions, size_t n_regions,
		    sky_owned_fn owned, void *arg, struct sky_err *err)
{
	struct rp_state st = { 0 };
	struct rp_pod *list = NULL;
	json_t *data = NULL;
	char hash[9];
	size_t n = 0, i;
	int rc, killed = 0;

	(void)regions;
	(void)n_regions;
	if ((rc = client_for(&st.api, err)))
		return rc == -EACCES ? -ENOKEY : rc;
	rc = rp_pcall(&st.api, rp_req_pods(), &data, err, "listing the pods", NULL);
	if (!rc && (rc = rp_parse_pods(data, &list, &n)))
		sky_err_set(err, "runpod: myself.pods missing from the answer");
	json_decref(data);
	for (i = 0; !rc && i < n; i++) {
		if (strncmp(list[i].name, "skyfs-", 6) || !strcmp(list[i].status, "TERMINATED") ||
		    sky_cloud_pool_hash_in(list[i].name, mount_id, hash) ||
		    owned(hash, list[i].id, arg))
			continue;
		log_warn("orphan sweep: pod %s (%s) belongs to no node of a live pool: terminating",
			 list[i].id, list[i].name);
		if (!(rc = terminate_pod(&st, list[i].id, err)))
			killed++;
	}
	free(list);
	rp_client_fini(&st.api);
	return rc ? rc : killed;
}

/* ---- status ------------------------------------------------------------------------ */

static int rp_status(struct sky_buf *out)
{
	char key[RP_KEY_MAX], source[256] = "", msg[400] = "";
	int rc = rp_load_key(key, sizeof(key), source, sizeof(source), msg, sizeof(msg));

	OPENSSL_cleanse(key, sizeof(key));
	if (rc)
		sky_buf_printf(out, "configured: no (%s)\n", msg);
	else
		sky_buf_printf(out, "configured: yes (API key from %s)\n", source);
	sky_cloud_health_render(&health, out, rc == 0);
	return out->data ? 0 : -ENOMEM;
}

const struct sky_provider_ops sky_provider_runpod = {
	.name = "runpod",
	.live_complete = 1,
	.status = rp_status,
	.offers = rp_offers,
	.prepare = rp_prepare,
	.provision = rp_provision,
	.get_instance = rp_get_instance,
	.terminate = rp_terminate,
	.teardown = rp_teardown,
	.adopt = rp_adopt,
	.sweep = rp_sweep,
};
