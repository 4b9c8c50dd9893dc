/* The provider interface: the one table of operations every provider
 * (local, ssh, aws, runpod, vastai, lambda, slurm, container) implements, and
 * the registry that lists them.
 *
 * Threading and blocking: the scheduler calls these from its provisioning
 * and teardown worker threads, never from a FUSE handler, and never while
 * holding the scheduler lock. Any call may block on the network; each one
 * must bound its own waits (timeouts on every network call).
 *
 * Errors: every operation returns 0 or -errno and, on failure, writes a one
 * line reason into err (struct sky_err), which ends up in the pool's status,
 * events and plan. -EAGAIN means "capacity/price/quota: try the next
 * candidate"; -EACCES means "credentials refused: provider unusable".
 * Reasons never contain credentials.
 *
 * Ownership: prepare() creates the per-pool provider state (*state); the
 * scheduler owns it from then on and hands it back to teardown(), which frees
 * it. Instances are plain values (struct sky_instance) owned by the node. */
#ifndef SKY_PROVIDER_H
#define SKY_PROVIDER_H

#include <stddef.h>

struct sky_spec;
struct sky_spec_host;
struct sky_request;
struct sky_transport_ops;

struct sky_err {
	char msg[512];
};
void sky_err_set(struct sky_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

enum sky_market { SKY_MARKET_ON_DEMAND, SKY_MARKET_SPOT };
const char *sky_market_name(enum sky_market m);

enum sky_offer_source { SKY_SOURCE_SNAPSHOT, SKY_SOURCE_LIVE };

/* One thing a provider can run a node on. */
struct sky_offer {
	char provider[32];
	char instance_type[64];      /* provider's name for the node shape */
	char region[32];
	char accelerator[64];        /* canonical name when the catalog knows it, else
				      * the device name as reported; "" for none */
	int accelerator_count;       /* devices per node */
	int shareable;               /* the count is a capacity that nodes and slots
				      * split (the local machine), not a fixed shape */
	int vcpus;                   /* 0 when unknown */
	int memory_gb;               /* 0 when unknown */
	enum sky_market market;
	double price_usd_per_hour;   /* per node */
	enum sky_offer_source source;
	long long as_of;             /* when the figures are from (epoch seconds) */
	int stale;                   /* a snapshot row older than the catalog's max age */
};

enum sky_instance_state {
	SKY_INST_PENDING,
	SKY_INST_RUNNING,
	SKY_INST_STOPPING,
	SKY_INST_GONE,
};
const char *sky_instance_state_name(enum sky_instance_state s);

/* One node as the provider sees it. */
struct sky_instance {
	char id[128];                /* provider's instance id */
	char address[128];           /* how the transport reaches it */
	char workdir[4096];          /* node-side directory skyfs may use */
	enum sky_instance_state state;
	/* how jobs reach this node; set by provision() */
	const struct sky_transport_ops *transport;
	/* the transport's connection to this node (struct sky_ssh_conn for
	 * SSH), owned by the provider: made in provision, freed in terminate */
	void *conn;
	/* how its SSH host key is trusted, for nodes/<n>: "pinned (made by
	 * skyfs)", "recorded on first use", "known_hosts"; "" when no SSH */
	char host_key[40];
	/* the pinned host key's public line ("ssh-ed25519 AAAA..."), kept in
	 * the pool's journal so that a later daemon can adopt the machine;
	 * "" when the key is not pinned */
	char host_pub[128];
	/* more options for each job's launcher, space-separated (srun's
	 * "--cpus-per-task=2"); "" for none */
	char launch[128];
	/* device ids the node's slots split between them ("0", "1", ...) */
	char devices[16][16];
	int n_devices;
};

/* What prepare() learns about the pool. */
struct sky_pool_info {
	const char *name;            /* pool directory name */
	const char *state_dir;       /* the pool's private directory in the state dir */
	const struct sky_spec *spec;     /* slots, setup, the provider's keys */
	int nodes;                   /* ranks 0..nodes-1 may be provisioned, adopted or
				      * terminated with this state (not spec->nodes:
				      * a live pool grows, and a recovered one may
				      * hold ranks its spec no longer has) */
	const struct sky_offer *offer;   /* the candidate being tried */
	const struct sky_request *request; /* the alternative it satisfies (accelerator count) */
	/* For providers whose nodes can drop and come back (ssh): reports
	 * node rank's connection going down (up 0, why says how) or up again.
	 * Callable from any thread until that node's terminate() returned;
	 * the scheduler takes its own lock inside, so the provider must not
	 * hold one of its own that terminate() also takes. May be NULL.
	 * up < 0 says the node is gone for good (its instance was terminated,
	 * a spot reclaim): it is lost at once, without waiting node_timeout. */
	void (*node_state)(void *arg, int rank, int up, const char *why);
	void *node_state_arg;
	/* Called by provision() as soon as the provider gave node rank a
	 * machine (its id, and the public line of the host key skyfs pinned
	 * for it, or ""), before it boots: the scheduler journals it, so a
	 * crash during the boot does not lose it. Same thread as provision.
	 * May be NULL; arg is node_state_arg. */
	void (*launched)(void *arg, int rank, const char *id, const char *host_pub);
	/* For providers whose provision() waits in a queue outside skyfs (a
	 * batch scheduler): what node rank waits for now ("slurm job 42
	 * PENDING (Resources)"), "" once it waits no more. The pool reads
	 * "pending" while one of its nodes waits. Same thread as provision;
	 * may be NULL; arg is node_state_arg. */
	void (*waiting)(void *arg, int rank, const char *what);
	/* Non-zero once the pool is being stopped (rmdir, unmount, a limit):
	 * a provision() that may wait without bound asks between polls and
	 * gives up with -ECANCELED. May be NULL; arg is node_state_arg. */
	int (*stopping)(void *arg);
	/* For providers whose machines the spec lists (ssh): copies node
	 * rank's entry of the pool's hosts, as the spec is now, into *out
	 * (-ENOENT when it has none), and records it as the host that node
	 * runs on. A live spec may add, change or remove the entries past
	 * the nodes in use, so provision() reads its host here, under the
	 * scheduler's lock, never through spec->hosts. Any thread; may be
	 * NULL (then spec->hosts, which does not change); arg is
	 * node_state_arg. */
	int (*host_of)(void *arg, int rank, struct sky_spec_host *out);
	/* The pool is coming back after a daemon crash: prepare() keeps the
	 * per-pool resources a previous run made (login key, key pair,
	 * security group) instead of replacing them, so adopt() can reach
	 * the machines that are still up. */
	int resume;
};

/* A name for the pool that two daemons (state directories) never share,
 * readable and safe in any shell, regex or cloud resource name: the pool
 * name reduced to [A-Za-z0-9_-], then a hash of its state directory. */
void sky_pool_slug(const struct sky_pool_info *pool, char *out, size_t len);
/* The hash of a pool's state directory in its slug (8 hex digits); the
 * orphan sweep knows a pool's machines by it. */
void sky_pool_hash(const char *pool_state_dir, char out[9]);
/* This mount's id (8 hex digits): a hash of the host's name and the state
 * directory, the last part of every cloud pool id, so that an orphan sweep
 * touches only what this state directory on this machine made. Set once by
 * the scheduler when it opens the state directory, before any provider call. */
void sky_set_mount_id(const char *state_root);
const char *sky_mount_id(void);

/* The orphan sweep's question to the scheduler: does a live pool own the
 * machines of the pool whose state directory hashes to pool_hash? With
 * machine_id (what provision() puts in inst->id), about that machine: a
 * live pool whose nodes are all up and none of them holds it does not own
 * it (a launch the cloud carried out only after a crashed daemon's
 * successor had looked for it); while the pool launches, replaces,
 * recovers or releases nodes it owns them all. NULL: the pool's machines
 * as a whole, for providers whose ids the nodes do not hold verbatim. */
typedef int (*sky_owned_fn)(const char *pool_hash, const char *machine_id, void *arg);

struct sky_buf;

struct sky_provider_ops {
	const char *name;
	/* offers() lists everything the provider offers right now (RunPod,
	 * Lambda, Vast.ai), so its shipped snapshot's rows are hidden while a
	 * live answer stands; 0 when live offers only refine the snapshot
	 * (aws: spot prices over the snapshot's on-demand rows). */
	int live_complete;
	/* Its machines are given, not rented (ssh hosts, this machine): a lost
	 * node is waited for (the transport reconnects), never replaced. */
	int fixed_nodes;
	/* providers/<name>/status's "configured: ..." line and any other
	 * lines the provider knows (credentials' source, never a secret). */
	int (*status)(struct sky_buf *out);
	/* Lists every offer for spec into a malloc'd array (*out, *n; caller
	 * frees). May return zero offers. */
	int (*offers)(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
		      struct sky_err *err);
	/* Creates per-pool resources (keys, networks) and the state handle. */
	int (*prepare)(const struct sky_pool_info *pool, void **state, struct sky_err *err);
	/* Creates node number rank. Returns once the provider accepted it;
	 * the instance may still be pending. The scheduler provisions the
	 * nodes of a pool from several threads at once, each with its own
	 * rank: provision must be safe to call concurrently on one state. */
	int (*provision)(void *state, int rank, struct sky_instance *inst, struct sky_err *err);
	/* Refreshes inst->state (and address once known). */
	int (*get_instance)(void *state, struct sky_instance *inst, struct sky_err *err);
	/* Stops the node and everything running on it; returns when it is gone
	 * or confirmed going. Idempotent. */
	int (*terminate)(void *state, struct sky_instance *inst, struct sky_err *err);
	/* Frees per-pool resources and the state handle itself. */
	int (*teardown)(void *state, struct sky_err *err);
	/* Optional. After a daemon crash: takes node rank back from what a
	 * previous run recorded in inst (id, address, host_pub), checking
	 * that the machine still runs and connecting to it with its pinned
	 * host key. 0: inst is as provision() would leave it; -ENOENT: that
	 * machine is gone (the scheduler provisions anew); other -errno: it
	 * could not be reached (the scheduler terminates it and provisions
	 * anew). Same threading rules as provision(). NULL: the provider
	 * cannot adopt; recorded machines are terminated and replaced. */
	int (*adopt)(void *state, int rank, struct sky_instance *inst, struct sky_err *err);
	/* Optional. The orphan sweep: lists every machine of this provider
	 * that carries mount_id (tags or names) and terminates each whose
	 * pool owned() denies, in the regions given (NULL/0: the provider's
	 * own default list, or every region for a global API). Returns how
	 * many it terminated (>= 0) or -errno with err. Called from the
	 * sweeper thread, without any pool state; must bound its waits. */
	int (*sweep)(const char *mount_id, const char *const *regions, size_t n_regions,
		     sky_owned_fn owned, void *arg, struct sky_err *err);
};

/* The registry: NULL when no provider has that name. */
const struct sky_provider_ops *sky_provider_find(const char *name);
/* Comma-separated list of registered names, for error messages. */
const char *sky_provider_names(void);
/* Every registered provider, in registry order. */
const struct sky_provider_ops *const *sky_providers(size_t *n);
/* The last error a provider reported (offers, prepare, provision...), kept
 * for providers/<name>/status; never a credential. Thread-safe. */
void sky_provider_note_error(const char *name, const char *msg);
void sky_provider_last_error(const char *name, char *buf, size_t len);

/* MNT/providers/: every provider skyfs knows, implemented or catalog-only
 * (status.c). fn returns non-zero to stop. */
int sky_provider_each(int (*fn)(const char *name, void *arg), void *arg);
int sky_provider_known(const char *name);
/* providers/<name>/status: implemented or not, configured or not and where
 * credentials come from (never the secret), offer count, last error. */
int sky_provider_render_status(const char *name, struct sky_buf *out);

#endif
