/* A pool's nodes as the worker handles them: provisioning them (journal
 * first), running setup, replacing a lost one, and releasing everything,
 * with retries in the background when a provider's API is down: a pool
 * is never "stopped" while something of it may still be billing. */
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
#include "transport/transport.h"

/* How long an unmount waits for a failing release before it gives up and
 * leaves the machines to the next mount's recovery (the journal has them). */
#define RELEASE_GRACE_AT_QUIT_S 5.0
#define RELEASE_DELAY_MAX_S 60.0

/* sky_pool_info.launched: the machine is journaled before it boots. */
static void node_launched(void *arg, int rank, const char *id, const char *host_pub)
{
	journal_write(arg, 1, "node %d %s - %s", rank, id, host_pub);
}

void worker_pool_info(struct sky_pool *p, struct sky_pool_info *info, int resume)
{
	memset(info, 0, sizeof(*info));
	info->name = p->name;
	info->state_dir = p->dir;
	info->spec = &p->spec;
	info->offer = &p->offer;
	info->request = &p->req;
	info->node_state = node_report_state;
	info->node_state_arg = p;
	info->launched = node_launched;
	info->waiting = node_report_waiting;
	info->stopping = pool_stopping;
	info->host_of = node_host_of;
	info->resume = resume;
	info->nodes = p->n_nodes;
}

/* ---- running fn for every node from several threads ---------------------------- */

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

/* Provisioning, setup and termination wait on the network, and 64 nodes
 * one after another would cost 64 round trips. */
void each_node(struct sky_pool *p, int (*fn)(struct sky_pool *p, int i, void *arg), void *arg)
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

/* ---- provisioning ---------------------------------------------------------------- */

struct provision_arg {
	struct owner *o;
	int owner_ix;
	int rc;                  /* the first failure, under g.lock */
	struct sky_err err;
};

/* The record that lets a later daemon find the machine again. */
static void journal_node(struct sky_pool *p, int rank, const struct sky_instance *inst)
{
	journal_write(p, 1, "node %d %s %s %s", rank, inst->id,
		      inst->address[0] ? inst->address : "-", inst->host_pub);
}

/* Provisions node i unless it has a machine (a thread of each_node). */
static int provision_node(struct sky_pool *p, int i, void *arg)
{
	struct provision_arg *pa = arg;
	struct sky_node *n = p->nodes[i];
	struct sky_instance inst = { 0 };
	struct sky_err err = { { 0 } };
	int rc, stop;

	pthread_mutex_lock(&g.lock);
	stop = p->stop != STOP_NONE;
	/* a rank the spec no longer has gets no machine */
	rc = n->inst.id[0] != '\0' || n->removing || n->state != NODE_PROVISIONING;
	if (!rc && !stop) {
		n->step = "launching";
		timeline_node(p, n->name, TL_LAUNCH, 0);
	}
	pthread_mutex_unlock(&g.lock);
	if (rc)
		return 0;
	if (stop) {
		snprintf(err.msg, sizeof(err.msg), "stopped while provisioning");
		rc = -ECANCELED;
	} else {
		journal_write(p, 1, "launch %d", i);
		rc = pa->o->prov->provision(pa->o->pstate, i, &inst, &err);
		if (!rc && inst.state != SKY_INST_RUNNING)
			rc = pa->o->prov->get_instance(pa->o->pstate, &inst, &err);
		if (inst.id[0])
			journal_node(p, i, &inst);
	}
	node_report_waiting(p, i, "");
	pthread_mutex_lock(&g.lock);
	n->step = NULL;
	/* even a failed node may exist: teardown needs its id */
	n->inst = inst;
	n->owner = pa->owner_ix;
	timeline_node(p, n->name, rc ? TL_FAILED : TL_UP, 0);
	if (!rc) {
		n->up_since = sky_now();
		n->down_at = 0;
		n->price = pa->o->cand.offer.price_usd_per_hour;
		pool_event(p, "node %s provisioned: %s at %s", n->name, inst.id, inst.address);
	} else if (!pa->rc) {
		pa->rc = rc;
		pa->err = err;
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int nodes_provision(struct sky_pool *p, struct owner *o, int owner_ix, struct sky_err *err)
{
	struct provision_arg pa = { o, owner_ix, 0, { { 0 } } };

	each_node(p, provision_node, &pa);
	*err = pa.err;
	return pa.rc;
}

/* ---- setup ----------------------------------------------------------------------- */

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

/* Runs setup on node i if it is still provisioning; it takes jobs at once. */
static int setup_node(struct sky_pool *p, int i, void *arg)
{
	struct sky_node *n = p->nodes[i];
	int stop, bad;

	(void)arg;
	pthread_mutex_lock(&g.lock);
	stop = p->stop != STOP_NONE || n->state != NODE_PROVISIONING || !n->inst.id[0] ||
	       n->removing;
	if (!stop && p->spec.setup)
		n->step = "running setup";
	pthread_mutex_unlock(&g.lock);
	if (stop)
		return 0;
	bad = p->spec.setup && run_setup(p, n);
	pthread_mutex_lock(&g.lock);
	n->step = NULL;
	if (bad) {
		n->state = NODE_FAILED;
		timeline_node(p, n->name, TL_FAILED, 0);
		pool_event(p, "node %s: %s", n->name, n->error);
	} else if (!p->stop && n->unreachable_since) {
		/* it dropped before it was ready; it may still come back */
		n->state = NODE_UNREACHABLE;
		pool_event(p, "%s %s", n->name, n->error);
	} else if (!p->stop && n->state == NODE_PROVISIONING) {
		n->state = NODE_READY;
		timeline_node(p, n->name, TL_READY, 0);
		pool_event(p, "node %s ready", n->name);
		sched_kick();
	}
	pthread_mutex_unlock(&g.lock);
	return 0;
}

void nodes_setup(struct sky_pool *p)
{
	each_node(p, setup_node, NULL);
}

/* A node added to a live pool takes jobs once it is ready, not once the
 * last one is: its setup follows its own launch. */
static int bring_up_node(struct sky_pool *p, int i, void *arg)
{
	if (!provision_node(p, i, arg))
		setup_node(p, i, NULL);
	return 0;   /* one failure does not hold the others back */
}

int nodes_bring_up(struct sky_pool *p, struct owner *o, int owner_ix, struct sky_err *err)
{
	struct provision_arg pa = { o, owner_ix, 0, { { 0 } } };

	each_node(p, bring_up_node, &pa);
	*err = pa.err;
	return pa.rc;
}

/* ---- release ---------------------------------------------------------------------- */

struct terminate_arg {
	struct owner *owners;
	int n_owners;
	int failed;                      /* under g.lock */
	char why[512];
};

static int terminate_node(struct sky_pool *p, int i, void *arg)
{
	struct terminate_arg *t = arg;
	struct sky_node *n = p->nodes[i];
	struct sky_err err = { { 0 } };
	struct owner *o;
	char id[128];
	int rc;

	pthread_mutex_lock(&g.lock);
	o = n->owner >= 0 && n->owner < t->n_owners ? &t->owners[n->owner] : NULL;
	rc = !n->inst.id[0] || n->state == NODE_GONE || !o || !o->pstate;
	sky_strlcpy(id, n->inst.id, sizeof(id));
	if (!rc)
		timeline_node(p, n->name, TL_TERM, 0);
	pthread_mutex_unlock(&g.lock);
	if (rc)
		return 0;
	rc = o->prov->terminate(o->pstate, &n->inst, &err);
	if (!rc)
		journal_write(p, 0, "term %d %s", i, id);
	pthread_mutex_lock(&g.lock);
	if (rc) {
		n->state = NODE_TERMINATING;
		snprintf(n->error, sizeof(n->error), "terminate failed: %s",
			 err.msg[0] ? err.msg : strerror(-rc));
		pool_event(p, "node %s: %s", n->name, n->error);
		if (!t->failed++)
			snprintf(t->why, sizeof(t->why), "node %s: %s", n->name, n->error);
	} else {
		n->state = NODE_GONE;
		n->down_at = sky_now();
		timeline_node(p, n->name, TL_DOWN, 0);
		pool_event(p, "node %s terminated", n->name);
	}
	pthread_mutex_unlock(&g.lock);
	return 0;
}

int node_terminate(struct walk *w, int i)
{
	struct terminate_arg t = { w->owners, w->n_owners, 0, "" };

	terminate_node(w->p, i, &t);
	return t.failed ? -EIO : 0;
}

/* Whether a node of owner i has (had) a machine. */
static int has_machine(struct sky_pool *p, int i)
{
	int k, any = 0;

	pthread_mutex_lock(&g.lock);
	for (k = 0; k < p->n_nodes; k++)
		any |= p->nodes[k]->owner == i && p->nodes[k]->inst.id[0];
	pthread_mutex_unlock(&g.lock);
	return any;
}

/* One pass: every node, then every owner's state. 0 when all is gone. */
static int release_once(struct sky_pool *p, struct owner *owners, int n_owners, char *why,
			size_t len)
{
	struct terminate_arg t = { owners, n_owners, 0, "" };
	struct sky_err err = { { 0 } };
	int i, rc, failed;

	for (i = 0; i < n_owners; i++)
		if (owners[i].prov && !owners[i].pstate && !owners[i].released) {
			/* its prepare failed: nothing of it can be terminated now */
			snprintf(why, len, "%s: %s", owners[i].prov->name,
				 owners[i].error[0] ? owners[i].error : "cannot reach the provider");
			return -EIO;
		}
	each_node(p, terminate_node, &t);
	failed = t.failed;
	if (failed)
		sky_strlcpy(why, t.why, len);
	for (i = 0; !failed && i < n_owners; i++) {
		if (!owners[i].pstate)
			continue;
		/* teardown frees the state even when it fails */
		rc = owners[i].prov->teardown(owners[i].pstate, &err);
		owners[i].pstate = NULL;
		if (rc == -EACCES && !has_machine(p, i)) {
			/* the API refuses this key: it made nothing for it either */
			pthread_mutex_lock(&g.lock);
			pool_event(p, "%s teardown: %s (no machine was made)", owners[i].prov->name,
				   err.msg[0] ? err.msg : strerror(-rc));
			pthread_mutex_unlock(&g.lock);
			rc = 0;
		}
		owners[i].released = !rc;
		if (rc) {
			snprintf(why, len, "%s teardown: %s", owners[i].prov->name,
				 err.msg[0] ? err.msg : strerror(-rc));
			pthread_mutex_lock(&g.lock);
			pool_event(p, "%s", why);
			pthread_mutex_unlock(&g.lock);
			failed++;
		} else {
			journal_write(p, 1, "release %s", owners[i].prov->name);
		}
	}
	return failed ? -EIO : 0;
}

/* A new state for owner o (its last teardown freed the old one) so that
 * the release can be tried again; resume: keep what exists. */
static int reprepare(struct sky_pool *p, struct owner *o, char *why, size_t len)
{
	struct sky_pool_info info;
	struct sky_err err = { { 0 } };
	int rc;

	pthread_mutex_lock(&g.lock);
	p->offer = o->cand.offer;
	worker_pool_info(p, &info, 1);
	pthread_mutex_unlock(&g.lock);
	rc = o->prov->prepare(&info, &o->pstate, &err);
	if (rc) {
		o->pstate = NULL;
		sky_strlcpy(o->error, err.msg[0] ? err.msg : strerror(-rc), sizeof(o->error));
		snprintf(why, len, "%s: %s", o->prov->name, o->error);
	}
	return rc;
}

int nodes_release(struct sky_pool *p, struct owner *owners, int n_owners)
{
	double delay = 1.0, waited;
	char why[512] = "";
	int rc, i, give_up = 0;

	while ((rc = release_once(p, owners, n_owners, why, sizeof(why)))) {
		pthread_mutex_lock(&g.lock);
		give_up = g.quit_at > 0 && sky_mono() - g.quit_at > RELEASE_GRACE_AT_QUIT_S;
		p->teardown_failing = 1;
		snprintf(p->error, sizeof(p->error), "terminating: %s (%s)", why,
			 give_up ? "giving up at unmount: the next mount takes it over"
				 : "retrying");
		pool_event(p, "release failed: %s; %s", why,
			   give_up ? "giving up at unmount, the journal keeps what is left"
				   : "retrying in the background");
		pthread_cond_broadcast(&g.changed);
		for (waited = 0; !give_up && waited < delay; waited += 0.2)
			sched_cond_wait(&g.work, 0.2);
		pthread_mutex_unlock(&g.lock);
		if (give_up)
			return rc;
		delay = delay * 2 > RELEASE_DELAY_MAX_S ? RELEASE_DELAY_MAX_S : delay * 2;
		for (i = 0; i < n_owners; i++)
			if (!owners[i].pstate && owners[i].prov && !owners[i].released &&
			    reprepare(p, &owners[i], why, sizeof(why)))
				break;
	}
	pthread_mutex_lock(&g.lock);
	if (p->teardown_failing) {
		p->teardown_failing = 0;
		p->error[0] = '\0';
		pool_event(p, "release succeeded");
	}
	pthread_mutex_unlock(&g.lock);
	return 0;
}

/* ---- replacing lost nodes ----------------------------------------------------------- */

/* The node's machine is terminated and forgotten (lock not held). */
static void drop_machine(struct walk *w, struct sky_node *n)
{
	struct owner *o = &w->owners[n->owner];
	struct sky_err err = { { 0 } };
	struct sky_pool *p = w->p;

	if (n->inst.id[0] && o->pstate && o->prov->terminate(o->pstate, &n->inst, &err))
		log_warn("pool %s: %s: terminate before replacement: %s", p->name, n->name,
			 err.msg);
	journal_write(p, 0, "term %d %s", n->rank, n->inst.id);
	pthread_mutex_lock(&g.lock);
	memset(&n->inst, 0, sizeof(n->inst));
	if (n->up_since)
		p->spent_before += n->price * (sky_now() - n->up_since) / 3600.0;
	n->up_since = 0;
	n->down_at = sky_now();
	timeline_node(p, n->name, TL_DOWN, 0);
	pthread_mutex_unlock(&g.lock);
}

struct owner *owner_for(struct walk *w, const struct sky_candidate *c, int rank,
			struct sky_err *err)
{
	const struct sky_provider_ops *prov = sky_provider_find(c->offer.provider);
	struct sky_pool_info info;
	struct owner *o;
	int i, rc;

	for (i = 0; i < w->n_owners; i++)
		if (w->owners[i].pstate && rank < w->owners[i].nodes &&
		    !memcmp(&w->owners[i].cand.offer, &c->offer, sizeof(c->offer)))
			return &w->owners[i];
	if (!prov || w->n_owners == WORKER_MAX_OWNERS)
		return NULL;
	o = &w->owners[w->n_owners];
	o->prov = prov;
	o->cand = *c;
	sweep_note_region(prov->name, c->offer.region);
	journal_try(w->p, &c->offer, w->n_owners);
	pthread_mutex_lock(&g.lock);
	w->p->offer = c->offer;
	/* the pool's key pair, group and login key are the running nodes':
	 * kept (resume), not replaced */
	worker_pool_info(w->p, &info, 1);
	pthread_mutex_unlock(&g.lock);
	o->nodes = info.nodes;
	if ((rc = prov->prepare(&info, &o->pstate, err))) {
		o->pstate = NULL;
		return NULL;
	}
	w->n_owners++;
	return o;
}

/* The one the pool runs on first: a spot node reclaimed may come back on
 * demand. */
int node_provision_any(struct walk *w, struct sky_node *n)
{
	struct sky_pool *p = w->p;
	struct sky_err err = { { 0 } };
	struct sky_instance inst;
	size_t k;
	int rc = -EAGAIN;

	for (k = 0; k <= w->n_base && rc; k++) {
		const struct sky_candidate *c = k ? &w->base[k - 1] : &w->owners[0].cand;
		struct owner *o;

		if (k && (c->alternative != w->owners[0].cand.alternative ||
			  !memcmp(&c->offer, &w->owners[0].cand.offer, sizeof(c->offer))))
			continue;
		if (!(o = owner_for(w, c, n->rank, &err)))
			continue;
		memset(&inst, 0, sizeof(inst));
		pthread_mutex_lock(&g.lock);
		timeline_node(p, n->name, TL_LAUNCH, 0);
		pthread_mutex_unlock(&g.lock);
		journal_write(p, 1, "launch %d", n->rank);
		rc = o->prov->provision(o->pstate, n->rank, &inst, &err);
		if (!rc && inst.state != SKY_INST_RUNNING)
			rc = o->prov->get_instance(o->pstate, &inst, &err);
		if (inst.id[0])
			journal_node(p, n->rank, &inst);
		node_report_waiting(p, n->rank, "");
		pthread_mutex_lock(&g.lock);
		n->inst = inst;
		n->owner = (int)(o - w->owners);
		timeline_node(p, n->name, rc ? TL_FAILED : TL_UP, 0);
		if (!rc) {
			n->price = c->offer.price_usd_per_hour;
			n->up_since = sky_now();
			n->down_at = 0;
			n->state = NODE_PROVISIONING;
			n->gone = 0;
			n->unreachable_since = 0;
			n->error[0] = '\0';
			pool_event(p, "node %s replaced: %s at %s (%s %s %s, %.4f USD/h)", n->name,
				   inst.id, inst.address, o->prov->name, c->offer.instance_type,
				   sky_market_name(c->offer.market), c->offer.price_usd_per_hour);
		} else {
			pool_event(p, "node %s: replacement from %s %s %s failed: %s", n->name,
				   o->prov->name, c->offer.instance_type,
				   sky_market_name(c->offer.market), err.msg);
		}
		pthread_mutex_unlock(&g.lock);
		if (rc && inst.id[0])
			drop_machine(w, n);
	}
	return rc;
}

void nodes_replace(struct walk *w)
{
	struct sky_pool *p = w->p;
	int i, any = 0;

	for (i = 0; i < p->n_nodes; i++) {
		struct sky_node *n = p->nodes[i];
		int due;

		pthread_mutex_lock(&g.lock);
		due = n->replace && !p->stop && !n->removing && sky_mono() >= n->replace_after;
		if (due)
			n->replace = 0;
		pthread_mutex_unlock(&g.lock);
		if (!due)
			continue;
		drop_machine(w, n);
		if (node_provision_any(w, n)) {
			pthread_mutex_lock(&g.lock);
			/* capacity may come back: try again, less and less often */
			n->replace = 1;
			n->replace_after = sky_mono() + (n->replacements < 6 ?
							 (double)(10 << n->replacements) : 600.0);
			n->replacements++;
			pthread_mutex_unlock(&g.lock);
			continue;
		}
		pthread_mutex_lock(&g.lock);
		n->replacements++;
		pthread_mutex_unlock(&g.lock);
		any = 1;
	}
	if (!any)
		return;
	nodes_setup(p);
	pthread_mutex_lock(&g.lock);
	if (p->state == POOL_DEGRADED && node_all_ready(p)) {
		p->error[0] = '\0';
		pool_set_state(p, POOL_READY);
	}
	pthread_mutex_unlock(&g.lock);
}
