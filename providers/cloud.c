/* The parts of a cloud provider that do not depend on its API (see
 * cloud.h): ids, keys, connecting to a booting node, a shared poll. */
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
#include "transport/ssh.h"

#define SSH_TRY_S 10          /* one connection attempt to a booting node */

void sky_cloud_pool_id(const struct sky_pool_info *pool, char *id, size_t idlen, char *mount,
		       size_t mountlen)
{
	char host[128] = "", slug[128];
	uint32_t h = 2166136261u;
	size_t i;

	gethostname(host, sizeof(host) - 1);
	sky_pool_slug(pool, slug, sizeof(slug));
	for (i = 0; host[i]; i++)
		h = (h ^ (unsigned char)host[i]) * 16777619u;
	snprintf(id, idlen, "%s-%08x", slug, h);
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

int sky_cloud_login_key(const char *dir, const char *comment, char *path, size_t pathlen,
			char *pub, size_t publen, struct sky_err *err)
{
	int rc;

	if ((size_t)snprintf(path, pathlen, "%s/id_ed25519", dir) >= pathlen)
		return -ENAMETOOLONG;
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
