/* The pool worker: one thread per live pool, the only thread that calls
 * the provider for it. It picks an offer, prepares, provisions every node
 * and runs setup; then waits for a stop request (rmdir, unmount, a limit)
 * and tears everything down. Also the pool limits checked by the
 * dispatcher (lifetime, idle_timeout). */
#define LOG_MODULE "pool"
#include "scheduler/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "scheduler/journal.h"
#include "scheduler/sweep.h"

void walk_record(struct walk *w, const struct sky_candidate *c, int in_use,
			const char *reason)
{
	struct sky_candidate *pc;
	size_t i = (size_t)(c - w->base);

	pthread_mutex_lock(&g.lock);
	if (i < w->p->n_cands) {
		pc = &w->p->cands[i];
		pc->tried = 1;
		pc->in_use = in_use;
		sky_strlcpy(pc->reason, reason ? reason : "", sizeof(pc->reason));
	}
	pthread_mutex_unlock(&g.lock);
}

int walk_stop(void *arg)
{
	struct walk *w = arg;
	int stop;

	pthread_mutex_lock(&g.lock);
	stop = w->p->stop != STOP_NONE;
	pthread_mutex_unlock(&g.lock);
	return stop;
}

/* Failures that another candidate of the same provider would meet too:
 * credentials refused, or its API without an answer (or answering 5xx)
 * after every retry. */
static int provider_wide(int rc)
{
	return rc == -EACCES || rc == -ETIMEDOUT || rc == -EREMOTEIO;
}

/* Gets the pool every node from one candidate, or gives back what it got:
 * a pool is made of one offer (a failing node moves the whole pool on). */
static int try_candidate(struct sky_candidate *c, void *arg, char *reason, size_t len)
{
	struct walk *w = arg;
	struct sky_pool *p = w->p;
	struct owner o = { .prov = sky_provider_find(c->offer.provider), .cand = *c };
	struct sky_pool_info info;
	struct sky_err err = { { 0 } };
	int rc = 0, i;

	if (!o.prov) {
		snprintf(reason, len, "provider %s is not available in this build "
			 "(its offers come from the shipped snapshot)", c->offer.provider);
		walk_record(w, c, 0, reason);
		pthread_mutex_lock(&g.lock);
		pool_event(p, "%s %s %s %s skipped: %s", c->offer.provider, c->offer.instance_type,
			   c->offer.region, sky_market_name(c->offer.market), reason);
		pthread_mutex_unlock(&g.lock);
		return -ENOTSUP;
	}
	for (i = 0; i < w->n_unusable; i++)
		if (w->unusable[i].prov == o.prov) {
			snprintf(reason, len, w->unusable[i].rc == -EACCES ?
				 "skipped: %s is unusable (%s)" :
				 "skipped: %s failed earlier in this walk (%s)",
				 o.prov->name, w->unusable[i].reason);
			walk_record(w, c, 0, reason);
			return -EACCES;
		}
	walk_record(w, c, 0, "trying");
	pthread_mutex_lock(&g.lock);
	p->offer = c->offer;
	p->req = p->spec.alts[c->alternative];
	pool_event(p, "trying %s %s (%s, %s x%d, %s, %.4f USD/h per node)", o.prov->name,
		   c->offer.instance_type, c->offer.region,
		   c->offer.accelerator[0] ? c->offer.accelerator : "no accelerator",
		   p->req.accelerator_count, sky_market_name(c->offer.market),
		   c->offer.price_usd_per_hour);
	worker_pool_info(p, &info, 0);
	o.nodes = info.nodes;
	pthread_mutex_unlock(&g.lock);

	sweep_note_region(o.prov->name, c->offer.region);
	journal_try(p, &c->offer, 0);
	rc = o.prov->prepare(&info, &o.pstate, &err);
	if (rc) {
		o.pstate = NULL;
		o.released = 1;   /* a failed prepare gave back what it made */
	} else
		rc = nodes_provision(p, &o, 0, &err);
	if (!rc) {
		w->owners[0] = o;
		w->n_owners = 1;
		walk_record(w, c, 1, NULL);
		return 0;
	}
	snprintf(reason, len, "%s", err.msg[0] ? err.msg : strerror(-rc));
	walk_record(w, c, 0, reason);
	if (provider_wide(rc) && w->n_unusable < (int)SKY_ARRAY_SIZE(w->unusable)) {
		w->unusable[w->n_unusable].prov = o.prov;
		w->unusable[w->n_unusable].rc = rc;
		sky_strlcpy(w->unusable[w->n_unusable++].reason, reason,
			    sizeof(w->unusable[0].reason));
	}
	sky_provider_note_error(o.prov->name, reason);
	/* give back what this candidate got before the next one is tried */
	nodes_release(p, &o, 1);
	pthread_mutex_lock(&g.lock);
	for (i = 0; i < p->n_nodes; i++) {
		memset(&p->nodes[i]->inst, 0, sizeof(p->nodes[i]->inst));
		p->nodes[i]->state = NODE_PROVISIONING;
		p->nodes[i]->up_since = p->nodes[i]->down_at = 0;
		p->nodes[i]->unreachable_since = 0;
		p->nodes[i]->gone = 0;
	}
	pool_event(p, "%s %s failed: %s", o.prov->name, c->offer.instance_type, reason);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

/* Lock held. Nodes that never came up are not shown as provisioning
 * forever: a failed pool keeps only the ones that existed. */
static void fail_pool(struct sky_pool *p, const char *msg)
{
	int i, any = 0;

	for (i = 0; i < p->n_nodes; i++)
		any |= p->nodes[i]->inst.id[0] != '\0';
	if (!any && !job_running_tasks(p))
		pool_nodes_free(p);
	snprintf(p->error, sizeof(p->error), "error: %s", msg);
	pool_event(p, "error: %s", msg);
	pool_set_state(p, POOL_FAILED);
}

/* A node that dropped after its setup may come back (lock held). */
static int node_unreachable(const struct sky_pool *p)
{
	int i;

	for (i = 0; i < p->n_nodes; i++)
		if (p->nodes[i]->state == NODE_UNREACHABLE)
			return 1;
	return 0;
}

/* "every candidate failed: local local: 6 x A100 needed ...; aws ..." for
 * status and events (the full list is in plan). Lock held. */
static const char *walk_failure(const struct sky_pool *p, char *buf, size_t len)
{
	size_t used, i;

	used = (size_t)snprintf(buf, len, "every candidate failed (see plan):");
	for (i = 0; i < p->n_cands && used < len; i++)
		if (p->cands[i].tried)
			used += (size_t)snprintf(buf + used, len - used, "%s %s %s %s: %s",
						 i ? ";" : "", p->cands[i].offer.provider,
						 p->cands[i].offer.instance_type,
						 sky_market_name(p->cands[i].offer.market),
						 p->cands[i].reason);
	return buf;
}

static const char *const stop_names[] = {
	[STOP_NONE] = "none", [STOP_REMOVE] = "rmdir", [STOP_UNMOUNT] = "unmount",
	[STOP_EXPIRED] = "limit",
};

/* Lock held: a lost node waits for a replacement that is due. */
static int replacement_due(const struct sky_pool *p)
{
	double now = sky_mono();
	int i;

	for (i = 0; i < p->n_nodes; i++)
		if (p->nodes[i]->replace && now >= p->nodes[i]->replace_after)
			return 1;
	return 0;
}

/* Lock held: ready, degraded or failed once the nodes are provisioned. */
static void pool_settle(struct sky_pool *p)
{
	int ready = 0, i;

	/* counted now: a node may have dropped since its setup; ranks the
	 * spec no longer has (a recovered pool that was shrinking) go soon */
	for (i = 0; i < p->n_nodes; i++)
		ready += p->nodes[i]->state == NODE_READY || p->nodes[i]->removing;
	if (p->stop)
		return;
	/* a recovered pool's lifetime counts from its first readiness */
	if (!p->ready_at) {
		p->ready_at = sky_now();
		journal_write(p, 0, "ready");
	}
	if (ready == p->n_nodes) {
		p->error[0] = '\0';
		pool_set_state(p, POOL_READY);
	} else if (ready > 0 || node_unreachable(p)) {
		snprintf(p->error, sizeof(p->error), "error: %d of %d nodes failed",
			 p->n_nodes - ready, p->n_nodes);
		pool_set_state(p, POOL_DEGRADED);
	} else {
		fail_pool(p, "every node failed (see events)");
	}
}

static void *pool_worker(void *arg)
{
	struct sky_pool *p = arg;
	struct walk w = { .p = p };
	char why[1024] = "";
	long found = -ENOENT;
	int rc, recovered = 0;
	enum sky_pool_state final;

	rc = plan_build(p, why, sizeof(why));
	pthread_mutex_lock(&g.lock);
	if (!rc && p->n_cands && (w.base = malloc(p->n_cands * sizeof(*w.base)))) {
		memcpy(w.base, p->cands, p->n_cands * sizeof(*w.base));
		w.n_base = p->n_cands;
	}
	pthread_mutex_unlock(&g.lock);
	/* what a crashed daemon left is dealt with before anything else */
	if (p->replay)
		recovered = recover_previous(&w);
	pthread_mutex_lock(&g.lock);
	if (recovered < 0) {
		pool_nodes_free(p);
		snprintf(p->error, sizeof(p->error),
			 "stopped: recover = teardown after the daemon's crash");
		final = POOL_STOPPED;
		goto released;
	}
	if (recovered > 0)
		goto settle;
	if (rc) {
		fail_pool(p, why[0] ? why : strerror(-rc));
		goto wait_stop;
	}
	if (p->spec.dry_run) {
		pool_event(p, "dry run: %zu candidates in plan, nothing provisioned", p->n_cands);
		pool_nodes_free(p);   /* a plan has no nodes */
		pool_set_state(p, POOL_PLANNED);
		journal_write(p, 1, "stopped");
		goto done;
	}
	if (!w.n_base) {
		fail_pool(p, why[0] ? why : p->n_cands ? "out of memory" : "no offer matches the spec");
		goto wait_stop;
	}
	pool_event(p, "provisioning %d node(s): %zu candidates", p->spec.nodes, w.n_base);
	pthread_mutex_unlock(&g.lock);
	found = sky_walk(w.base, w.n_base, try_candidate, &w, walk_stop);
	pthread_mutex_lock(&g.lock);
	if (found < 0 && !p->stop) {
		fail_pool(p, walk_failure(p, why, sizeof(why)));
		goto wait_stop;
	}
settle:
	pthread_mutex_unlock(&g.lock);
	if (found >= 0 || recovered > 0)
		nodes_setup(p);
	pthread_mutex_lock(&g.lock);
	pool_settle(p);
wait_stop:
	/* lock held. A failed pool releases what it got at once, so that a new
	 * spec can be written; a live one waits for rmdir, unmount or a limit,
	 * replacing the nodes it loses meanwhile. */
	final = POOL_FAILED;
	if (p->state != POOL_FAILED) {
		while (!p->stop) {
			if (w.n_owners && replacement_due(p)) {
				pthread_mutex_unlock(&g.lock);
				nodes_replace(&w);
				pthread_mutex_lock(&g.lock);
				continue;
			}
			if (w.n_owners && resize_due(p)) {
				pthread_mutex_unlock(&g.lock);
				nodes_resize(&w);
				pthread_mutex_lock(&g.lock);
				continue;
			}
			sched_cond_wait(&g.work, 1.0);
		}
		final = POOL_STOPPED;
		pool_set_state(p, POOL_TERMINATING);
	}
	job_pool_stopping(p, p->stop);
	/* wait for every running task to come back, SIGKILL after the grace */
	while (job_running_tasks(p) > 0)
		sched_cond_wait(&g.changed, 0.1);
	pthread_mutex_unlock(&g.lock);

	journal_write(p, 1, "stop %s", stop_names[p->stop]);
	rc = nodes_release(p, w.owners, w.n_owners);

	pthread_mutex_lock(&g.lock);
	if (rc)
		goto done;   /* the unmount gave up: the journal says what is left */
released:
	journal_write(p, 1, "stopped");
	pool_set_state(p, p->stop == STOP_REMOVE ? POOL_TERMINATING : final);
done:
	free(w.base);
	p->worker_done = 1;
	pthread_cond_broadcast(&g.changed);
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

static void join_worker(struct sky_pool *p)
{
	if (p->worker_alive && p->worker_done) {
		pthread_join(p->worker, NULL);
		p->worker_alive = 0;
		p->worker_done = 0;
		pool_nodes_free(p);
	}
}

int pool_start_worker(struct sky_pool *p)
{
	int rc;

	join_worker(p);
	/* a crashed daemon may have been shrinking the pool: its ranks past
	 * the spec's count are taken back too, and then removed */
	rc = pool_nodes_alloc(p, p->replay && journal_ranks(p->replay) > p->spec.nodes ?
			      journal_ranks(p->replay) : p->spec.nodes);
	if (rc) {
		pool_nodes_free(p);
		return rc;
	}
	p->stop = STOP_NONE;
	p->ready_at = 0;
	p->spent_before = 0;
	journal_begin(p, p->n_nodes);
	p->budget_warned = 0;
	p->error[0] = '\0';
	pool_set_state(p, POOL_PROVISIONING);
	rc = -pthread_create(&p->worker, NULL, pool_worker, p);
	if (rc) {
		pool_nodes_free(p);
		fail_pool(p, "cannot start the pool's worker thread");
		return rc;
	}
	p->worker_alive = 1;
	return 0;
}

int pool_stop_and_join(struct sky_pool *p, enum sky_stop_reason why, int (*interrupted)(void))
{
	if (p->worker_alive && !p->worker_done) {
		if (!p->stop || why == STOP_REMOVE)
			p->stop = why;
		pthread_cond_broadcast(&g.work);
		while (!p->worker_done) {
			if (interrupted && interrupted())
				return -EINTR;
			if (why == STOP_REMOVE && p->teardown_failing)
				return -EBUSY;
			sched_cond_wait(&g.changed, 0.1);
		}
	}
	join_worker(p);
	return 0;
}

/* The budget: a warning event at 80%, the stop reason at 100% (or NULL). */
static const char *check_budget(struct sky_pool *p, double now, char *buf, size_t len)
{
	double spent = pool_accrued(p, now), budget = p->spec.budget_usd;

	if (budget <= 0)
		return NULL;
	if (spent >= budget) {
		snprintf(buf, len, "budget of %.4f USD reached (%.4f USD accrued)", budget, spent);
		return buf;
	}
	if (!p->budget_warned && spent >= 0.8 * budget) {
		p->budget_warned = 1;
		pool_event(p, "warning: 80%% of the budget spent (%.4f of %.4f USD)", spent, budget);
	}
	return NULL;
}

void pool_check_timers(struct sky_pool *p, double now_mono)
{
	double now = sky_now();
	const char *why = NULL;
	char buf[128];

	if (p->stop || !pool_live(p))
		return;
	node_check_timeouts(p, now_mono);
	if (p->spec.lifetime_s && now - p->ready_at >= (double)p->spec.lifetime_s)
		why = "lifetime expired";
	else if (p->spec.idle_timeout_s && !p->counts[JOB_QUEUED] && !p->counts[JOB_RUNNING] &&
		 now_mono - p->last_activity >= (double)p->spec.idle_timeout_s)
		why = "idle timeout expired";
	else
		why = check_budget(p, now, buf, sizeof(buf));
	if (!why)
		return;
	pool_event(p, "%s: tearing down", why);
	snprintf(p->error, sizeof(p->error), "stopped: %s", why);
	p->stop = STOP_EXPIRED;
	pthread_cond_broadcast(&g.work);
}
