/* The vastai provider: machines rented on the Vast.ai marketplace as
 * nodes, through its REST API (vastai_api.h) and reached over SSH
 * (transport/ssh.h).
 *
 * Offers are machine shapes, not single asks: one offer per GPU name
 * (instance type "A100_SXM4"), catalog name (gpu_ram tells the 40 and
 * 80 GB A100 apart), GPU count, geolocation (region) and market, priced
 * at its cheapest ask (dph_total on demand, min_bid as a bid), from a
 * POST /bundles/ search per alternative of the spec (vastai_offers.c).
 * An ask is one
 * machine, so a pool of N nodes takes N asks: each node searches the
 * shape again (one search shared by the nodes renting together) and rents
 * the cheapest ask of it within max_price that no other node of the pool
 * took; an ask that is gone meanwhile (404 no_such_ask, 410) moves that
 * node to the next one, and when none is left the candidate fails as
 * capacity. Nodes after the first may cost more than the plan's price.
 *
 * Per pool (prepare): an ed25519 login key, attached to each instance
 * (POST /instances/{id}/ssh/); instances left by a crashed run of the pool
 * (label prefix) are destroyed. Per node (provision): a host key made here
 * travels in the instance's env (SKYFS_HOST_KEY) and onstart installs it
 * as the only host key and makes sshd reload; the image's sshd serves its
 * own key until then, so the connection pins ours and retries a refused
 * key until the boot deadline (key_may_change). Label
 * skyfs-<pool id>-<rank>: teardown sweeps every instance so labelled. The
 * threads of one pool share one GET /instances/ a while (64 nodes booting
 * cost one call per poll, not 64). The image is VASTAI_DEFAULT_IMAGE: the
 * spec's image key names an AMI.
 *
 * Ownership: struct vastai_state belongs to the scheduler between prepare()
 * and teardown(); its lock (base.lock) guards the instance and ask lists,
 * the taken asks and each node's id and conn; never held during an API call or a
 * transport call. */
#define LOG_MODULE "vastai"
#include "providers/provider.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/cloud.h"
#include "providers/vastai_api.h"
#include "scheduler/spec.h"
#include "transport/ssh.h"
#include "transport/sshkey.h"

#define DEFAULT_USER "root"
#define DISK_GB 32
#define POLL_S 0.5
#define LIST_FRESH_S 0.5           /* a GET /instances/ serves every waiter this long */
#define ASKS_FRESH_S 2.0           /* a shape's search serves the nodes renting together */
#define ASK_TRIES 8                /* asks one node tries before the shape counts as full */

struct vastai_node {
	struct sky_cloud_node base;      /* first: rank, id (id's text), conn */
	long long id;                    /* 0 until an ask was rented */
	char host_pub[SKY_SSHKEY_LINE_MAX];
};

struct vastai_state {
	struct sky_cloud_pool base;      /* first: spec, offer, pool id, dir, lock, poll */
	struct vastai_client api;
	const struct sky_request *req;
	char label_prefix[128];          /* "skyfs-<pool id>-" */
	char login_pub[SKY_SSHKEY_LINE_MAX];
	struct vastai_node *nodes;       /* base.nodes */
	struct vastai_instance *seen;    /* the pool's instances (by label) as last listed */
	size_t n_seen;
	struct sky_cloud_poll ask_poll;  /* POST /bundles/ for the offer's shape */
	struct vastai_ask *asks;
	size_t n_asks;
	long long *taken;                /* asks a node rented or found gone */
	size_t n_taken, cap_taken;
	char ask_failed[300];            /* the last ask found gone: "ask N: why" */
	int renting;                     /* nodes between taking an ask and its answer */
	pthread_cond_t rented;           /* renting went down */
};

/* ---- the pool's instances, listed together ------------------------------------------ */

/* GET /instances/: every instance of the account; the pool's by label. */
static int list_instances(void *arg, struct sky_err *err)
{
	struct vastai_state *st = arg;
	struct vastai_instance *list = NULL;
	size_t n = 0, i, k = 0;
	json_t *doc = NULL;
	int rc;

	rc = vastai_call(&st->api, "GET", "/instances/?owner=me", NULL, &doc, err,
			 "listing the instances", NULL);
	if (!rc && (rc = vastai_parse_instances(doc, &list, &n)) == -EPROTO)
		sky_err_set(err, "vastai: /instances/ answered without an instances list");
	json_decref(doc);
	for (i = 0; !rc && i < n; i++)
		if (!strncmp(list[i].label, st->label_prefix, strlen(st->label_prefix)))
			list[k++] = list[i];
	pthread_mutex_lock(&st->base.lock);
	if (!rc) {
		free(st->seen);
		st->seen = list;
		st->n_seen = k;
		list = NULL;
	}
	pthread_mutex_unlock(&st->base.lock);
	free(list);
	return rc;
}

static int refresh(struct vastai_state *st, double max_age, struct sky_err *err)
{
	return sky_cloud_poll(&st->base.poll, max_age, list_instances, st, err);
}

/* The listed view of instance id: 0 and *out, -ENOENT when not listed. */
static int lookup(struct vastai_state *st, long long id, struct vastai_instance *out)
{
	size_t i;
	int rc = -ENOENT;

	pthread_mutex_lock(&st->base.lock);
	for (i = 0; i < st->n_seen; i++)
		if (st->seen[i].id == id) {
			*out = st->seen[i];
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&st->base.lock);
	return rc;
}

static int destroy(struct vastai_state *st, long long id, struct sky_err *err)
{
	json_t *doc = NULL;
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/instances/%lld/", id);
	rc = vastai_call(&st->api, "DELETE", path, NULL, &doc, err, "destroying an instance", NULL);
	json_decref(doc);
	return rc == -ENOENT ? 0 : rc;   /* already gone */
}

/* Whether a node of the pool holds instance id (base.lock held). */
static int held_by_node(const struct vastai_state *st, long long id)
{
	int j;

	for (j = 0; j < st->base.n_nodes; j++)
		if (st->nodes[j].id == id)
			return 1;
	return 0;
}

/* Destroys what Vast.ai lists as the pool's, by label: every node's
 * instance (rank < 0), or the ones of one rank that no node here holds.
 * *found: how many it asked to destroy. */
static int destroy_listed(void *state, int rank, size_t *found, struct sky_err *err)
{
	struct vastai_state *st = state;
	size_t plen = strlen(st->label_prefix), i, n = 0;
	long long *ids;
	char want[16];
	int rc, r;

	*found = 0;
	snprintf(want, sizeof(want), "%d", rank);
	if ((rc = refresh(st, 0, err)))
		return rc;
	pthread_mutex_lock(&st->base.lock);
	ids = calloc(st->n_seen + 1, sizeof(*ids));
	for (i = 0; ids && i < st->n_seen; i++) {
		const char *r_of = st->seen[i].label + plen;

		if (!*r_of || strspn(r_of, "0123456789") != strlen(r_of) ||
		    (rank >= 0 && strcmp(r_of, want)))
			continue;
		if (rank < 0 || !held_by_node(st, st->seen[i].id))
			ids[n++] = st->seen[i].id;
	}
	pthread_mutex_unlock(&st->base.lock);
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if ((r = destroy(st, ids[i], err)) && !rc)
			rc = r;
	*found = n;
	free(ids);
	return rc;
}

/* Every instance labelled as one of the pool's nodes: a crashed run's
 * (prepare) or one whose rental answer was lost (teardown). */
static int sweep(struct vastai_state *st, struct sky_err *err)
{
	size_t n = 0;
	int rc = destroy_listed(st, -1, &n, err);

	if (n)
		log_info("%s: swept %zu instance(s) of the pool", st->base.id, n);
	return rc;
}

/* The orphan sweep (provider.h): every instance of the account labelled
 * as a pool of this mount whose pool is not live here. */
static int vastai_sweep(const char *mount_id, const char *const *regions, size_t n_regions,
			sky_owned_fn owned, void *arg, struct sky_err *err)
{
	struct vastai_state st = { 0 };
	struct vastai_instance *list = NULL;
	json_t *doc = NULL;
	char hash[9], id[32];
	size_t n = 0, i;
	int rc, killed = 0;

	(void)regions;
	(void)n_regions;
	if ((rc = vastai_client_init(&st.api, err)))
		return rc == -EACCES ? -ENOKEY : rc;
	rc = vastai_call(&st.api, "GET", "/instances/?owner=me", NULL, &doc, err,
			 "listing the instances", NULL);
	if (!rc && (rc = vastai_parse_instances(doc, &list, &n)) == -EPROTO)
		sky_err_set(err, "vastai: /instances/ answered without an instances list");
	json_decref(doc);
	for (i = 0; !rc && i < n; i++) {
		/* as provision() writes inst->id */
		snprintf(id, sizeof(id), "%lld", list[i].id);
		if (strncmp(list[i].label, "skyfs-", 6) ||
		    sky_cloud_pool_hash_in(list[i].label, mount_id, hash) || owned(hash, id, arg))
			continue;
		log_warn("orphan sweep: instance %lld (%s) belongs to no node of a live pool: "
			 "destroying",
			 list[i].id, list[i].label);
		if (!(rc = destroy(&st, list[i].id, err)))
			killed++;
	}
	free(list);
	vastai_client_fini(&st.api);
	return rc ? rc : killed;
}

/* ---- prepare ---------------------------------------------------------------------------- */

static int vastai_teardown(void *state, struct sky_err *err);
static int instance_gone(struct sky_cloud_node *n, char *why, size_t len);

static int vastai_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	struct vastai_state *st;
	char comment[160];
	int rc;

	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	pthread_cond_init(&st->rented, NULL);
	sky_cloud_poll_init(&st->ask_poll);
	st->req = pool->request;
	rc = sky_cloud_pool_init(&st->base, "vastai", pool, sizeof(*st->nodes));
	st->nodes = st->base.nodes;
	st->base.gone = instance_gone;
	if (rc)
		goto fail;
	if ((rc = vastai_client_init(&st->api, err)))
		goto fail;
	snprintf(st->label_prefix, sizeof(st->label_prefix), "skyfs-%s-", st->base.id);
	snprintf(comment, sizeof(comment), "skyfs-%s", st->base.id);
	if ((rc = sky_cloud_dir(pool, "vastai", st->base.dir, sizeof(st->base.dir), err)) ||
	    (rc = sky_cloud_login_key(st->base.dir, pool->resume, comment, st->base.key_path,
				      sizeof(st->base.key_path), st->login_pub, sizeof(st->login_pub), err)) ||
	    /* a crashed run's instances go, unless they are the pool's own */
	    (!pool->resume && (rc = sweep(st, err))))
		goto fail;
	log_info("%s: prepared: %s %s x%d in %s, %s", pool->name, st->base.offer->instance_type,
		 st->base.offer->accelerator, st->base.offer->accelerator_count,
		 st->base.offer->region,
		 sky_market_name(st->base.offer->market));
	*state = st;
	return 0;
fail:
	/* give back what was made; the first error is the one to report */
	{
		struct sky_err ignored;

		st->base.keep = pool->resume;
		vastai_teardown(st, &ignored);
	}
	return rc;
}

/* ---- provision: an ask of the offer's shape --------------------------------------------- */

static double ask_price(const struct vastai_state *st, const struct vastai_ask *a)
{
	return st->base.offer->market == SKY_MARKET_SPOT ? a->min_bid : a->dph_total;
}

/* The search for the offer's shape (a sky_cloud_poll fetch). */
static int search_shape(void *arg, struct sky_err *err)
{
	struct vastai_state *st = arg;
	struct vastai_query q, names;
	struct vastai_ask *asks = NULL;
	size_t n = 0;
	int rc;

	if ((rc = vastai_request_query(st->req, st->base.offer->market,
				       VASTAI_OFFERS_LIMIT + st->base.n_nodes,
					  &q))) {
		sky_err_set(err, "vastai: cannot search for %s", st->base.offer->accelerator);
		return rc;
	}
	/* this GPU name only, in the catalog name's memory window */
	if (!vastai_gpu_names(st->base.offer->accelerator, &names)) {
		q.gpu_ram_min_mb = names.gpu_ram_min_mb;
		q.gpu_ram_max_mb = names.gpu_ram_max_mb;
	}
	vastai_shape_gpu(st->base.offer->instance_type, q.names[0], sizeof(q.names[0]));
	q.n_names = 1;
	q.num_gpus = st->base.offer->accelerator_count;
	if ((rc = vastai_search(&st->api, &q, &asks, &n, err)))
		return rc;
	pthread_mutex_lock(&st->base.lock);
	free(st->asks);
	st->asks = asks;
	st->n_asks = n;
	pthread_mutex_unlock(&st->base.lock);
	return 0;
}

/* Lock held. */
static int is_taken(const struct vastai_state *st, long long id)
{
	size_t i;

	for (i = 0; i < st->n_taken; i++)
		if (st->taken[i] == id)
			return 1;
	return 0;
}

/* An ask of the offer's shape within max_price. */
static int usable(const struct vastai_state *st, const struct vastai_ask *a)
{
	double cap = st->req->max_price;

	return vastai_ask_fits(a, st->base.offer) && ask_price(st, a) > 0 &&
	       !(cap > 0 && ask_price(st, a) > cap);
}

/* The cheapest usable ask that no node took, taken now: *out. -ENOENT
 * when none is left (a search younger than max_age is reused). */
static int pick_ask(struct vastai_state *st, double max_age, struct vastai_ask *out,
		    struct sky_err *err)
{
	size_t i, best = (size_t)-1;
	int rc;

	if ((rc = sky_cloud_poll(&st->ask_poll, max_age, search_shape, st, err)))
		return rc;
	pthread_mutex_lock(&st->base.lock);
	for (i = 0; i < st->n_asks; i++) {
		const struct vastai_ask *a = &st->asks[i];

		if (!usable(st, a) || is_taken(st, a->id))
			continue;
		if (best == (size_t)-1 || ask_price(st, a) < ask_price(st, &st->asks[best]))
			best = i;
	}
	if (best != (size_t)-1 && st->n_taken == st->cap_taken) {
		size_t grown = st->cap_taken ? 2 * st->cap_taken : 16;
		long long *p = realloc(st->taken, grown * sizeof(*p));

		if (p) {
			st->taken = p;
			st->cap_taken = grown;
		} else {
			rc = -ENOMEM;
		}
	}
	if (!rc && best != (size_t)-1) {
		st->taken[st->n_taken++] = st->asks[best].id;
		st->renting++;
		*out = st->asks[best];
	}
	pthread_mutex_unlock(&st->base.lock);
	return rc ? rc : best == (size_t)-1 ? -ENOENT : 0;
}

/* After a rental whose answer was lost (a timeout, or "no such ask" on a
 * retried call: the first may have rented it), the instance may exist
 * anyway: one labelled as this node that no node holds is adopted. */
static int adopt(struct vastai_state *st, struct vastai_node *vn, const char *label)
{
	size_t i;
	int found = 0;

	if (refresh(st, 0, NULL))
		return 0;
	pthread_mutex_lock(&st->base.lock);
	for (i = 0; !found && i < st->n_seen; i++) {
		if (strcmp(st->seen[i].label, label) || vastai_failed(&st->seen[i]))
			continue;
		if (!held_by_node(st, st->seen[i].id)) {
			vn->id = st->seen[i].id;
			found = 1;
		}
	}
	pthread_mutex_unlock(&st->base.lock);
	return found;
}

/* Rents an ask for node vn, moving to the next one of the shape while
 * they turn out gone. vn->id on success. */
static int rent(struct vastai_state *st, struct vastai_node *vn, const char *host_key_b64,
		struct sky_err *err)
{
	char label[192], onstart[1024], path[64], shape[96], last[300];
	size_t i, found = 0;
	struct vastai_rent r = { 0 };
	struct sky_api_error e;
	struct vastai_ask ask;
	int rc, tries, fresh = 0;

	snprintf(label, sizeof(label), "%s%d", st->label_prefix, vn->base.rank);
	if ((rc = vastai_onstart(onstart, sizeof(onstart), "/etc/ssh", VASTAI_SSHD_RESTART)))
		return rc;
	r.image = VASTAI_DEFAULT_IMAGE;
	r.disk_gb = DISK_GB;
	r.label = label;
	r.host_key_b64 = host_key_b64;
	r.onstart = onstart;
	for (tries = 0; tries < ASK_TRIES;) {
		json_t *body, *doc = NULL;
		long long id = 0;

		rc = pick_ask(st, fresh ? 0.2 : ASKS_FRESH_S, &ask, err);
		if (rc == -ENOENT && !fresh) {
			/* what the last search showed is used up: one more look */
			fresh = 1;
			continue;
		}
		if (rc)
			break;
		tries++;
		r.price = st->base.offer->market == SKY_MARKET_SPOT ? ask.min_bid : 0;
		snprintf(path, sizeof(path), "/asks/%lld/", ask.id);
		memset(&e, 0, sizeof(e));
		if (!(body = vastai_rent_body(&r)))
			rc = -ENOMEM;
		else
			rc = vastai_call(&st->api, "PUT", path, body, &doc, err, "renting an ask", &e);
		if (!rc && (rc = vastai_parse_new_contract(doc, &id)))
			sky_err_set(err, "vastai: renting ask %lld: no new_contract in the answer",
				    ask.id);
		json_decref(body);
		json_decref(doc);
		if (rc == -EAGAIN)
			snprintf(last, sizeof(last), "ask %lld: %s", ask.id,
				 err->msg + (strncmp(err->msg, "vastai: ", 8) ? 0 : 8));
		pthread_mutex_lock(&st->base.lock);
		if (!rc)
			vn->id = id;
		else if (rc == -EAGAIN)
			sky_strlcpy(st->ask_failed, last, sizeof(st->ask_failed));
		st->renting--;
		pthread_cond_broadcast(&st->rented);
		pthread_mutex_unlock(&st->base.lock);
		if (!rc) {
			log_info("%s: node %d: ask %lld at %.4f USD/h: instance %lld", st->base.id,
				 vn->base.rank, ask.id, ask_price(st, &ask), id);
			return 0;
		}
		if ((rc == -ETIMEDOUT || (rc == -EAGAIN && e.attempts > 1)) && adopt(st, vn, label))
			return 0;
		if (rc != -EAGAIN)
			return rc;
		/* gone or dearer since the search: the shape's next ask */
		log_info("%s: node %d: %s", st->base.id, vn->base.rank, last);
	}
	if (rc && rc != -ENOENT && rc != -EAGAIN)
		return rc;
	vastai_shape_gpu(st->base.offer->instance_type, shape, sizeof(shape));
	/* the other nodes' rentals first: whichever found an ask gone, every
	 * node's reason says so */
	pthread_mutex_lock(&st->base.lock);
	while (st->renting > 0)
		pthread_cond_wait(&st->rented, &st->base.lock);
	for (i = 0; i < st->n_asks; i++)
		found += usable(st, &st->asks[i]);
	sky_strlcpy(last, st->ask_failed, sizeof(last));
	pthread_mutex_unlock(&st->base.lock);
	sky_err_set(err, "vastai: no free ask of %s x%d in %s%s left (%zu found for %d node%s%s%s)",
		    shape, st->base.offer->accelerator_count,
		    st->base.offer->region[0] ? st->base.offer->region : "-",
		    st->req->max_price > 0 ? " within max_price" : "", found, st->base.n_nodes,
		    st->base.n_nodes == 1 ? "" : "s", last[0] ? "; " : "", last);
	return -EAGAIN;
}

/* Waits for the instance to run with an SSH endpoint. */
static int wait_running(struct vastai_state *st, struct vastai_node *vn, char *host,
			size_t len, int *port, double deadline, struct sky_err *err)
{
	struct vastai_instance in = { 0 };
	int rc;

	for (;;) {
		if ((rc = refresh(st, LIST_FRESH_S, err)))
			return rc;
		if (!lookup(st, vn->id, &in)) {
			if (vastai_failed(&in)) {
				sky_err_set(err, "vastai: instance %lld %s while booting%s%s", vn->id,
					    in.actual_status, in.status_msg[0] ? ": " : "",
					    in.status_msg);
				return -EAGAIN;
			}
			if (!strcmp(in.actual_status, "running") &&
			    !vastai_ssh_endpoint(&in, host, len, port))
				return 0;
		}
		if (sky_mono() >= deadline) {
			sky_err_set(err, "vastai: instance %lld not running after %ld s (%s%s%s)",
				    vn->id, sky_cloud_boot_s(&st->base),
				    in.actual_status[0] ? in.actual_status : "not listed yet",
				    in.status_msg[0] ? ": " : "", in.status_msg);
			return -ETIMEDOUT;
		}
		usleep((useconds_t)(POLL_S * 1e6));
	}
}

/* Whether a node that dropped is not coming back: its instance is gone or
 * failed (sky_cloud_pool.gone). */
static int instance_gone(struct sky_cloud_node *n, char *why, size_t len)
{
	struct vastai_state *st = (struct vastai_state *)n->pool;
	struct vastai_node *vn = (struct vastai_node *)n;
	struct vastai_instance in;

	if (refresh(st, 0, NULL))
		return 0;
	if (lookup(st, vn->id, &in)) {
		snprintf(why, len, "instance %lld is gone (destroyed)", vn->id);
		return 1;
	}
	if (vastai_failed(&in)) {
		snprintf(why, len, "instance %lld %s%s%s", vn->id, in.actual_status,
			 in.status_msg[0] ? ": " : "", in.status_msg);
		return 1;
	}
	return 0;
}

static int attach_key(struct vastai_state *st, long long id, struct sky_err *err)
{
	json_t *body = json_pack("{s:s}", "ssh_key", st->login_pub), *doc = NULL;
	char path[64];
	int rc;

	if (!body)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/instances/%lld/ssh/", id);
	rc = vastai_call(&st->api, "POST", path, body, &doc, err, "attaching the pool's key", NULL);
	json_decref(body);
	json_decref(doc);
	return rc;
}

static char *base64(const char *text)
{
	size_t len = strlen(text);
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)len);
	return out;
}

/* The instance ends itself when its controller is gone: DELETE on
 * itself with the per-instance key Vast.ai gives every container
 * (CONTAINER_API_KEY); the user's key never goes to a node. */
static int install_deadman(struct vastai_state *st, struct sky_instance *inst,
			   struct sky_err *err)
{
	struct sky_buf how = { 0 };
	int rc;

	sky_buf_printf(&how, "curl -fsS -m 30 -X DELETE -H \"Authorization: Bearer ");
	sky_cloud_env_ref(&how, "CONTAINER_API_KEY");
	sky_buf_printf(&how, "\" '%s/instances/%s/'", st->api.base, inst->id);
	rc = how.data ? sky_cloud_deadman(inst->conn, sky_cloud_orphan_timeout(&st->base),
					  how.data, err) : -ENOMEM;
	sky_buf_free(&how);
	return rc;
}

/* SSH to a running instance (its pinned host key, once onstart installed
 * it), then its dead-man switch. */
static int connect_node(struct vastai_state *st, struct vastai_node *vn, const char *host,
			int port, struct sky_instance *inst, double deadline, struct sky_err *err)
{
	struct sky_cloud_ssh ssh = { 0 };
	int rc;

	sky_strlcpy(inst->address, host, sizeof(inst->address));
	ssh.id = vn->base.id;
	ssh.host = host;
	ssh.port = port;
	ssh.pinned_key = vn->host_pub;
	/* the image's sshd shows its own key until onstart installed ours */
	ssh.key_may_change = 1;
	ssh.deadline = deadline;
	rc = sky_cloud_node_connect(&st->base, &vn->base, &ssh, DEFAULT_USER, inst, err);
	if (!rc)
		rc = install_deadman(st, inst, err);
	return rc;
}

/* An instance a crashed daemon recorded: still running and answering with
 * the host key skyfs made for it, or not taken back. */
static int vastai_adopt(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct vastai_state *st = state;
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	struct vastai_node *vn;
	char host[128];
	int rc, port = 22;

	if ((rc = sky_cloud_adopt_begin(&st->base, rank, inst, 1, err)))
		return rc;
	vn = &st->nodes[rank];
	pthread_mutex_lock(&st->base.lock);
	vn->id = atoll(inst->id);
	pthread_mutex_unlock(&st->base.lock);
	sky_strlcpy(vn->host_pub, inst->host_pub, sizeof(vn->host_pub));
	if ((rc = wait_running(st, vn, host, sizeof(host), &port, deadline, err)))
		return rc == -EAGAIN ? -ENOENT : rc;
	return connect_node(st, vn, host, port, inst, deadline, err);
}

static int vastai_provision(void *state, int rank, struct sky_instance *inst,
			    struct sky_err *err)
{
	struct vastai_state *st = state;
	struct vastai_node *vn;
	char *key = NULL, *b64 = NULL, comment[200], host[128];
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	int rc, port = 22;

	if (rank < 0 || rank >= st->base.n_nodes)
		return -EINVAL;
	vn = &st->nodes[rank];
	if ((rc = sky_cloud_end_strays(&st->base, st, rank, destroy_listed, err)))
		goto out;
	snprintf(comment, sizeof(comment), "skyfs-%s-node-%d", st->base.id, rank);
	if ((rc = sky_cloud_host_key(st->base.dir, rank, comment, &key, vn->host_pub,
				     sizeof(vn->host_pub), err)))
		goto out;
	if (!(b64 = base64(key))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = rent(st, vn, b64, err)))
		goto out;
	/* from here on the node exists: terminate() must see its id */
	pthread_mutex_lock(&st->base.lock);
	snprintf(vn->base.id, sizeof(vn->base.id), "%lld", vn->id);
	pthread_mutex_unlock(&st->base.lock);
	sky_strlcpy(inst->id, vn->base.id, sizeof(inst->id));
	inst->state = SKY_INST_PENDING;
	sky_cloud_launched(&st->base, rank, inst->id, vn->host_pub);
	if ((rc = attach_key(st, vn->id, err)) ||
	    (rc = wait_running(st, vn, host, sizeof(host), &port, deadline, err)))
		goto out;
	rc = connect_node(st, vn, host, port, inst, deadline, err);
out:
	if (b64)
		OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	sky_cloud_free_secret(key);
	return rc;
}

/* ---- instances, terminate, teardown ------------------------------------------------------ */

static int vastai_get_instance(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct vastai_state *st = state;
	struct vastai_instance *in = NULL;
	json_t *doc = NULL;
	char path[160];
	size_t n = 0;
	int rc;

	if (!inst->id[0]) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	snprintf(path, sizeof(path), "/instances/%s/", inst->id);
	rc = vastai_call(&st->api, "GET", path, NULL, &doc, err, "showing an instance", NULL);
	if (!rc && (rc = vastai_parse_instances(doc, &in, &n)) == -EPROTO)
		sky_err_set(err, "vastai: /instances/%s/ answered without an instance", inst->id);
	json_decref(doc);
	if (rc == -ENOENT || (!rc && (!n || vastai_failed(&in[0]))))
		inst->state = SKY_INST_GONE;
	else if (!rc)
		inst->state = !strcmp(in[0].actual_status, "running") ? SKY_INST_RUNNING :
			      SKY_INST_PENDING;
	free(in);
	return rc == -ENOENT ? 0 : rc;
}

static int vastai_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct vastai_state *st = state;
	long long id = inst->id[0] ? strtoll(inst->id, NULL, 10) : 0;
	int rc;

	sky_cloud_drop_conn(&st->base, inst);
	if (!id) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	/* Vast destroys at once: no state to wait through */
	if (!(rc = destroy(st, id, err)))
		inst->state = SKY_INST_GONE;
	return rc;
}

static int vastai_teardown(void *state, struct sky_err *err)
{
	struct vastai_state *st = state;
	int rc = 0;

	if (!st)
		return 0;
	sky_cloud_close_nodes(&st->base);
	if (st->api.http && st->label_prefix[0] && !st->base.keep)
		rc = sweep(st, err);
	vastai_client_fini(&st->api);
	pthread_cond_destroy(&st->rented);
	sky_cloud_poll_destroy(&st->ask_poll);
	free(st->seen);
	free(st->asks);
	free(st->taken);
	sky_cloud_pool_fini(&st->base);
	free(st);
	return rc;
}

/* ---- status ---------------------------------------------------------------------------- */

static int vastai_status(struct sky_buf *out)
{
	char source[300], msg[512] = "", *key = NULL;
	int rc = vastai_load_key(&key, source, sizeof(source), msg, sizeof(msg));

	sky_cloud_free_secret(key);
	if (rc)
		sky_buf_printf(out, "configured: no (%s)\n", msg[0] ? msg : strerror(-rc));
	else
		sky_buf_printf(out, "configured: yes (API key from %s)\n", source);
	vastai_render_health(out, rc == 0);
	return out->data ? 0 : -ENOMEM;
}

const struct sky_provider_ops sky_provider_vastai = {
	.name = "vastai",
	.live_complete = 1,
	.status = vastai_status,
	.offers = vastai_offers,
	.prepare = vastai_prepare,
	.provision = vastai_provision,
	.get_instance = vastai_get_instance,
	.terminate = vastai_terminate,
	.teardown = vastai_teardown,
	.adopt = vastai_adopt,
	.sweep = vastai_sweep,
};
