/* The aws provider: EC2 instances as nodes, through the Query API
 * (aws_api.h) and reached over SSH (transport/ssh.h).
 *
 * Per pool (prepare): an ed25519 login key imported as key pair
 * "skyfs-<pool id>", a security group of that name admitting SSH only
 * from this machine's address (or ssh_cidr), and the image (the spec's, or
 * the newest Deep Learning Base AMI, cached per region). Per node
 * (provision): a host key made here and handed to the instance in its user
 * data (cloud-init's ssh_keys), so the transport pins that exact key from
 * the first connection on; RunInstances with a ClientToken (a retried call
 * creates nothing twice), the pool's tags, spot options when the offer is
 * spot, and shutdown-terminates. The provisioning threads of one pool
 * share one DescribeInstances of all its instances (a cache refreshed at
 * most once a second), so 64 nodes booting cost one call a second, not 64.
 *
 * Ownership: struct aws_state belongs to the scheduler between prepare()
 * and teardown(); its lock guards the instance cache and the nodes' ids;
 * never held during a call to EC2 or the transport. */
#define LOG_MODULE "aws"
#include "providers/provider.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/aws_internal.h"
#include "providers/http.h"
#include "scheduler/spec.h"
#include "transport/ssh.h"
#include "transport/sshkey.h"

#define DEFAULT_USER "ubuntu"
#define POLL_S 0.5
#define TERMINATE_DEADLINE_S 120
#define GROUP_DELETE_DEADLINE_S 300

static int aws_teardown(void *state, struct sky_err *err);
static int instance_gone(struct sky_cloud_node *n, char *why, size_t len);

static int aws_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	struct aws_state *st;
	unsigned char rnd[8];
	int i, rc;

	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	rc = sky_cloud_pool_init(&st->base, "aws", pool, sizeof(*st->nodes));
	st->nodes = st->base.nodes;
	st->base.gone = instance_gone;
	if (rc)
		goto fail;
	if ((rc = aws_client_for(&st->api, pool->offer->region, err)))
		goto fail;
	RAND_bytes(rnd, sizeof(rnd));
	for (i = 0; i < (int)sizeof(rnd); i++)
		snprintf(st->nonce + 2 * i, 3, "%02x", rnd[i]);
	snprintf(st->key_name, sizeof(st->key_name), "skyfs-%s", st->base.id);
	if ((rc = sky_cloud_dir(pool, "aws", st->base.dir, sizeof(st->base.dir), err)))
		goto fail;
	if ((rc = aws_find_image(st, err)) || (rc = aws_import_key(st, err)) ||
	    (rc = aws_create_group(st, err)))
		goto fail;
	log_info("%s: prepared in %s: key pair %s, security group %s, image %s", pool->name,
		 st->api.region, st->key_name, st->group_id, st->image);
	*state = st;
	return 0;
fail:
	/* give back what was made; the first error is the one to report. A
	 * resumed prepare's key pair and group belong to live machines */
	{
		struct sky_err ignored;

		st->base.keep = pool->resume;
		aws_teardown(st, &ignored);
	}
	return rc;
}

/* ---- provision ----------------------------------------------------------------------- */

/* Whether a node that dropped is not coming back: its instance is going
 * away (sky_cloud_pool.gone). */
static int instance_gone(struct sky_cloud_node *n, char *why, size_t len)
{
	struct aws_state *st = (struct aws_state *)n->pool;
	struct aws_node *an = (struct aws_node *)n;
	struct aws_instance in;

	if (aws_refresh(st, 0, NULL) || aws_lookup(st, an->base.id, &in) || !aws_gone(&in))
		return 0;
	aws_why_gone(&in, why, len);
	return 1;
}

/* cloud-init's ssh_keys: the host key the node's sshd uses from its first
 * start, so nothing but that key is ever accepted (no first-use trust). */
static int user_data(const char *private_key, const char *pub, struct sky_buf *out)
{
	struct sky_buf doc = { 0 };
	const char *line, *nl;
	int rc;

	sky_buf_printf(&doc, "#cloud-config\nssh_deletekeys: true\nssh_genkeytypes: []\n"
		       "ssh_keys:\n  ed25519_private: |\n");
	for (line = private_key; *line; line = nl + 1) {
		if (!(nl = strchr(line, '\n')))
			nl = line + strlen(line) - 1;
		if (nl >= line)
			sky_buf_printf(&doc, "    %.*s\n", (int)(nl - line + (*nl != '\n')), line);
		if (!nl[0] || !nl[1])
			break;
	}
	sky_buf_printf(&doc, "  ed25519_public: %s\n", pub);
	if (!doc.data) {
		rc = -ENOMEM;
		goto out;
	}
	out->cap = 4 * ((doc.len + 2) / 3) + 1;
	if (!(out->data = malloc(out->cap))) {
		rc = -ENOMEM;
		goto out;
	}
	out->len = (size_t)EVP_EncodeBlock((unsigned char *)out->data,
					   (const unsigned char *)doc.data, (int)doc.len);
	rc = 0;
out:
	if (doc.data)
		OPENSSL_cleanse(doc.data, doc.len);
	sky_buf_free(&doc);
	return rc;
}

static int run_instance(struct aws_state *st, struct aws_node *an, const struct sky_buf *ud,
			struct sky_err *err)
{
	const struct sky_offer *o = st->base.offer;
	struct sky_buf q = { 0 };
	struct sky_aws_query p = { &q, 0 };
	struct aws_instance *list = NULL;
	unsigned char digest[32];
	char token[65], name[160], rank[16], price[32], seed[256 + SKY_SSHKEY_LINE_MAX];
	size_t n = 0;
	xmlDoc *doc = NULL;
	int rc, i;

	/* the same launch retried is the same token; another incarnation of
	 * the pool (nonce), another node, or another launch for the same node
	 * (a replacement: each launch has a fresh host key) is another one */
	snprintf(seed, sizeof(seed), "%s/%s/%d/%s", st->base.id, st->nonce, an->base.rank,
		 an->host_pub);
	EVP_Digest(seed, strlen(seed), digest, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 16; i++)
		snprintf(token + 2 * i, 3, "%02x", digest[i]);
	snprintf(name, sizeof(name), "skyfs-%s-node-%d", st->base.id, an->base.rank);
	snprintf(rank, sizeof(rank), "%d", an->base.rank);
	sky_aws_query_add(&p, "ImageId", st->image);
	sky_aws_query_add(&p, "InstanceType", o->instance_type);
	sky_aws_query_add(&p, "MinCount", "1");
	sky_aws_query_add(&p, "MaxCount", "1");
	sky_aws_query_add(&p, "KeyName", st->key_name);
	sky_aws_query_add(&p, "SecurityGroupId.1", st->group_id);
	sky_aws_query_add(&p, "UserData", ud->data);
	sky_aws_query_add(&p, "ClientToken", token);
	sky_aws_query_add(&p, "InstanceInitiatedShutdownBehavior", "terminate");
	sky_aws_query_add(&p, "TagSpecification.1.ResourceType", "instance");
	aws_add_tag(&p, 1, "Name", name);
	aws_add_tag(&p, 2, "skyfs:pool", st->base.id);
	aws_add_tag(&p, 3, "skyfs:mount", st->base.mount);
	aws_add_tag(&p, 4, "skyfs:node", rank);
	if (o->market == SKY_MARKET_SPOT) {
		sky_aws_query_add(&p, "InstanceMarketOptions.MarketType", "spot");
		sky_aws_query_add(&p, "InstanceMarketOptions.SpotOptions.SpotInstanceType",
				  "one-time");
		sky_aws_query_add(&p, "InstanceMarketOptions.SpotOptions."
				  "InstanceInterruptionBehavior", "terminate");
		for (i = 0; i < st->base.spec->n_alts; i++)
			if (st->base.spec->alts[i].max_price > 0) {
				snprintf(price, sizeof(price), "%.4f",
					 st->base.spec->alts[i].max_price);
				sky_aws_query_add(&p, "InstanceMarketOptions.SpotOptions.MaxPrice",
						  price);
				break;
			}
	}
	rc = p.rc ? p.rc : aws_pcall(&st->api, "RunInstances", &q, &doc, err, "launching", NULL);
	if (!rc && !(rc = aws_parse_instances(doc, &list, &n, NULL, 0)) && n < 1) {
		sky_err_set(err, "aws: RunInstances answered without an instance");
		rc = -EPROTO;
	}
	if (!rc) {
		pthread_mutex_lock(&st->base.lock);
		sky_strlcpy(an->base.id, list[0].id, sizeof(an->base.id));
		pthread_mutex_unlock(&st->base.lock);
	}
	free(list);
	xmlFreeDoc(doc);
	sky_buf_free(&q);
	return rc;
}

/* Waits for the instance to run and have an address. */
static int wait_running(struct aws_state *st, struct aws_node *an, struct aws_instance *in,
			double deadline, struct sky_err *err)
{
	int rc;

	for (;;) {
		if ((rc = aws_refresh(st, CACHE_FRESH_S, err)))
			return rc;
		if (!aws_lookup(st, an->base.id, in)) {
			if (!strcmp(in->state, "running") && (in->public_ip[0] || in->private_ip[0]))
				return 0;
			if (aws_gone(in)) {
				char why[400];

				aws_why_gone(in, why, sizeof(why));
				sky_err_set(err, "aws: %s while booting", why);
				return -EAGAIN;
			}
		}
		if (sky_mono() >= deadline) {
			sky_err_set(err, "aws: instance %s not running after %ld s (%s)",
				    an->base.id,
				    sky_cloud_boot_s(&st->base),
				    in->state[0] ? in->state : "not listed yet");
			return -ETIMEDOUT;
		}
		usleep((useconds_t)(POLL_S * 1e6));
	}
}

/* The machine ends itself when its controller is gone: the instance is
 * launched with InstanceInitiatedShutdownBehavior=terminate, so a
 * shutdown from inside is a termination. */
#define SELF_TERMINATE "sudo -n shutdown -h now 2>/dev/null || shutdown -h now"

/* SSH to a running instance with its pinned host key, then its dead-man
 * switch. */
static int connect_node(struct aws_state *st, struct aws_node *an, struct sky_instance *inst,
			double deadline, struct sky_err *err)
{
	struct sky_cloud_ssh ssh = { 0 };
	int rc;

	ssh.id = an->base.id;
	ssh.host = inst->address;
	ssh.pinned_key = an->host_pub;
	ssh.deadline = deadline;
	rc = sky_cloud_node_connect(&st->base, &an->base, &ssh, DEFAULT_USER, inst, err);
	if (!rc)
		rc = sky_cloud_deadman(inst->conn, sky_cloud_orphan_timeout(&st->base),
				       SELF_TERMINATE, err);
	return rc;
}

static int terminate_listed(void *state, int rank, size_t *found, struct sky_err *err);

static int aws_provision(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct aws_state *st = state;
	struct aws_node *an;
	struct aws_instance in = { 0 };
	struct sky_buf ud = { 0 };
	char *key = NULL, comment[200];
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	int rc;

	if (rank < 0 || rank >= st->base.n_nodes)
		return -EINVAL;
	an = &st->nodes[rank];
	if ((rc = sky_cloud_end_strays(&st->base, st, rank, terminate_listed, err)))
		goto out;
	snprintf(comment, sizeof(comment), "%s-node-%d", st->key_name, rank);
	if ((rc = sky_cloud_host_key(st->base.dir, rank, comment, &key, an->host_pub,
				     sizeof(an->host_pub), err)))
		goto out;
	if ((rc = user_data(key, an->host_pub, &ud))) {
		sky_err_set(err, "aws: out of memory");
		goto out;
	}
	if ((rc = run_instance(st, an, &ud, err)))
		goto out;
	/* from here on the node exists: terminate() must see its id */
	sky_strlcpy(inst->id, an->base.id, sizeof(inst->id));
	inst->state = SKY_INST_PENDING;
	sky_cloud_launched(&st->base, rank, inst->id, an->host_pub);
	if ((rc = wait_running(st, an, &in, deadline, err)))
		goto out;
	sky_strlcpy(inst->address, in.public_ip[0] ? in.public_ip : in.private_ip,
		    sizeof(inst->address));
	rc = connect_node(st, an, inst, deadline, err);
out:
	sky_cloud_free_secret(key);
	sky_buf_free(&ud);
	return rc;
}

static int aws_get_instance(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct aws_state *st = state;
	struct aws_instance in;
	int rc;

	if (!inst->id[0]) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	if ((rc = aws_refresh(st, CACHE_FRESH_S, err)))
		return rc;
	if (aws_lookup(st, inst->id, &in))
		inst->state = SKY_INST_PENDING;   /* not listed yet: EC2 is eventually consistent */
	else if (!strcmp(in.state, "running"))
		inst->state = SKY_INST_RUNNING;
	else if (!strcmp(in.state, "pending"))
		inst->state = SKY_INST_PENDING;
	else if (!strcmp(in.state, "terminated"))
		inst->state = SKY_INST_GONE;
	else
		inst->state = SKY_INST_STOPPING;
	return 0;
}

/* ---- terminate, teardown ------------------------------------------------------------------ */

/* TerminateInstances for ids (at most 1000), until each is confirmed
 * shutting down or gone, or the deadline. */
static int terminate_ids(struct aws_state *st, char (*ids)[32], size_t n, struct sky_err *err)
{
	double deadline = sky_mono() + TERMINATE_DEADLINE_S;
	size_t i, j, left = n;
	int rc = 0;

	while (left) {
		struct sky_buf q = { 0 };
		struct sky_aws_query p = { &q, 0 };
		struct aws_instance *list = NULL;
		struct aws_error e;
		size_t k = 0;
		xmlDoc *doc = NULL;
		char name[32];

		for (i = 0, j = 0; i < n; i++) {
			if (!ids[i][0])
				continue;
			snprintf(name, sizeof(name), "InstanceId.%zu", ++j);
			sky_aws_query_add(&p, name, ids[i]);
		}
		rc = p.rc ? p.rc : aws_pcall(&st->api, "TerminateInstances", &q, &doc, err,
					"terminating", &e);
		sky_buf_free(&q);
		if (!rc && !(rc = aws_parse_terminating(doc, &list, &k)))
			for (i = 0; i < k; i++)
				for (j = 0; j < n; j++)
					if (!strcmp(ids[j], list[i].id) && aws_gone(&list[i])) {
						ids[j][0] = '\0';
						left--;
					}
		free(list);
		xmlFreeDoc(doc);
		if (rc == -ENOENT && left == 1) {
			/* the only one left is unknown to EC2: nothing to stop */
			rc = 0;
			break;
		}
		if (rc == -ENOENT) {
			/* one unknown id fails the whole call: ask one by one */
			for (i = 0; i < n && rc == -ENOENT; i++)
				if (ids[i][0] && (rc = terminate_ids(st, &ids[i], 1, err)) == 0) {
					ids[i][0] = '\0';
					left--;
				}
			if (!rc)
				continue;
		}
		/* an API that still fails after aws_pcall's retries is the
		 * caller's to retry (nodes_release backs off and says why, rmdir
		 * answers EBUSY): only a confirmation that is late is waited for */
		if (!left || rc || sky_mono() >= deadline)
			break;
		sleep(2);
	}
	return left && !rc ? -ETIMEDOUT : rc;
}

static int aws_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct aws_state *st = state;
	char ids[1][32];
	int rc;

	sky_cloud_drop_conn(&st->base, inst);
	if (!inst->id[0]) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	sky_strlcpy(ids[0], inst->id, sizeof(ids[0]));
	rc = terminate_ids(st, ids, 1, err);
	if (rc == -ETIMEDOUT)
		sky_err_set(err, "aws: %s: not confirmed terminating after %d s", inst->id,
			    TERMINATE_DEADLINE_S);
	if (!rc)
		inst->state = SKY_INST_GONE;
	return rc;
}

/* Terminates what EC2 lists as the pool's (by its tags) and still exists:
 * every instance that runs or is stopped (rank < 0), or the ones of one
 * rank that run. *found: how many it asked to terminate. */
static int terminate_listed(void *state, int rank, size_t *found, struct sky_err *err)
{
	struct aws_state *st = state;
	char (*ids)[32];
	size_t n = 0, i;
	int rc;

	*found = 0;
	if ((rc = aws_refresh(st, 0, err)))
		return rc;
	pthread_mutex_lock(&st->base.lock);
	ids = calloc(st->n_seen + 1, sizeof(*ids));
	for (i = 0; ids && i < st->n_seen; i++)
		if (rank < 0 ? !aws_gone(&st->seen[i]) || !strcmp(st->seen[i].state, "stopped")
			     : st->seen[i].rank == rank && !aws_gone(&st->seen[i]))
			sky_strlcpy(ids[n++], st->seen[i].id, sizeof(ids[0]));
	pthread_mutex_unlock(&st->base.lock);
	if (!ids)
		return -ENOMEM;
	for (i = 0; !rc && i < n; i += 500)
		rc = terminate_ids(st, ids + i, n - i < 500 ? n - i : 500, err);
	*found = n;
	free(ids);
	return rc;
}

/* Everything tagged as this pool's that still runs: instances whose
 * launch answer was lost, or a crashed run's. */
static int sweep(struct aws_state *st, struct sky_err *err)
{
	size_t n = 0;
	int rc = terminate_listed(st, -1, &n, err);

	if (n)
		log_info("%s: swept %zu instance(s) of the pool", st->base.id, n);
	return rc;
}

static int aws_teardown(void *state, struct sky_err *err)
{
	struct aws_state *st = state;
	double deadline = sky_mono() + GROUP_DELETE_DEADLINE_S;
	struct aws_error e;
	int rc = 0, r;

	if (!st)
		return 0;
	sky_cloud_close_nodes(&st->base);
	if (st->base.keep) {
		st->group_id[0] = '\0';
		st->key_imported = 0;
	} else if (st->api.http && st->base.id[0]) {
		rc = sweep(st, err);
	}
	/* a group still held by a terminating instance cannot go yet */
	while (st->group_id[0]) {
		r = aws_delete_group(st, err, &e);
		if (r != -EBUSY || sky_mono() >= deadline) {
			if (r && r != -ENOENT && !rc)
				rc = r;
			break;
		}
		sleep(1);
	}
	if (st->key_imported && (r = aws_delete_key_pair(st, err)) && !rc)
		rc = r;
	aws_client_fini(&st->api);
	free(st->seen);
	sky_cloud_pool_fini(&st->base);
	free(st);
	return rc;
}

/* ---- after a crash ------------------------------------------------------------------ */

/* A machine a crashed daemon recorded: still running and answering with
 * the host key skyfs made for it, or not taken back. */
static int aws_adopt(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct aws_state *st = state;
	struct aws_node *an;
	struct aws_instance in;
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	int rc;

	if ((rc = sky_cloud_adopt_begin(&st->base, rank, inst, 1, err)))
		return rc;
	an = &st->nodes[rank];
	sky_strlcpy(an->host_pub, inst->host_pub, sizeof(an->host_pub));
	if ((rc = aws_refresh(st, 0, err)))
		return rc;
	if (aws_lookup(st, inst->id, &in) || aws_gone(&in)) {
		sky_err_set(err, "aws: %s is %s", inst->id, in.state[0] ? in.state : "not listed");
		return -ENOENT;
	}
	if ((rc = wait_running(st, an, &in, deadline, err)))
		return rc == -EAGAIN ? -ENOENT : rc;
	sky_strlcpy(inst->address, in.public_ip[0] ? in.public_ip : in.private_ip,
		    sizeof(inst->address));
	return connect_node(st, an, inst, deadline, err);
}

/* Every instance of this mount (skyfs:pool tag ending in mount_id) that
 * still runs, in one region; those no live pool owns are terminated. */
static int sweep_region(const char *region, const char *mount_id, sky_owned_fn owned,
			void *arg, struct sky_err *err)
{
	struct aws_state st = { 0 };
	struct aws_instance *list = NULL;
	const char *filters[] = { "tag-key", "skyfs:pool", NULL, "instance-state-name", "pending",
				  "running", "stopping", "stopped", NULL, NULL };
	char (*ids)[32] = NULL, hash[9];
	size_t n = 0, i, k = 0;
	int rc;

	if ((rc = aws_client_for(&st.api, region, err)))
		return rc;
	rc = aws_describe(&st.api, filters, &list, &n, err);
	if (!rc && !(ids = calloc(n + 1, sizeof(*ids))))
		rc = -ENOMEM;
	for (i = 0; !rc && i < n; i++)
		if (!sky_cloud_pool_hash_in(list[i].pool_tag, mount_id, hash) && !owned(hash, list[i].id, arg)) {
			log_warn("orphan sweep: %s %s (pool %s) belongs to no node of a live pool: "
				 "terminating",
				 region, list[i].id, list[i].pool_tag);
			sky_strlcpy(ids[k++], list[i].id, sizeof(ids[0]));
		}
	for (i = 0; !rc && i < k; i += 500)
		rc = terminate_ids(&st, ids + i, k - i < 500 ? k - i : 500, err);
	free(ids);
	free(list);
	aws_client_fini(&st.api);
	return rc ? rc : (int)k;
}

static int aws_sweep(const char *mount_id, const char *const *regions, size_t n_regions,
		     sky_owned_fn owned, void *arg, struct sky_err *err)
{
	struct sky_aws_creds *c = calloc(1, sizeof(*c));
	char msg[256];
	size_t i;
	int rc, total = 0;

	if (!c)
		return -ENOMEM;
	rc = sky_aws_load_creds(c, msg, sizeof(msg));
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
	if (rc)
		return -ENOKEY;   /* not configured: nothing of ours can be there */
	for (i = 0; i < n_regions; i++) {
		if ((rc = sweep_region(regions[i], mount_id, owned, arg, err)) < 0)
			return rc;
		total += rc;
	}
	return total;
}

/* ---- status ------------------------------------------------------------------------ */

static int aws_status(struct sky_buf *out)
{
	struct sky_aws_creds *c = calloc(1, sizeof(*c));
	char msg[512] = "";
	int rc;

	if (!c)
		return -ENOMEM;
	rc = sky_aws_load_creds(c, msg, sizeof(msg));
	if (rc)
		sky_buf_printf(out, "configured: no (%s)\n", msg);
	else
		sky_buf_printf(out, "configured: yes (credentials from %s)\n", c->source);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
	aws_render_health(out, rc == 0);
	return out->data ? 0 : -ENOMEM;
}

const struct sky_provider_ops sky_provider_aws = {
	.name = "aws",
	.status = aws_status,
	.offers = aws_offers,
	.prepare = aws_prepare,
	.provision = aws_provision,
	.get_instance = aws_get_instance,
	.terminate = aws_terminate,
	.teardown = aws_teardown,
	.adopt = aws_adopt,
	.sweep = aws_sweep,
};

