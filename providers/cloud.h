/* What every cloud provider (aws, runpod, vastai, lambda) does the same way
 * once its API has given it a machine (cloud.c): the pool's id, login key
 * and per-node host keys, connecting to a booting node over SSH with the
 * host key pinned (or recorded on first use where the cloud cannot take
 * one), one API poll shared by every thread that waits on it, and the
 * per-pool state every provider starts its own with (struct
 * sky_cloud_pool, its nodes' struct sky_cloud_node).
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

/* "<pool slug>-<sky_mount_id()>" (tags, names, key names: two
 * machines with the same state directory never share it) into id, and
 * "<host>:<pool state dir>" into mount. */
void sky_cloud_pool_id(const struct sky_pool_info *pool, char *id, size_t idlen, char *mount,
		       size_t mountlen);

/* <pool state dir>/<provider>, made 0700, into dir. */
int sky_cloud_dir(const struct sky_pool_info *pool, const char *provider, char *dir,
		  size_t len, struct sky_err *err);

/* The pool's login key: dir/id_ed25519 made anew (an old one replaced),
 * or with reuse (a pool recovering after a crash) the one there if any;
 * its path into path and its public line into pub. */
int sky_cloud_login_key(const char *dir, int reuse, const char *comment, char *path,
			size_t pathlen, char *pub, size_t publen, struct sky_err *err);

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

/* ---- the per-pool state every cloud provider keeps ----------------------------- */

struct sky_cloud_pool;

/* The first member of each provider's node. */
struct sky_cloud_node {
	struct sky_cloud_pool *pool;     /* the provider's state starts with it */
	int rank;
	char id[64];                     /* its machine's at the cloud, "" until there is
					  * one; the pool's lock */
	struct sky_ssh_conn *conn;       /* while provisioned; the pool's lock */
};

/* The first member of each provider's per-pool state (so a node's pool is
 * the provider's state). Written by sky_cloud_pool_init and prepare() before
 * any other thread sees it, read-only after; lock guards each node's conn
 * and whatever the provider says it guards, and is never held during an
 * API call or a transport call. */
struct sky_cloud_pool {
	const char *provider;            /* "aws": messages, the state dir's name */
	int resume;                      /* sky_pool_info.resume */
	int keep;                        /* a resumed prepare failed: teardown frees this
					  * handle only, never what the pool's machines
					  * and other states still use (keys, groups) */
	const struct sky_spec *spec;
	const struct sky_offer *offer;
	int n_nodes;
	int n_devices;                   /* the offer's, at most what a sky_instance holds */
	void (*node_state)(void *arg, int rank, int up, const char *why);
	void *node_state_arg;
	void (*launched)(void *arg, int rank, const char *id, const char *host_pub);
	char id[96];                     /* sky_cloud_pool_id: tags, names */
	char mount[256];                 /* "<host>:<pool state dir>" */
	char dir[4096];                  /* <pool state>/<provider>; "" until made */
	char key_path[4200];             /* the login key (sky_cloud_login_key); "" until made */
	void *nodes;                     /* n_nodes of node_size bytes, each starting with a
					  * struct sky_cloud_node; the provider's typed view */
	size_t node_size;
	/* Asked by sky_cloud_conn_state when a node drops (lock not held): 1
	 * and the reason in why when its machine is going away for good. NULL:
	 * never. */
	int (*gone)(struct sky_cloud_node *n, char *why, size_t len);
	pthread_mutex_t lock;
	struct sky_cloud_poll poll;      /* one listing of the pool's machines for every waiter */
};

/* Fills p from pool (spec, offer, nodes, node_state, devices, id, mount),
 * inits its lock and poll and allocates its nodes, node_size bytes each,
 * zeroed but for their pool and rank. 0, or -ENOMEM with p still fit for
 * sky_cloud_pool_fini. */
int sky_cloud_pool_init(struct sky_cloud_pool *p, const char *provider,
			const struct sky_pool_info *pool, size_t node_size);
/* The node of rank (0 <= rank < n_nodes). */
struct sky_cloud_node *sky_cloud_node(struct sky_cloud_pool *p, int rank);
/* The node of p that has machine id, or NULL (p->lock held). */
struct sky_cloud_node *sky_cloud_node_of(struct sky_cloud_pool *p, const char *id);
/* The start of a teardown: every node's connection, taken from it under
 * the lock and closed outside it (a closing connection may report). */
void sky_cloud_close_nodes(struct sky_cloud_pool *p);
/* The end of a teardown: removes the login key file and the state dir (if
 * empty), closes what connections are left, and gives back the lock, the
 * poll and the nodes; not p itself. */
void sky_cloud_pool_fini(struct sky_cloud_pool *p);

/* spec.boot_timeout, 600 s when unset. */
long sky_cloud_boot_s(const struct sky_cloud_pool *p);

/* The transport's state callback for a node (arg): a drop (up 0) whose
 * machine p->gone says is going away is reported gone (up < 0), for good;
 * then p->node_state hears it. */
void sky_cloud_conn_state(void *arg, int up, const char *why);

/* The end of a provision: connects to n's machine (ssh holds the machine's
 * part: id, host, port, pinned_key or record_file, key_may_change,
 * deadline, and state where sky_cloud_conn_state will not do; the rest
 * comes from p, n and default_user, the login when the spec names none;
 * state's arg is n), gives the connection to n under the lock, and fills
 * inst as running with p->n_devices devices. */
int sky_cloud_node_connect(struct sky_cloud_pool *p, struct sky_cloud_node *n,
			   struct sky_cloud_ssh *ssh, const char *default_user,
			   struct sky_instance *inst, struct sky_err *err);

/* The start of a terminate: the connection first (it reports nothing more,
 * and its jobs end), forgotten under the lock by the node whose machine
 * inst is. That node, or NULL when none is. */
struct sky_cloud_node *sky_cloud_drop_conn(struct sky_cloud_pool *p, struct sky_instance *inst);

/* Installs the node's dead-man switch over conn: a detached loop that runs
 * the shell command how (the provider's self-termination) once the
 * heartbeat has not touched the node's base directory for timeout_s
 * (sky_cloud_orphan_timeout). Replaces one installed before (adoption). */
int sky_cloud_deadman(struct sky_ssh_conn *conn, long timeout_s, const char *how,
		      struct sky_err *err);
/* The orphan sweep's reading of a machine's name or tag: 0 and the pool's
 * hash (sky_pool_hash) in out when name carries "-<pool hash>-<mount_id>"
 * (a pool id of this mount, sky_cloud_pool_id), else -ENOENT. */
int sky_cloud_pool_hash_in(const char *name, const char *mount_id, char out[9]);
/* Appends a shell expression for the environment variable name as a
 * container sees it: the SSH session's value, else PID 1's (RunPod and
 * Vast.ai give their per-machine keys to the container, not to sshd). */
int sky_cloud_env_ref(struct sky_buf *out, const char *name);
/* The start of every adopt(): rank in range, a recorded pinned host key
 * when pinned, and the node's id set to the recorded machine's. */
int sky_cloud_adopt_begin(struct sky_cloud_pool *p, int rank, const struct sky_instance *inst,
			  int pinned, struct sky_err *err);
/* Tells the scheduler node rank has machine id (sky_pool_info.launched). */
void sky_cloud_launched(const struct sky_cloud_pool *p, int rank, const char *id,
			const char *host_pub);
/* A provider's look for the machines the cloud lists as the rank's (by
 * tag, label or name) that no node of state holds, ending them; *found:
 * how many it asked to end. */
typedef int (*sky_cloud_end_fn)(void *state, int rank, size_t *found, struct sky_err *err);
/* Before a resumed state (p->resume) launches rank: a crashed daemon's
 * launch of the rank whose answer it never recorded runs with a host key
 * nobody knows, so nothing adopts it, and it must not bill until rmdir.
 * The scheduler never launches a rank that still has a machine, so what
 * end finds is such a stray. 0 at once for a state that does not resume. */
int sky_cloud_end_strays(const struct sky_cloud_pool *p, void *state, int rank,
			 sky_cloud_end_fn end, struct sky_err *err);
/* The spec's orphan_timeout, never below node_timeout. */
long sky_cloud_orphan_timeout(const struct sky_cloud_pool *p);

#endif
