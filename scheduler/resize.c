/* Live pools: a ready pool's spec rewritten with new values for its live
 * keys (nodes, slots, env.*, the limits) is taken in on the FUSE thread;
 * the pool's worker then brings the nodes to the new count. Added ranks
 * are provisioned from the plan's candidates, the one the pool runs on
 * first; removed ranks (the highest) drain: they take no new job, finish
 * what they were given, and are then terminated and freed. Any other key
 * describes the machines and stays EBUSY, with a message naming the keys
 * that can change.
 *
 * An ssh pool's hosts are live too, except the entries of the nodes it
 * has: a node stays on the host it runs on (node_host_of records it), and
 * the entries past them may be added, changed or removed.
 *
 * Nodes are allocated one by one and p->nodes has room for every rank the
 * spec allows, so running tasks' pointers to their nodes stay valid while
 * the pool grows and shrinks; only the worker adds or frees nodes, under
 * g.lock. */
#define LOG_MODULE "pool"
#include "scheduler/worker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "scheduler/journal.h"

/* A removed node whose terminate failed is tried again after this long. */
#define TERMINATE_RETRY_S 10.0

struct sky_node *node_new(struct sky_pool *p, int rank)
{
	struct sky_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	/* room for every slot count a live spec may ask for */
	if (!(n->slot_busy = calloc(SKY_MAX_SLOTS, 1))) {
		free(n);
		return NULL;
	}
	n->pool = p;
	n->rank = rank;
	snprintf(n->name, sizeof(n->name), "node-%d", rank);
	n->state = NODE_PROVISIONING;
	return n;
}

void node_free(struct sky_node *n)
{
	if (!n)
		return;
	free(n->slot_busy);
	free(n);
}

int pool_nodes_alloc(struct sky_pool *p, int count)
{
	int i;

	if (count < 0 || count > SKY_MAX_NODES)
		return -EINVAL;
	p->nodes = calloc(SKY_MAX_NODES, sizeof(*p->nodes));
	if (!p->nodes)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		if (!(p->nodes[i] = node_new(p, i)))
			return -ENOMEM;   /* the caller frees the ones made */
		p->n_nodes = i + 1;
		/* ranks past the spec's count: a recovered pool's that was shrinking */
		p->nodes[i]->removing = i >= p->spec.nodes;
	}
	return 0;
}

/* ---- the worker's side -------------------------------------------------------------- */

/* Whether n still has jobs of its own queued: a broadcast's share (lock held). */
static int has_pinned(const struct sky_pool *p, const struct sky_node *n)
{
	const struct sky_qlink *l;

	for (l = p->queue.head.next; l != &p->queue.head; l = l->next)
		if (sky_queue_entry(l, const struct sky_task, qlink)->pinned_rank == n->rank)
			return 1;
	return 0;
}

/* A removed node that can be terminated now (lock held). */
static int drained(const struct sky_pool *p, const struct sky_node *n)
{
	return n->removing && n->state != NODE_GONE && !n->running && !has_pinned(p, n) &&
	       sky_mono() >= n->replace_after;
}

int resize_due(const struct sky_pool *p)
{
	int i;

	if (p->n_nodes < p->spec.nodes)
		return 1;
	for (i = 0; i < p->n_nodes; i++) {
		const struct sky_node *n = p->nodes[i];

		if ((i >= p->spec.nodes) != !!n->removing || drained(p, n) ||
		    (!n->removing && n->state == NODE_GONE))
			return 1;
		if (n->removing && n->state == NODE_GONE && i == p->n_nodes - 1)
			return 1;
	}
	return 0;
}

/* Marks ranks past the spec's count as removed and takes back the ones it
 * has again; the pool reads resizing while ranks need a machine. Called
 * when the spec changes (so that status says so at once) and by the
 * worker. Returns how many ranks need a machine (lock held). */
static int mark_resize(struct sky_pool *p)
{
	int i, target = p->spec.nodes, need = 0;

	for (i = 0; i < p->n_nodes; i++) {
		struct sky_node *n = p->nodes[i];

		if (i >= target && !n->removing) {
			n->removing = 1;
			n->replace = 0;
			n->replace_after = 0;
			pool_event(p, "node %s draining: the spec has %d node(s)", n->name, target);
		} else if (i < target && n->removing) {
			n->removing = 0;
			pool_event(p, "node %s kept: the spec has %d node(s) again", n->name, target);
		}
		if (i < target && n->state == NODE_GONE) {
			/* terminated already: it needs a machine again */
			memset(&n->inst, 0, sizeof(n->inst));
			n->state = NODE_PROVISIONING;
			n->gone = 0;
			n->unreachable_since = 0;
			n->up_since = n->down_at = 0;
			n->error[0] = '\0';
		}
		need += !n->removing && n->state == NODE_PROVISIONING && !n->inst.id[0];
	}
	if (target > p->n_nodes)
		need += target - p->n_nodes;
	if (need && p->state != POOL_RESIZING) {
		pool_event(p, "resizing: %d node(s) to provision", need);
		pool_set_state(p, POOL_RESIZING);
	}
	return need;
}

/* mark_resize, then the nodes of new ranks (lock held). */
static int plan_resize(struct sky_pool *p)
{
	int i, target = p->spec.nodes, need = mark_resize(p);

	if (target > p->n_nodes)
		journal_write(p, 1, "resize %d", target);
	for (i = p->n_nodes; i < target; i++) {
		if (!(p->nodes[i] = node_new(p, i))) {
			pool_event(p, "resize: out of memory for node-%d", i);
			break;
		}
		p->n_nodes = i + 1;
	}
	return need;
}

/* Gives every new rank a machine: all at once from the candidate the pool
 * runs on, then one by one from the others for those that failed. */
static void grow(struct walk *w)
{
	struct sky_pool *p = w->p;
	struct sky_err err = { { 0 } };
	struct owner *o;
	int i;

	o = owner_for(w, &w->owners[0].cand, p->n_nodes - 1, &err);
	if (o)
		nodes_bring_up(p, o, (int)(o - w->owners), &err);
	for (i = 0; i < p->n_nodes; i++) {
		struct sky_node *n = p->nodes[i];
		int todo, partial;

		pthread_mutex_lock(&g.lock);
		todo = !n->removing && n->state == NODE_PROVISIONING && !n->up_since && !p->stop;
		partial = todo && n->inst.id[0];
		pthread_mutex_unlock(&g.lock);
		if (!todo)
			continue;
		if (partial) {
			/* what the failed launch made goes before another is tried */
			node_terminate(w, i);
			pthread_mutex_lock(&g.lock);
			memset(&n->inst, 0, sizeof(n->inst));
			n->state = NODE_PROVISIONING;
			pthread_mutex_unlock(&g.lock);
		}
		if (!node_provision_any(w, n))
			continue;
		pthread_mutex_lock(&g.lock);
		/* tried again like a lost node's replacement, less and less often */
		n->state = NODE_FAILED;
		snprintf(n->error, sizeof(n->error), "resize: no candidate gave it a machine (%s)",
			 err.msg[0] ? err.msg : "see events");
		n->replace = 1;
		n->replace_after = sky_mono() + 10.0;
		pool_event(p, "node %s: %s", n->name, n->error);
		pthread_mutex_unlock(&g.lock);
	}
	nodes_setup(p);
}

/* Terminates node i if it is removed and idle (a thread of each_node:
 * removed nodes go at once, like a release's, not one after another). */
static int retire_node(struct sky_pool *p, int i, void *arg)
{
	struct sky_node *n = p->nodes[i];
	int go, rc;

	pthread_mutex_lock(&g.lock);
	go = drained(p, n) && !p->stop;
	if (go && !n->inst.id[0]) {
		n->state = NODE_GONE;   /* it never had a machine */
		go = 0;
	}
	pthread_mutex_unlock(&g.lock);
	if (!go)
		return 0;
	rc = node_terminate(arg, i);
	pthread_mutex_lock(&g.lock);
	if (rc) {
		n->replace_after = sky_mono() + TERMINATE_RETRY_S;
	} else if (n->state != NODE_GONE) {
		/* no provider state of it is left: the release sweeps by tag */
		n->state = NODE_GONE;
		n->down_at = sky_now();
		timeline_node(p, n->name, TL_DOWN, 0);
	}
	pthread_mutex_unlock(&g.lock);
	return 0;
}

/* Terminates the removed nodes that are idle; frees the tail of removed
 * and terminated nodes. */
static void shrink(struct walk *w)
{
	struct sky_pool *p = w->p;

	each_node(p, retire_node, w);
	pthread_mutex_lock(&g.lock);
	while (p->n_nodes > p->spec.nodes && p->nodes[p->n_nodes - 1]->removing &&
	       p->nodes[p->n_nodes - 1]->state == NODE_GONE) {
		struct sky_node *n = p->nodes[--p->n_nodes];

		if (n->up_since)
			p->spent_before += n->price * ((n->down_at ? n->down_at : sky_now()) -
						       n->up_since) / 3600.0;
		pool_event(p, "node %s removed", n->name);
		p->nodes[p->n_nodes] = NULL;
		node_free(n);
	}
	pthread_cond_broadcast(&g.changed);
	pthread_mutex_unlock(&g.lock);
}

void nodes_resize(struct walk *w)
{
	struct sky_pool *p = w->p;
	int need;

	pthread_mutex_lock(&g.lock);
	need = p->stop ? 0 : plan_resize(p);
	pthread_mutex_unlock(&g.lock);
	if (need)
		grow(w);
	shrink(w);
	pthread_mutex_lock(&g.lock);
	if (!p->stop && pool_live(p)) {
		if (node_all_ready(p)) {
			p->error[0] = '\0';
			pool_set_state(p, POOL_READY);
		} else if (p->state == POOL_RESIZING) {
			int i, failed = 0;

			for (i = 0; i < p->n_nodes; i++)
				failed += !p->nodes[i]->removing && p->nodes[i]->state != NODE_READY;
			snprintf(p->error, sizeof(p->error), "error: %d of %d nodes failed", failed,
				 p->spec.nodes);
			pool_set_state(p, POOL_DEGRADED);
		}
	}
	pthread_mutex_unlock(&g.lock);
}

/* ---- the spec of a live pool ------------------------------------------------------- */

void pool_spec_refused(struct sky_pool *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->spec_refused, sizeof(p->spec_refused), fmt, ap);
	va_end(ap);
	pool_event(p, "spec rewrite refused: %s", p->spec_refused);
}

/* "nodes 2 -> 4, slots 1 -> 3, env.*" for the event (lock held). */
static void describe(const struct sky_spec *old, const struct sky_spec *new, char *buf,
		     size_t len)
{
	static const char *const counts[] = { "nodes", "slots", NULL };
	char names[256];
	size_t used = 0;

	buf[0] = '\0';
	if (old->nodes != new->nodes)
		used += (size_t)snprintf(buf + used, len - used, "nodes %d -> %d", old->nodes,
					 new->nodes);
	if (old->slots != new->slots && used < len)
		used += (size_t)snprintf(buf + used, len - used, "%sslots %d -> %d",
					 used ? ", " : "", old->slots, new->slots);
	/* the other live keys by name (their values may be long: env.*, hosts) */
	sky_spec_live_changes(old, new, counts, names, sizeof(names));
	if (names[0] && used < len)
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names);
}

int node_host_of(void *arg, int rank, struct sky_spec_host *out)
{
	struct sky_pool *p = arg;
	int rc = -ENOENT;

	pthread_mutex_lock(&g.lock);
	if (rank >= 0 && rank < p->spec.n_hosts) {
		*out = p->spec.hosts[rank];
		if (p->nodes && rank < p->n_nodes && p->nodes[rank]) {
			p->nodes[rank]->host = *out;
			p->nodes[rank]->has_host = 1;
		}
		rc = 0;
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static int same_host(const struct sky_spec_host *a, const struct sky_spec_host *b)
{
	return !strcmp(a->user, b->user) && !strcmp(a->host, b->host) && a->port == b->port;
}

/* Whether spec keeps the hosts entry of every node the pool keeps: the one
 * its machine was provisioned on (recorded by node_host_of; an ssh pool's
 * nodes are always provisioned, a recovery included, and other providers'
 * never record one). A node the spec removes may lose its entry; should a
 * later spec keep it after all, its recorded host is checked then (lock
 * held). */
static int hosts_kept(struct sky_pool *p, const struct sky_spec *spec)
{
	int i;

	for (i = 0; p->nodes && i < p->n_nodes && i < spec->nodes; i++) {
		const struct sky_node *n = p->nodes[i];
		const struct sky_spec_host *was;

		if (!n || !n->has_host || n->state == NODE_GONE)
			continue;   /* none yet, or replaced from the new entry */
		was = &n->host;
		if (i < spec->n_hosts && same_host(was, &spec->hosts[i]))
			continue;
		pool_spec_refused(p, "hosts: %s runs on %s@%s:%d, so its entry cannot change "
				  "while the pool keeps it (entries past the nodes in use can; "
				  "lower nodes first to move it)", n->name, was->user, was->host,
				  was->port);
		return -EBUSY;
	}
	return 0;
}

int pool_spec_live(struct sky_pool *p, struct sky_spec *spec, const char *text, size_t len)
{
	char fixed[256], live[256], what[256], path[PATH_MAX], *copy = NULL;
	int rc;

	sky_spec_live_keys(live, sizeof(live));
	if (!pool_live(p) || p->stop || p->removing) {
		pool_spec_refused(p, "the pool is %s: %s can change once it is ready",
				  pool_state_name(p->state), live);
		return -EBUSY;
	}
	if (!len) {
		/* truncate(2), ": > spec": an accident far more often than "all defaults" */
		pool_spec_refused(p, "an empty spec cannot replace a live pool's (rmdir the pool "
				  "to tear it down)");
		return -EBUSY;
	}
	if (sky_spec_live_diff(&p->spec, spec, fixed, sizeof(fixed))) {
		pool_spec_refused(p, "%s cannot change while the pool is live (only %s can; "
				  "a new pool for the rest)", fixed, live);
		return -EBUSY;
	}
	if (hosts_kept(p, spec))
		return -EBUSY;
	/* each slot owns its share of a node's devices */
	if (spec->slots != p->spec.slots && p->req.accelerator[0]) {
		pool_spec_refused(p, "slots cannot change while a pool with accelerators is live "
				  "(each slot owns %d of its node's %s)", p->req.accelerator_count,
				  p->req.accelerator);
		return -EBUSY;
	}
	if (!(copy = malloc(len + 1)))
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	if ((rc = store_pool_path(p, "spec", path, sizeof(path))) ||
	    (rc = sky_write_file_atomic(path, copy, len, 1))) {
		free(copy);
		return rc;
	}
	describe(&p->spec, spec, what, sizeof(what));
	pool_event(p, "spec changed live: %s", what[0] ? what : "nothing that matters");
	sky_spec_take_live(&p->spec, spec);
	free(p->spec_text);
	p->spec_text = copy;
	p->spec_refused[0] = '\0';
	mark_resize(p);
	pthread_cond_broadcast(&g.work);
	sched_kick();
	return 0;
}
