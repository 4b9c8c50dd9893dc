/* The pool worker: one thread per live pool, the only thread that calls
 * the provider for it. It picks an offer, prepares, provisions every node
 * and runs setup; then waits for a stop request (rmdir, unmount, a limit)
 * and tears everything down. Also the pool limits checked by the
 * dispatcher (lifetime, idle_timeout). */
#define LOG_MODULE "pool"
#include "scheduler/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "transport/transport.h"

struct setup_wait {
	int done;
	int status;
	char *err;
};

static void setup_done(void *arg, int status, const char *err, int flags)
{
	(void)flags;
	struct setup_wait *w = arg;

	pthread_mutex_lock(&g.lock);
	w->status = status;
	w->err = err ? strdup(err) : NULL;
	w->done = 1;
	pthread_cond_broadcast(&g.changed);
	pthread_mutex_unlock(&g.lock);
}

/* Runs the spec's setup on node n and waits for it (lock not held). A stop
 * request cancels it. Returns 0 or -EIO with the reason in n->error. */
static int run_setup(struct sky_pool *p, struct sky_node *n)
{
	struct setup_wait w = { 0 };
	struct sky_exec *ex = NULL;
	struct sky_exec_req req = { 0 };
	char wd[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX];
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL, NULL };
	char home[PATH_MAX + 8], *text = NULL;
	int rc, killed = 0;

	snprintf(wd, sizeof(wd), "%s/setup", n->inst.workdir);
	/* the output lands on this machine, whatever the node is */
	snprintf(outp, sizeof(outp), "%s/nodes", p->dir);
	if ((rc = sky_mkdir_p(outp, 0755))) {
		snprintf(n->error, sizeof(n->error), "setup: cannot create %s: %s", outp,
			 strerror(-rc));
		return -EIO;
	}
	snprintf(outp, sizeof(outp), "%s/nodes/%s.setup.stdout", p->dir, n->name);
	snprintf(errp, sizeof(errp), "%s/nodes/%s.setup.stderr", p->dir, n->name);
	snprintf(home, sizeof(home), "HOME=%s", getenv("HOME") ? getenv("HOME") : "/");
	envp[1] = home;
	req.workdir = wd;
	req.shell_command = p->spec.setup;
	req.envp = envp;
	req.stdout_path = outp;
	req.stderr_path = errp;
	req.done = setup_done;
	req.arg = &w;
	rc = n->inst.transport->start(&n->inst, &req, &ex);
	if (rc) {
		snprintf(n->error, sizeof(n->error), "setup could not start: %s", strerror(-rc));
		return -EIO;
	}
	pthread_mutex_lock(&g.lock);
	while (!w.done) {
		if (p->stop && !killed) {
			n->inst.transport->cancel(ex, SIGKILL);
			killed = 1;
		}
		sched_cond_wait(&g.changed, 0.1);
	}
	pthread_mutex_unlock(&g.lock);
	if (w.err || !WIFEXITED(w.status) || WEXITSTATUS(w.status)) {
		sky_read_file(errp, &text, NULL, 4096);
		snprintf(n->error, sizeof(n->error), "setup failed (%s %d): %s",
			 WIFEXITED(w.status) ? "exit" : "signal",
			 WIFEXITED(w.status) ? WEXITSTATUS(w.status) : WTERMSIG(w.status),
			 w.err ? w.err : text && *text ? text : "no stderr");
		rc = -EIO;
	}
	free(text);
	free(w.err);
	unlink(outp);
	unlink(errp);
	return rc;
}

/* Runs fn(p, i, arg) for every node i from up to PARALLEL_MAX threads at
 * once: provisioning, setup and termination wait on the network, and 64
 * nodes one after another would cost 64 round trips. fn is called without
 * the lock; it returns non-zero to stop the nodes not started yet. */
#define PARALLEL_MAX 64

struct each_node {
	struct sky_pool *p;
	int (*fn)(struct sky_pool *p, int i, void *arg);
	void *arg;
	pthread_mutex_t lock;
	int next;
	int stop;
};

static void *each_node_thread(void *arg)
{
	struct each_node *e = arg;
	int i;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		i = e->stop ? e->p->n_nodes : e->next++;
		pthread_mutex_unlock(&e->lock);
		if (i >= e->p->n_nodes)
			return NULL;
		if (e->fn(e->p, i, e->arg)) {
			pthread_mutex_lock(&e->lock);
			e->stop = 1;
			pthread_mutex_unlock(&e->lock);
		}
	}
}

static void each_node(struct sky_pool *p, int (*fn)(struct sky_pool *p, int i, void *arg),
		      void *arg)
{
	struct each_node e = { .p = p, .fn = fn, .arg = arg };
	pthread_t tids[PARALLEL_MAX];
	int n = p->n_nodes < PARALLEL_MAX ? p->n_nodes : PARALLEL_MAX, started = 0, i;

	pthread_mutex_init(&e.lock, NULL);
	/* the caller's thread is one of them; a thread that cannot start is
	 * work for the others */
	for (i = 1; i < n; i++)
		if (!pthread_create(&tids[started], NULL, each_node_thread, &e))
			started++;
	each_node_thread(&e);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&e.lock);
}

/* Lock held. Nodes that never came up are not shown as provisioning
 * forever: a failed pool keeps only the ones that existed. */
static void fail_pool(struct sky_pool *p, const char *msg)
{
	int i, any = 0;

	for (i = 0; i < p->n_nodes; i++)
		any |= p->nodes[i].inst.id[0] != '\0';
	if (!any && !job_running_tasks(p))
		pool_nodes_free(p);
	snprintf(p->error, sizeof(p->error), "error: %s", msg);
	pool_event(p, "error: %s", msg);
	pool_set_state(p, POOL_FAILED);
}

static int alloc_nodes(struct sky_pool *p)
{
	int i;

	p->nodes = calloc((size_t)p->spec.nodes, sizeof(*p->nodes));
	if (!p->nodes)
		return -ENOMEM;
	p->n_nodes = p->spec.nodes;
	for (i = 0; i < p->n_nodes; i++) {
		struct sky_node *n = &p->nodes[i];
		n->pool = p;
		n->rank = i;
		snprintf(n->name, sizeof(n->name), "node-%d", i);
		n->state = NODE_PROVISIONING;
		n->slot_busy = calloc((size_t)p->spec.slots, 1);
		if (!n->slot_busy)
			return -ENOMEM;
	}
	return 0;
}

struct terminate_arg {
	const struct sky_provider_ops *prov;
	void *pstate;
};

static int terminate_node(struct sky_pool *p, int i, void *arg)
{
	struct terminate_arg *t = arg;
	struct sky_node *n = &p->nodes[i];
	struct sky_err err = { { 0 } };
	int rc;

	if (!n->inst.id[0] || n->state == NODE_GONE)
		return 0;
	rc = t->prov->terminate(t->pstate, &n->inst, &err);
	pthread_mutex_lock(&g.lock);
	n->state = NODE_GONE;
	n->down_at = sky_now();
	if (rc)
		pool_event(p, "node %s: terminate failed: %s", n->name,
			   err.msg[0] ? err.msg : strerror(-rc));
	else
		pool_event(p, "node %s terminated", n->name);
	pthread_mutex_unlock(&g.lock);
	return 0;
}

/* Terminates every node that exists and the provider state; lock not held. */
static void teardown_all(struct sky_pool *p, const struct sky_provider_ops *prov, void *pstate)
{
	struct terminate_arg t = { prov, pstate };
	struct sky_err err = { { 0 } };
	int rc;

	each_node(p, terminate_node, &t);
	if (pstate) {
		rc = prov->teardown(pstate, &err);
		if (rc) {
			pthread_mutex_lock(&g.lock);
			pool_event(p, "teardown: %s", err.msg[0] ? err.msg : strerror(-rc));
			pthread_mutex_unlock(&g.lock);
		}
	}
}

/* The walk runs over a private copy of the plan (base); what happens to
 * each candidate is copied into the pool's plan under the lock, so that a
 * reader of plan never sees a half-written reason. */
struct walk {
	struct sky_pool *p;
	struct sky_candidate *base;
	const struct sky_provider_ops *prov;   /* of the candidate that worked */
	void *pstate;
	/* providers that refused their credentials (-EACCES) in this walk:
	 * their other candidates are skipped with the same reason */
	struct {
		const struct sky_provider_ops *prov;
		char reason[200];
	} unusable[8];
	int n_unusable;
};

static void walk_record(struct walk *w, const struct sky_candidate *c, int in_use,
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

static int walk_stop(void *arg)
{
	struct walk *w = arg;
	int stop;

	pthread_mutex_lock(&g.lock);
	stop = w->p->stop != STOP_NONE;
	pthread_mutex_unlock(&g.lock);
	return stop;
}

struct provision_arg {
	struct walk *w;
	const struct sky_candidate *c;
	const struct sky_provider_ops *prov;
	void *pstate;
	int rc;                  /* the first failure, under g.lock */
	struct sky_err err;
};

/* Provisions node i (a thread of each_node); non-zero stops the rest. */
static int provision_node(struct sky_pool *p, int i, void *arg)
{
	struct provision_arg *pa = arg;
	struct sky_instance inst = { 0 };
	struct sky_err err = { { 0 } };
	int rc;

	if (walk_stop(pa->w)) {
		snprintf(err.msg, sizeof(err.msg), "stopped while provisioning");
		rc = -ECANCELED;
	} else {
		rc = pa->prov->provision(pa->pstate, i, &inst, &err);
		if (!rc && inst.state != SKY_INST_RUNNING)
			rc = pa->prov->get_instance(pa->pstate, &inst, &err);
	}
	pthread_mutex_lock(&g.lock);
	/* even a failed node may exist: teardown needs its id */
	p->nodes[i].inst = inst;
	if (!rc) {
		p->nodes[i].up_since = sky_now();
		p->nodes[i].price = pa->c->offer.price_usd_per_hour;
		pool_event(p, "node %s provisioned: %s at %s", p->nodes[i].name, inst.id,
			   inst.address);
	} else if (!pa->rc) {
		pa->rc = rc;
		pa->err = err;
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

/* Gets the pool every node from one candidate, or gives back what it got:
 * a pool is made of one offer (a failing node moves the whole pool on). */
static int try_candidate(struct sky_candidate *c, void *arg, char *reason, size_t len)
{
	struct walk *w = arg;
	struct sky_pool *p = w->p;
	const struct sky_provider_ops *prov = sky_provider_find(c->offer.provider);
	struct sky_pool_info info = { 0 };
	struct sky_err err = { { 0 } };
	void *pstate = NULL;
	int rc = 0, i;

	if (!prov) {
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
		if (w->unusable[i].prov == prov) {
			snprintf(reason, len, "skipped: %s is unusable (%s)", prov->name,
				 w->unusable[i].reason);
			walk_record(w, c, 0, reason);
			return -EACCES;
		}
	walk_record(w, c, 0, "trying");
	pthread_mutex_lock(&g.lock);
	p->offer = c->offer;
	p->req = p->spec.alts[c->alternative];
	pool_event(p, "trying %s %s (%s, %s x%d, %s, %.4f USD/h per node)", prov->name,
		   c->offer.instance_type, c->offer.region,
		   c->offer.accelerator[0] ? c->offer.accelerator : "no accelerator",
		   p->req.accelerator_count, sky_market_name(c->offer.market),
		   c->offer.price_usd_per_hour);
	pthread_mutex_unlock(&g.lock);

	info.name = p->name;
	info.state_dir = p->dir;
	info.spec = &p->spec;
	info.offer = &p->offer;
	info.request = &p->req;
	info.node_state = node_report_state;
	info.node_state_arg = p;
	rc = prov->prepare(&info, &pstate, &err);
	if (!rc) {
		struct provision_arg pa = { w, c, prov, pstate, 0, { { 0 } } };

		each_node(p, provision_node, &pa);
		rc = pa.rc;
		err = pa.err;
	}
	if (!rc) {
		w->prov = prov;
		w->pstate = pstate;
		walk_record(w, c, 1, NULL);
		return 0;
	}
	snprintf(reason, len, "%s", err.msg[0] ? err.msg : strerror(-rc));
	walk_record(w, c, 0, reason);
	if (rc == -EACCES && w->n_unusable < (int)SKY_ARRAY_SIZE(w->unusable)) {
		w->unusable[w->n_unusable].prov = prov;
		sky_strlcpy(w->unusable[w->n_unusable++].reason, reason,
			    sizeof(w->unusable[0].reason));
	}
	sky_provider_note_error(prov->name, reason);
	/* give back what this candidate got before the next one is tried */
	teardown_all(p, prov, pstate);
	pthread_mutex_lock(&g.lock);
	for (i = 0; i < p->n_nodes; i++) {
		memset(&p->nodes[i].inst, 0, sizeof(p->nodes[i].inst));
		p->nodes[i].state = NODE_PROVISIONING;
		p->nodes[i].up_since = p->nodes[i].down_at = 0;
		p->nodes[i].unreachable_since = 0;
		p->nodes[i].gone = 0;
	}
	pool_event(p, "%s %s failed: %s", prov->name, c->offer.instance_type, reason);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

/* A node that dropped after its setup may come back (lock held). */
static int node_unreachable(const struct sky_pool *p)
{
	int i;

	for (i = 0; i < p->n_nodes; i++)
		if (p->nodes[i].state == NODE_UNREACHABLE)
			return 1;
	return 0;
}

/* Runs setup on node i (a thread of each_node); it takes jobs at once. */
static int setup_node(struct sky_pool *p, int i, void *arg)
{
	struct sky_node *n = &p->nodes[i];
	int stop, bad;

	(void)arg;
	pthread_mutex_lock(&g.lock);
	stop = p->stop != STOP_NONE;
	pthread_mutex_unlock(&g.lock);
	bad = p->spec.setup && !stop && run_setup(p, n);
	pthread_mutex_lock(&g.lock);
	if (bad) {
		n->state = NODE_FAILED;
		pool_event(p, "node %s: %s", n->name, n->error);
	} else if (!p->stop && n->unreachable_since) {
		/* it dropped before it was ready; it may still come back */
		n->state = NODE_UNREACHABLE;
		pool_event(p, "%s %s", n->name, n->error);
	} else if (!p->stop && n->state == NODE_PROVISIONING) {
		n->state = NODE_READY;
		pool_event(p, "node %s ready", n->name);
		sched_kick();
	}
	pthread_mutex_unlock(&g.lock);
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

static void *pool_worker(void *arg)
{
	struct sky_pool *p = arg;
	struct walk w = { .p = p };
	char why[1024] = "";
	long found = -ENOENT;
	int rc, ready, i;
	enum sky_pool_state final;

	rc = plan_build(p, why, sizeof(why));
	pthread_mutex_lock(&g.lock);
	if (rc) {
		fail_pool(p, why[0] ? why : strerror(-rc));
		goto wait_stop;
	}
	if (p->spec.dry_run) {
		pool_event(p, "dry run: %zu candidates in plan, nothing provisioned", p->n_cands);
		pool_nodes_free(p);   /* a plan has no nodes */
		pool_set_state(p, POOL_PLANNED);
		goto done;
	}
	if (!p->n_cands) {
		fail_pool(p, why[0] ? why : "no offer matches the spec");
		goto wait_stop;
	}
	pool_event(p, "provisioning %d node(s): %zu candidates", p->spec.nodes, p->n_cands);
	pthread_mutex_unlock(&g.lock);

	w.base = malloc(p->n_cands * sizeof(*w.base));
	if (!w.base) {
		pthread_mutex_lock(&g.lock);
		fail_pool(p, "out of memory");
		goto wait_stop;
	}
	pthread_mutex_lock(&g.lock);
	memcpy(w.base, p->cands, p->n_cands * sizeof(*w.base));
	pthread_mutex_unlock(&g.lock);
	found = sky_walk(w.base, p->n_cands, try_candidate, &w, walk_stop);
	free(w.base);
	w.base = NULL;
	pthread_mutex_lock(&g.lock);
	if (found < 0 && !p->stop) {
		fail_pool(p, walk_failure(p, why, sizeof(why)));
		goto wait_stop;
	}
	pthread_mutex_unlock(&g.lock);
	if (found >= 0)
		each_node(p, setup_node, NULL);
	pthread_mutex_lock(&g.lock);
	/* counted now: a node may have dropped since its setup */
	for (ready = 0, i = 0; i < p->n_nodes; i++)
		ready += p->nodes[i].state == NODE_READY;
	if (!p->stop) {
		p->ready_at = sky_now();
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
wait_stop:
	/* lock held. A failed pool releases what it got at once, so that a new
	 * spec can be written; a live one waits for rmdir, unmount or a limit. */
	final = POOL_FAILED;
	if (p->state != POOL_FAILED) {
		while (!p->stop)
			sched_cond_wait(&g.work, 1.0);
		final = POOL_STOPPED;
		pool_set_state(p, POOL_TERMINATING);
	}
	job_pool_stopping(p, p->stop);
	/* wait for every running task to come back, SIGKILL after the grace */
	while (job_running_tasks(p) > 0)
		sched_cond_wait(&g.changed, 0.1);
	pthread_mutex_unlock(&g.lock);

	if (w.prov)
		teardown_all(p, w.prov, w.pstate);

	pthread_mutex_lock(&g.lock);
	pool_set_state(p, p->stop == STOP_REMOVE ? POOL_TERMINATING : final);
done:
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
	rc = alloc_nodes(p);
	if (rc) {
		pool_nodes_free(p);
		return rc;
	}
	p->stop = STOP_NONE;
	p->ready_at = 0;
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

	if (p->stop || (p->state != POOL_READY && p->state != POOL_DEGRADED))
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
