/* The parts of a cloud provider that do not depend on its API (see
 * cloud.h): ids, keys, connecting to a booting node, a shared poll, and
 * the per-pool state and nodes every provider's own state starts with. */
#define LOG_MODULE "cloud"
#include "providers/cloud.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/http.h"
#include "scheduler/spec.h"
#include "transport/ssh.h"

#define SSH_TRY_S 10          /* one connection attempt to a booting node */

void sky_cloud_pool_id(const struct sky_pool_info *pool, char *id, size_t idlen, char *mount,
		       size_t mountlen)
{
	char host[128] = "", slug[128];

	gethostname(host, sizeof(host) - 1);
	sky_pool_slug(pool, slug, sizeof(slug));
	snprintf(id, idlen, "%s-%s", slug, sky_mount_id());
	if (mount && mountlen)
		snprintf(mount, mountlen, "%s:%s", host, pool->state_dir);
}

int sky_cloud_dir(const struct sky_pool_info *pool, const char *provider, char *dir,
		  size_t len, struct sky_err *err)
{
	int rc;

	if ((size_t)snprintf(dir, len, "%s/%s", pool->state_dir, provider) >= len) {
		sky_err_set(err, "%s: state directory path too long", provider);
		return -ENAMETOOLONG;
	}
	if ((rc = sky_mkdir_p(dir, 0700)))
		sky_err_set(err, "%s: cannot create %s: %s", provider, dir, strerror(-rc));
	return rc;
}

int sky_cloud_login_key(const char *dir, int reuse, const char *comment, char *path,
			size_t pathlen, char *pub, size_t publen, struct sky_err *err)
{
	char pubpath[4200], *text = NULL;
	int rc;

	if ((size_t)snprintf(path, pathlen, "%s/id_ed25519", dir) >= pathlen)
		return -ENAMETOOLONG;
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	/* the machines a crashed daemon left know only the old key */
	if (reuse && access(path, R_OK) == 0 && !sky_read_file(pubpath, &text, NULL, 4096)) {
		text[strcspn(text, "\n")] = '\0';
		rc = strlen(text) < publen ? 0 : -ENOSPC;
		if (!rc)
			memcpy(pub, text, strlen(text) + 1);
		free(text);
		if (!rc)
			return 0;
	}
	sky_sshkey_remove(path);
	if ((rc = sky_sshkey_generate(path, comment, pub, publen)))
		sky_err_set(err, "cannot make the pool's key %s: %s", path, strerror(-rc));
	return rc;
}

int sky_cloud_host_key(const char *dir, int rank, const char *comment, char **priv,
		       char *pub, size_t publen, struct sky_err *err)
{
	char path[4300];
	size_t len = 0;
	int rc;

	*priv = NULL;
	snprintf(path, sizeof(path), "%s/host-%d", dir, rank);
	sky_sshkey_remove(path);
	rc = sky_sshkey_host_keypair(path, comment, pub, publen);
	if (!rc)
		rc = sky_read_file(path, priv, &len, 64 * 1024);
	/* the private half lives only in what goes to the node */
	sky_sshkey_remove(path);
	if (rc)
		sky_err_set(err, "cannot make a host key in %s: %s", dir, strerror(-rc));
	return rc;
}

void sky_cloud_free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

int sky_cloud_connect(const struct sky_cloud_ssh *c, struct sky_ssh_conn **out,
		      struct sky_err *err)
{
	struct sky_ssh_params p;
	char msg[512];
	int rc;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	sky_strlcpy(p.user, c->user, sizeof(p.user));
	sky_strlcpy(p.host, c->host, sizeof(p.host));
	p.port = c->port ? c->port : 22;
	sky_strlcpy(p.identity, c->identity, sizeof(p.identity));
	if (c->pinned_key) {
		p.policy = SKY_HOSTKEY_PINNED;
		sky_strlcpy(p.pinned_key, c->pinned_key, sizeof(p.pinned_key));
	} else {
		p.policy = SKY_HOSTKEY_ACCEPT_NEW;
		/* only the pool's record: never the user's known_hosts */
		sky_strlcpy(p.known_hosts, c->record_file, sizeof(p.known_hosts));
		sky_strlcpy(p.record_file, c->record_file, sizeof(p.record_file));
	}
	p.connect_timeout_s = SSH_TRY_S;
	p.node_timeout_s = c->node_timeout_s > 0 && c->node_timeout_s < 86400 ?
			   c->node_timeout_s : 60;
	sky_strlcpy(p.remote_dir, c->remote_dir, sizeof(p.remote_dir));
	p.state = c->state;
	p.state_arg = c->state_arg;
	for (;;) {
		struct sky_ssh_conn *conn = NULL;

		msg[0] = '\0';
		if ((rc = sky_ssh_open(&p, &conn))) {
			sky_err_set(err, "%s: %s: %s", c->provider, c->id, strerror(-rc));
			return rc;
		}
		rc = sky_ssh_wait_up(conn, SSH_TRY_S, msg, sizeof(msg));
		if (!rc) {
			*out = conn;
			return 0;
		}
		sky_ssh_close(conn);
		if (rc == -EPERM && !c->key_may_change) {
			/* not the key skyfs put there: someone else's machine */
			sky_err_set(err, "%s: %s at %s: host key refused: %s", c->provider, c->id,
				    c->host, msg);
			return rc;
		}
		log_debug("%s at %s:%d: not reachable yet (%s), retrying", c->id, c->host, p.port,
			  msg[0] ? msg : strerror(-rc));
		if (sky_mono() + 1 >= c->deadline) {
			sky_err_set(err, "%s: %s at %s:%d: SSH not reachable: %s", c->provider, c->id,
				    c->host, p.port, msg[0] ? msg : strerror(-rc));
			return rc;
		}
		sleep(1);
	}
}

void sky_cloud_poll_init(struct sky_cloud_poll *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
}

void sky_cloud_poll_destroy(struct sky_cloud_poll *p)
{
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}

int sky_cloud_poll(struct sky_cloud_poll *p, double max_age,
		   int (*fetch)(void *arg, struct sky_err *err), void *arg, struct sky_err *err)
{
	struct sky_err e = { { 0 } };
	int rc;

	pthread_mutex_lock(&p->lock);
	while (!(p->at && sky_mono() - p->at < max_age) && p->busy)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->at && sky_mono() - p->at < max_age) {
		rc = p->rc;
		if (rc && err)
			sky_err_set(err, "%s", p->err);
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	p->busy = 1;
	pthread_mutex_unlock(&p->lock);
	rc = fetch(arg, &e);
	pthread_mutex_lock(&p->lock);
	p->rc = rc;
	sky_strlcpy(p->err, e.msg, sizeof(p->err));
	p->at = sky_mono();
	p->busy = 0;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (rc && err)
		*err = e;
	return rc;
}

void sky_cloud_health_note(struct sky_cloud_health *h, int rc, const struct sky_api_error *e,
			   const char *endpoint)
{
	pthread_mutex_lock(&h->lock);
	if (rc == -EACCES)
		snprintf(h->refused, sizeof(h->refused), "%s%s%s", e->code, e->code[0] ? ": " : "",
			 e->message);
	else if (!rc)
		h->refused[0] = '\0';
	if (endpoint)
		sky_strlcpy(h->endpoint, endpoint, sizeof(h->endpoint));
	pthread_mutex_unlock(&h->lock);
}

void sky_cloud_health_render(struct sky_cloud_health *h, struct sky_buf *out, int configured)
{
	pthread_mutex_lock(&h->lock);
	if (h->refused[0])
		sky_buf_printf(out, "usable: no (the API refused the credentials: %s)\n",
			       h->refused);
	else
		sky_buf_printf(out, "usable: %s\n", configured ? "yes" : "no");
	if (h->endpoint[0])
		sky_buf_printf(out, "endpoint: %s\n", h->endpoint);
	pthread_mutex_unlock(&h->lock);
}

/* ---- the per-pool state --------------------------------------------------------- */

int sky_cloud_pool_init(struct sky_cloud_pool *p, const char *provider,
			const struct sky_pool_info *pool, size_t node_size)
{
	int i;

	pthread_mutex_init(&p->lock, NULL);
	sky_cloud_poll_init(&p->poll);
	p->provider = provider;
	p->resume = pool->resume;
	p->spec = pool->spec;
	p->offer = pool->offer;
	p->n_nodes = pool->nodes;
	p->node_state = pool->node_state;
	p->node_state_arg = pool->node_state_arg;
	p->launched = pool->launched;
	p->n_devices = pool->offer->accelerator_count;
	if (p->n_devices > (int)SKY_ARRAY_SIZE(((struct sky_instance *)0)->devices))
		p->n_devices = (int)SKY_ARRAY_SIZE(((struct sky_instance *)0)->devices);
	sky_cloud_pool_id(pool, p->id, sizeof(p->id), p->mount, sizeof(p->mount));
	if (!(p->nodes = calloc((size_t)p->n_nodes, node_size)))
		return -ENOMEM;
	p->node_size = node_size;
	for (i = 0; i < p->n_nodes; i++) {
		sky_cloud_node(p, i)->pool = p;
		sky_cloud_node(p, i)->rank = i;
	}
	return 0;
}

struct sky_cloud_node *sky_cloud_node(struct sky_cloud_pool *p, int rank)
{
	return (struct sky_cloud_node *)((char *)p->nodes + (size_t)rank * p->node_size);
}

struct sky_cloud_node *sky_cloud_node_of(struct sky_cloud_pool *p, const char *id)
{
	int i;

	for (i = 0; i < p->n_nodes; i++)
		if (!strcmp(sky_cloud_node(p, i)->id, id))
			return sky_cloud_node(p, i);
	return NULL;
}

void sky_cloud_close_nodes(struct sky_cloud_pool *p)
{
	int i;

	for (i = 0; p->nodes && i < p->n_nodes; i++) {
		struct sky_cloud_node *n = sky_cloud_node(p, i);
		struct sky_ssh_conn *conn;

		pthread_mutex_lock(&p->lock);
		conn = n->conn;
		n->conn = NULL;
		pthread_mutex_unlock(&p->lock);
		sky_ssh_close(conn);
	}
}

void sky_cloud_pool_fini(struct sky_cloud_pool *p)
{
	if (p->key_path[0] && !p->keep)
		sky_sshkey_remove(p->key_path);
	if (p->dir[0] && !p->keep)
		rmdir(p->dir);
	sky_cloud_close_nodes(p);
	pthread_mutex_destroy(&p->lock);
	sky_cloud_poll_destroy(&p->poll);
	free(p->nodes);
	p->nodes = NULL;
}

long sky_cloud_boot_s(const struct sky_cloud_pool *p)
{
	return p->spec->boot_timeout_s > 0 ? p->spec->boot_timeout_s : 600;
}

void sky_cloud_conn_state(void *arg, int up, const char *why)
{
	struct sky_cloud_node *n = arg;
	struct sky_cloud_pool *p = n->pool;
	char reason[400];

	if (!up && p->gone && p->gone(n, reason, sizeof(reason))) {
		up = -1;
		why = reason;
	}
	if (p->node_state)
		p->node_state(p->node_state_arg, n->rank, up, why);
}

int sky_cloud_node_connect(struct sky_cloud_pool *p, struct sky_cloud_node *n,
			   struct sky_cloud_ssh *ssh, const char *default_user,
			   struct sky_instance *inst, struct sky_err *err)
{
	struct sky_ssh_conn *conn = NULL;
	char remote[256];
	int rc, i;

	snprintf(remote, sizeof(remote), ".skyfs/%s/node-%d", p->id, n->rank);
	ssh->provider = p->provider;
	ssh->user = p->spec->ssh_user ? p->spec->ssh_user : default_user;
	ssh->identity = p->key_path;
	ssh->remote_dir = remote;
	ssh->node_timeout_s = (int)p->spec->node_timeout_s;
	if (!ssh->state)
		ssh->state = sky_cloud_conn_state;
	ssh->state_arg = n;
	if ((rc = sky_cloud_connect(ssh, &conn, err)))
		return rc;
	pthread_mutex_lock(&p->lock);
	n->conn = conn;
	pthread_mutex_unlock(&p->lock);
	sky_strlcpy(inst->workdir, sky_ssh_remote_dir(conn), sizeof(inst->workdir));
	inst->transport = &sky_transport_ssh;
	inst->conn = conn;
	sky_strlcpy(inst->host_key, ssh->pinned_key ? "pinned (made by skyfs)" :
		    "recorded on first use", sizeof(inst->host_key));
	sky_strlcpy(inst->host_pub, ssh->pinned_key ? ssh->pinned_key : "", sizeof(inst->host_pub));
	inst->state = SKY_INST_RUNNING;
	for (i = 0; i < p->n_devices; i++)
		snprintf(inst->devices[i], sizeof(inst->devices[i]), "%d", i);
	inst->n_devices = p->n_devices;
	return 0;
}

struct sky_cloud_node *sky_cloud_drop_conn(struct sky_cloud_pool *p, struct sky_instance *inst)
{
	struct sky_cloud_node *n = NULL;
	int i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; inst->id[0] && !n && i < p->n_nodes; i++)
		if (!strcmp(sky_cloud_node(p, i)->id, inst->id)) {
			n = sky_cloud_node(p, i);
			n->conn = NULL;
		}
	pthread_mutex_unlock(&p->lock);
	sky_ssh_close(inst->conn);
	inst->conn = NULL;
	return n;
}

/* The node's watchdog, a detached POSIX sh loop: the connection's
 * heartbeat touches <base>/alive every few seconds (transport/ssh.c); when
 * that file is older than timeout_s, nobody controls the machine any more
 * and it runs how (its provider's way to end itself), then exits. The
 * check runs every timeout/5 s (at most 30), so a node outlives its
 * controller by timeout_s plus one period. Jobs do not touch it: a long
 * job of a live pool keeps its node. */
int sky_cloud_deadman(struct sky_ssh_conn *conn, long timeout_s, const char *how,
		      struct sky_err *err)
{
	struct sky_buf cmd = { 0 }, loop = { 0 };
	long every = timeout_s / 5 < 1 ? 1 : timeout_s / 5 > 30 ? 30 : timeout_s / 5;
	int rc, status = -1;

	sky_buf_printf(&loop, "while sleep %ld; do a=$(stat -c %%Y alive 2>/dev/null) || a=0; "
		       "[ $(( $(date +%%s) - a )) -lt %ld ] && continue; %s; exit; done",
		       every, timeout_s, how);
	sky_buf_printf(&cmd, "cd ");
	sky_buf_shquote(&cmd, sky_ssh_remote_dir(conn));
	/* an earlier switch (adoption, or a reused directory) is replaced; its
	 * process may be long gone */
	sky_buf_printf(&cmd, " && touch alive && { kill $(cat deadman.pid 2>/dev/null) "
		       "2>/dev/null; true; } && { command -v setsid >/dev/null && S=setsid || S=; "
		       "nohup $S sh -c ");
	if (loop.data)
		sky_buf_shquote(&cmd, loop.data);
	sky_buf_printf(&cmd, " </dev/null >/dev/null 2>&1 & echo $! > deadman.pid; }");
	rc = cmd.data && loop.data ? sky_ssh_run(conn, cmd.data, 30, NULL, 0, &status) : -ENOMEM;
	if (!rc && status)
		rc = -EIO;
	if (rc)
		sky_err_set(err, "cannot install the dead-man switch on the node (%s)",
			    rc == -EIO ? "the command failed" : strerror(-rc));
	sky_buf_free(&cmd);
	sky_buf_free(&loop);
	return rc;
}

long sky_cloud_orphan_timeout(const struct sky_cloud_pool *p)
{
	long t = p->spec->orphan_timeout_s > 0 ? p->spec->orphan_timeout_s : 600;

	/* the heartbeat comes every node_timeout/4: never less than that */
	if (t < p->spec->node_timeout_s)
		t = p->spec->node_timeout_s;
	return t;
}

int sky_cloud_pool_hash_in(const char *name, const char *mount_id, char out[9])
{
	size_t m = strlen(mount_id);
	const char *at;

	/* "...-<8 hex pool hash>-<mount id>" then the end or "-<rank>..." */
	for (at = strstr(name, mount_id); at; at = strstr(at + 1, mount_id)) {
		if (at - name < 10 || at[-1] != '-' || at[-10] != '-' ||
		    (at[m] != '\0' && at[m] != '-') || strspn(at - 9, "0123456789abcdef") < 8)
			continue;
		memcpy(out, at - 9, 8);
		out[8] = '\0';
		return 0;
	}
	return -ENOENT;
}

int sky_cloud_env_ref(struct sky_buf *out, const char *name)
{
	/* the session's variable, else the container's (PID 1's) */
	return sky_buf_printf(out, "$(v=\"${%s:-}\"; [ -n \"$v\" ] || v=$(tr '\\0' '\\n' "
			      "</proc/1/environ 2>/dev/null | sed -n 's/^%s=//p' | head -n 1); "
			      "printf %%s \"$v\")", name, name);
}

void sky_cloud_launched(const struct sky_cloud_pool *p, int rank, const char *id,
			const char *host_pub)
{
	if (p->launched && id[0])
		p->launched(p->node_state_arg, rank, id, host_pub ? host_pub : "");
}

int sky_cloud_end_strays(const struct sky_cloud_pool *p, void *state, int rank,
			 sky_cloud_end_fn end, struct sky_err *err)
{
	size_t n = 0;
	int rc;

	if (!p->resume)
		return 0;
	rc = end(state, rank, &n, err);
	if (n)
		log_warn("%s: node-%d: %zu machine(s) of a launch whose answer was lost: %s",
			 p->id, rank, n, rc ? "ending them failed" : "ended");
	return rc;
}

int sky_cloud_adopt_begin(struct sky_cloud_pool *p, int rank, const struct sky_instance *inst,
			  int pinned, struct sky_err *err)
{
	struct sky_cloud_node *n;

	if (rank < 0 || rank >= p->n_nodes)
		return -EINVAL;
	if (pinned && !inst->host_pub[0]) {
		sky_err_set(err, "%s: %s: no pinned host key recorded", p->provider, inst->id);
		return -EPROTO;
	}
	n = sky_cloud_node(p, rank);
	pthread_mutex_lock(&p->lock);
	sky_strlcpy(n->id, inst->id, sizeof(n->id));
	pthread_mutex_unlock(&p->lock);
	return 0;
}
