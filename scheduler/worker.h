/* Between the pool worker's files (worker.c: the thread and the walk;
 * nodes.c: provisioning, setup, replacement and release of nodes;
 * recover.c: taking a pool back after a daemon crash). Everything here runs
 * on the pool's worker thread (or threads it starts through each_node),
 * without g.lock unless a function says otherwise. */
#ifndef SKY_WORKER_H
#define SKY_WORKER_H

#include "scheduler/internal.h"

/* A provider state a pool's nodes may belong to: the candidate the pool
 * was provisioned from is owners[0]; a node replaced from another
 * candidate (spot gone, on-demand had room) brings its own. */
#define WORKER_MAX_OWNERS 8
struct owner {
	const struct sky_provider_ops *prov;
	void *pstate;                        /* NULL once torn down */
	int released;                        /* its teardown succeeded */
	char error[256];                     /* why its last prepare failed */
	struct sky_candidate cand;           /* a copy of the plan's entry */
	int nodes;                           /* the ranks its state knows (info.nodes at
					      * its prepare): a pool grown past them
					      * needs another state */
};

/* The walk runs over a private copy of the plan (base); what happens to
 * each candidate is copied into the pool's plan under the lock, so that a
 * reader of plan never sees a half-written reason. */
struct walk {
	struct sky_pool *p;
	struct sky_candidate *base;
	size_t n_base;
	struct owner owners[WORKER_MAX_OWNERS];   /* [0]: the candidate that worked */
	int n_owners;
	/* providers that failed in this walk in a way another candidate of
	 * theirs would meet too (credentials refused, the API down after
	 * every retry): skipped with the same reason */
	struct {
		const struct sky_provider_ops *prov;
		int rc;
		char reason[200];
	} unusable[8];
	int n_unusable;
};

/* nodes.c */
/* Runs fn(p, i, arg) for every node i from up to 64 threads; fn returns
 * non-zero to stop the nodes not started yet. */
void each_node(struct sky_pool *p, int (*fn)(struct sky_pool *p, int i, void *arg), void *arg);
/* Fills info for a provider call about p (its offer and request). */
void worker_pool_info(struct sky_pool *p, struct sky_pool_info *info, int resume);
/* Provisions the nodes of p that have no machine yet from owner o (index
 * owner_ix of the walk's owners); 0, or the first failure with err. */
int nodes_provision(struct sky_pool *p, struct owner *o, int owner_ix, struct sky_err *err);
/* Runs setup on every node still provisioning and makes it ready. */
void nodes_setup(struct sky_pool *p);
/* nodes_provision, each node going on to its setup at once (a live pool's
 * new nodes: each takes jobs as soon as it is ready). */
int nodes_bring_up(struct sky_pool *p, struct owner *o, int owner_ix, struct sky_err *err);
/* Terminates every machine of the owners and tears their states down,
 * retrying in the background with backoff while something may still be
 * up; the pool shows terminating with the reason meanwhile. Gives up only
 * when the daemon is stopping and its grace ran out (the journal keeps
 * what is left for the next mount). Returns 0 once everything is gone. */
int nodes_release(struct sky_pool *p, struct owner *owners, int n_owners);
/* Replaces every node marked for replacement (lock not held). */
void nodes_replace(struct walk *w);
/* A provider state for candidate c that knows rank: an owner of the walk,
 * or a new one prepared (resume: the pool's keys and groups are kept).
 * NULL when the provider is missing, the owners are all used or prepare
 * failed (err). */
struct owner *owner_for(struct walk *w, const struct sky_candidate *c, int rank,
			struct sky_err *err);
/* Provisions a machine for node n from the plan's candidates, the pool's
 * own first (0, or the last failure). */
int node_provision_any(struct walk *w, struct sky_node *n);
/* Terminates node i's machine through its owner (0, or -errno with the
 * reason in events and the node's error). */
int node_terminate(struct walk *w, int i);

/* resize.c */
/* Whether the nodes differ from what the spec asks (lock held). */
int resize_due(const struct sky_pool *p);
/* Brings the nodes to the spec's count: provisions added ranks, drains
 * and then terminates and frees removed ones (lock not held). */
void nodes_resize(struct walk *w);
/* Records a failed candidate in the plan (lock not held). */
void walk_record(struct walk *w, const struct sky_candidate *c, int in_use,
		 const char *reason);
int walk_stop(void *arg);

/* recover.c */
/* Takes back what a crashed daemon left of p (p->replay): adopts its
 * machines into w->owners[0] and returns 1 when the pool needs no walk,
 * 0 when it must be provisioned as new (what was left is released),
 * -ECANCELED when the pool is to stay down (recover = teardown). */
int recover_previous(struct walk *w);

#endif
