/* What every cloud provider (aws, runpod, vastai, lambda) does the same way
 * once its API has given it a machine (cloud.c): the pool's id, login key
 * and per-node host keys, connecting to a booting node over SSH with the
 * host key pinned (or recorded on first use where the cloud cannot take
 * one), and one API poll shared by every thread that waits on it.
 *
 * No global state; every function returns 0 or -errno with a message in
 * err. Secrets (private keys) are wiped before they are freed. */
#ifndef SKY_CLOUD_H
#define SKY_CLOUD_H

#include <pthread.h>
#include <stddef.h>

#include "providers/provider.h"
#include "transport/sshkey.h"

struct sky_ssh_conn;

/* "<pool slug>-<hash of this host's name>" (tags, names, key names: two
 * machines with the same state directory never share it) into id, and
 * "<host>:<pool state dir>" into mount. */
void sky_cloud_pool_id(const struct sky_pool_info *pool, char *id, size_t idlen, char *mount,
		       size_t mountlen);

/* <pool state dir>/<provider>, made 0700, into dir. */
int sky_cloud_dir(const struct sky_pool_info *pool, const char *provider, char *dir,
		  size_t len, struct sky_err *err);

/* The pool's login key: dir/id_ed25519 made anew (an old one replaced);
 * its path into path and its public line into pub. */
int sky_cloud_login_key(const char *dir, const char *comment, char *path, size_t pathlen,
			char *pub, size_t publen, struct sky_err *err);

/* A fresh host key for a node: the private key's text in *priv (free with
 * sky_cloud_free_secret) and the public line in pub; nothing stays on disk. */
int sky_cloud_host_key(const char *dir, int rank, const char *comment, char **priv,
		       char *pub, size_t publen, struct sky_err *err);
void sky_cloud_free_secret(char *s);

/* Connecting to a node that is booting. */
struct sky_cloud_ssh {
	const char *provider;          /* "runpod": messages */
	const char *id;                /* the instance's id: messages */
	const char *user;
	const char *host;
	int port;                      /* 22 when 0 */
	const char *identity;          /* the pool's login key file */
	const char *pinned_key;        /* the only host key accepted ("ssh-ed25519 AAAA..."),
					* or NULL: recorded on first use into record_file */
	const char *record_file;
	int key_may_change;            /* the node starts with its image's key and installs
					* the pinned one later (Vast.ai's onstart): a refused
					* key is retried until the deadline, not fatal */
	const char *remote_dir;        /* node-side base, relative to the login directory */
	int node_timeout_s;
	double deadline;               /* sky_mono() by which it must be up */
	void (*state)(void *arg, int up, const char *why);   /* transport/ssh.h */
	void *state_arg;
};
/* Connects, retrying while sshd is not up yet (connection refused, timed
 * out) until p->deadline; a refused host key fails at once unless
 * key_may_change. 0 and *out, or -errno with err. */
int sky_cloud_connect(const struct sky_cloud_ssh *p, struct sky_ssh_conn **out,
		      struct sky_err *err);

/* One poll of a cloud API (list the pool's instances) shared by every
 * thread waiting on it: fetch runs in one thread at a time, and a caller
 * finding an answer younger than max_age gets that answer's rc instead of
 * asking again. fetch stores what it learned under its own lock. */
struct sky_cloud_poll {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	double at;                     /* sky_mono() of the last answer; 0 = never */
	int busy;
	int rc;
	char err[512];
};
void sky_cloud_poll_init(struct sky_cloud_poll *p);
void sky_cloud_poll_destroy(struct sky_cloud_poll *p);
int sky_cloud_poll(struct sky_cloud_poll *p, double max_age,
		   int (*fetch)(void *arg, struct sky_err *err), void *arg, struct sky_err *err);

/* Whether a provider's API accepted its credentials on the last call, for
 * providers/<name>/status. A provider keeps one (static, thread-safe). */
struct sky_cloud_health {
	pthread_mutex_t lock;
	char refused[512];             /* "" while usable */
	char endpoint[512];            /* where the last call went */
};
#define SKY_CLOUD_HEALTH_INIT { PTHREAD_MUTEX_INITIALIZER, "", "" }
struct sky_api_error;
/* After a call: rc -EACCES marks the credentials refused (with e's code
 * and message), 0 clears that; other failures change nothing. */
void sky_cloud_health_note(struct sky_cloud_health *h, int rc, const struct sky_api_error *e,
			   const char *endpoint);
/* "usable: yes|no (...)" and "endpoint: ..." lines; configured says
 * whether credentials were found at all. */
void sky_cloud_health_render(struct sky_cloud_health *h, struct sky_buf *out, int configured);

#endif
