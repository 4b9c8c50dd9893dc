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

static void state_free(struct aws_state *st)
{
	int i;

	if (!st)
		return;
	for (i = 0; st->nodes && i < st->n_nodes; i++)
		sky_ssh_close(st->nodes[i].conn);
	aws_client_fini(&st->api);
	pthread_mutex_destroy(&st->lock);
	sky_cloud_poll_destroy(&st->poll);
	free(st->seen);
	free(st->nodes);
	free(st);
}

static int aws_teardown(void *state, struct sky_err *err);

static int aws_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	struct aws_state *st;
	unsigned char rnd[8];
	int i, rc;

	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	sky_cloud_poll_init(&st->poll);
	st->spec = pool->spec;
	st->offer = pool->offer;
	st->n_nodes = pool->spec->nodes;
	st->node_state = pool->node_state;
	st->node_state_arg = pool->node_state_arg;
	st->n_devices = pool->offer->accelerator_count;
	if (st->n_devices > (int)SKY_ARRAY_SIZE(((struct sky_instance *)0)->devices))
		st->n_devices = (int)SKY_ARRAY_SIZE(((struct sky_instance *)0)->devices);
	if (!(st->nodes = calloc((size_t)st->n_nodes, sizeof(*st->nodes)))) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < st->n_nodes; i++) {
		st->nodes[i].st = st;
		st->nodes[i].rank = i;
	}
	if ((rc = aws_client_for(&st->api, pool->offer->region, err)))
		goto fail;
	sky_cloud_pool_id(pool, st->pool_id, sizeof(st->pool_id), st->mount_tag,
			  sizeof(st->mount_tag));
	RAND_bytes(rnd, sizeof(rnd));
	for (i = 0; i < (int)sizeof(rnd); i++)
		snprintf(st->nonce + 2 * i, 3, "%02x", rnd[i]);
	snprintf(st->key_name, sizeof(st->key_name), "skyfs-%s", st->pool_id);
	if ((rc = sky_cloud_dir(pool, "aws", st->dir, sizeof(st->dir), err)))
		goto fail;
	if ((rc = aws_find_image(st, err)) || (rc = aws_import_key(st, err)) ||
	    (rc = aws_create_group(st, err)))
		goto fail;
	log_info("%s: prepared in %s: key pair %s, security group %s, image %s", pool->name,
		 st->api.region, st->key_name, st->group_id, st->image);
	*state = st;
	return 0;
fail:
	/* give back what was made; the first error is the one to report */
	{
		struct sky_err ignored;

		aws_teardown(st, &ignored);
	}
	return rc;
}

/* ---- provision ----------------------------------------------------------------------- */

/* The transport's thread says a node dropped or came back. A node whose
 * instance is going away is reported gone (up < 0): it will not return. */
static void conn_state(void *arg, int up, const char *why)
{
	struct aws_node *an = arg;
	struct aws_state *st = an->st;
	struct aws_instance in;
	char reason[400];

	__atomic_store_n(&an->up, up, __ATOMIC_RELEASE);
	if (!up && !aws_refresh(st, 0, NULL) && !aws_lookup(st, an->id, &in) && aws_gone(&in)) {
		aws_why_gone(&in, reason, sizeof(reason));
		up = -1;
		why = reason;
	}
	if (st->node_state)
		st->node_state(st->node_state_arg, an->rank, up, why);
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
	const struct sky_offer *o = st->offer;
	struct sky_buf q = { 0 };
	struct sky_aws_query p = { &q, 0 };
	struct aws_instance *list = NULL;
	unsigned char digest[32];
	char token[65], name[160], rank[16], price[32];
	size_t n = 0;
	xmlDoc *doc = NULL;
	int rc, i;

	/* the same launch retried is the same token; another incarnation of
	 * the pool (nonce) or another node is another one */
	snprintf(name, sizeof(name), "%s/%s/%d", st->pool_id, st->nonce, an->rank);
	EVP_Digest(name, strlen(name), digest, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 16; i++)
		snprintf(token + 2 * i, 3, "%02x", digest[i]);
	snprintf(name, sizeof(name), "skyfs-%s-node-%d", st->pool_id, an->rank);
	snprintf(rank, sizeof(rank), "%d", an->rank);
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
	aws_add_tag(&p, 2, "skyfs:pool", st->pool_id);
	aws_add_tag(&p, 3, "skyfs:mount", st->mount_tag);
	aws_add_tag(&p, 4, "skyfs:node", rank);
	if (o->market == SKY_MARKET_SPOT) {
		sky_aws_query_add(&p, "InstanceMarketOptions.MarketType", "spot");
		sky_aws_query_add(&p, "InstanceMarketOptions.SpotOptions.SpotInstanceType",
				  "one-time");
		sky_aws_query_add(&p, "InstanceMarketOptions.SpotOptions."
				  "InstanceInterruptionBehavior", "terminate");
		for (i = 0; i < st->spec->n_alts; i++)
			if (st->spec->alts[i].max_price > 0) {
				snprintf(price, sizeof(price), "%.4f", st->spec->alts[i].max_price);
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
		pthread_mutex_lock(&st->lock);
		sky_strlcpy(an->id, list[0].id, sizeof(an->id));
		pthread_mutex_unlock(&st->lock);
	}
	free(list);
	xmlFreeDoc(doc);
	sky_buf_free(&q);
	return rc;
}

static double boot_deadline(const struct aws_state *st)
{
	return sky_mono() + (double)(st->spec->boot_timeout_s > 0 ? st->spec->boot_timeout_s : 600);
}

/* Waits for the instance to run and have an address. */
static int wait_running(struct aws_state *st, struct aws_node *an, struct aws_instance *in,
			double deadline, struct sky_err *err)
{
	int rc;

	for (;;) {
		if ((rc = aws_refresh(st, CACHE_FRESH_S, err)))
			return rc;
		if (!aws_lookup(st, an->id, in)) {
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
			sky_err_set(err, "aws: instance %s not running after %ld s (%s)", an->id,
				    st->spec->boot_timeout_s > 0 ? st->spec->boot_timeout_s : 600,
				    in->state[0] ? in->state : "not listed yet");
			return -ETIMEDOUT;
		}
		usleep((useconds_t)(POLL_S * 1e6));
	}
}

static int aws_provision(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct aws_state *st = state;
	struct aws_node *an;
	struct aws_instance in = { 0 };
	struct sky_buf ud = { 0 };
	struct sky_cloud_ssh ssh = { 0 };
	struct sky_ssh_conn *conn = NULL;
	char *key = NULL, comment[200], remote[256];
	double deadline = boot_deadline(st);
	int rc, i;

	if (rank < 0 || rank >= st->n_nodes)
		return -EINVAL;
	an = &st->nodes[rank];
	snprintf(comment, sizeof(comment), "%s-node-%d", st->key_name, rank);
	if ((rc = sky_cloud_host_key(st->dir, rank, comment, &key, an->host_pub,
				     sizeof(an->host_pub), err)))
		goto out;
	if ((rc = user_data(key, an->host_pub, &ud))) {
		sky_err_set(err, "aws: out of memory");
		goto out;
	}
	if ((rc = run_instance(st, an, &ud, err)))
		goto out;
	/* from here on the node exists: terminate() must see its id */
	sky_strlcpy(inst->id, an->id, sizeof(inst->id));
	inst->state = SKY_INST_PENDING;
	if ((rc = wait_running(st, an, &in, deadline, err)))
		goto out;
	sky_strlcpy(inst->address, in.public_ip[0] ? in.public_ip : in.private_ip,
		    sizeof(inst->address));
	snprintf(remote, sizeof(remote), ".skyfs/%s/node-%d", st->pool_id, rank);
	ssh.provider = "aws";
	ssh.id = an->id;
	ssh.user = st->spec->ssh_user ? st->spec->ssh_user : DEFAULT_USER;
	ssh.host = inst->address;
	ssh.identity = st->key_path;
	ssh.pinned_key = an->host_pub;
	ssh.remote_dir = remote;
	ssh.node_timeout_s = (int)st->spec->node_timeout_s;
	ssh.deadline = deadline;
	ssh.state = conn_state;
	ssh.state_arg = an;
	if ((rc = sky_cloud_connect(&ssh, &conn, err)))
		goto out;
	pthread_mutex_lock(&st->lock);
	an->conn = conn;
	pthread_mutex_unlock(&st->lock);
	__atomic_store_n(&an->up, 1, __ATOMIC_RELEASE);
	sky_strlcpy(inst->workdir, sky_ssh_remote_dir(an->conn), sizeof(inst->workdir));
	inst->transport = &sky_transport_ssh;
	inst->conn = an->conn;
	sky_strlcpy(inst->host_key, "pinned (made by skyfs)", sizeof(inst->host_key));
	inst->state = SKY_INST_RUNNING;
	for (i = 0; i < st->n_devices; i++)
		snprintf(inst->devices[i], sizeof(inst->devices[i]), "%d", i);
	inst->n_devices = st->n_devices;
out:
	sky_cloud_free_secret(key);
	sky_buf_free(&ud);
	return rc;
}

static struct aws_node *node_of(struct aws_state *st, const struct sky_instance *inst)
{
	int i;

	for (i = 0; inst->id[0] && i < st->n_nodes; i++)
		if (!strcmp(st->nodes[i].id, inst->id))
			return &st->nodes[i];
	return NULL;
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
		if (!left || sky_mono() >= deadline || rc == -EACCES)
			break;
		sleep(2);
	}
	return left && !rc ? -ETIMEDOUT : rc;
}

static int aws_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct aws_state *st = state;
	struct aws_node *an = node_of(st, inst);
	char ids[1][32];
	int rc;

	/* the connection first: it reports nothing more, and its jobs end */
	if (an) {
		pthread_mutex_lock(&st->lock);
		an->conn = NULL;
		pthread_mutex_unlock(&st->lock);
	}
	sky_ssh_close(inst->conn);
	inst->conn = NULL;
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

/* Everything tagged as this pool's that still runs: instances whose
 * launch answer was lost, or a crashed run's. */
static int sweep(struct aws_state *st, struct sky_err *err)
{
	char (*ids)[32] = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = aws_refresh(st, 0, err)))
		return rc;
	pthread_mutex_lock(&st->lock);
	ids = calloc(st->n_seen + 1, sizeof(*ids));
	for (i = 0; ids && i < st->n_seen; i++)
		if (!aws_gone(&st->seen[i]) || !strcmp(st->seen[i].state, "stopped"))
			sky_strlcpy(ids[n++], st->seen[i].id, sizeof(ids[0]));
	pthread_mutex_unlock(&st->lock);
	if (!ids)
		return -ENOMEM;
	for (i = 0; !rc && i < n; i += 500)
		rc = terminate_ids(st, ids + i, n - i < 500 ? n - i : 500, err);
	if (n)
		log_info("%s: swept %zu instance(s) of the pool", st->pool_id, n);
	free(ids);
	return rc;
}

static int aws_teardown(void *state, struct sky_err *err)
{
	struct aws_state *st = state;
	double deadline = sky_mono() + GROUP_DELETE_DEADLINE_S;
	struct aws_error e;
	int rc = 0, r, i;

	if (!st)
		return 0;
	for (i = 0; st->nodes && i < st->n_nodes; i++) {
		sky_ssh_close(st->nodes[i].conn);
		st->nodes[i].conn = NULL;
	}
	if (st->api.http && st->pool_id[0])
		rc = sweep(st, err);
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
	if (st->key_path[0])
		sky_sshkey_remove(st->key_path);
	if (st->dir[0])
		rmdir(st->dir);
	state_free(st);
	return rc;
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
};

