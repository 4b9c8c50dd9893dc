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

#include "catalog/accel.h"
#include "common/log.h"
#include "transport/transport.h"

struct setup_wait {
	int done;
	int status;
	char *err;
};

static void setup_done(void *arg, int status, const char *err)
{
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
	snprintf(outp, sizeof(outp), "%s/setup.stdout", n->inst.workdir);
	snprintf(errp, sizeof(errp), "%s/setup.stderr", n->inst.workdir);
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

/* Picks the first offer that matches the spec's accelerator. */
static int choose_offer(struct sky_pool *p, const struct sky_provider_ops *prov,
			struct sky_offer *chosen, struct sky_err *err)
{
	struct sky_offer *offers = NULL;
	struct sky_buf avail = { 0 };
	size_t n = 0, i;
	int rc;

	rc = prov->offers(&p->spec, &offers, &n, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		const struct sky_offer *o = &offers[i];
		int ok = p->spec.accelerator[0]
			? o->accelerator[0] && sky_accel_match(p->spec.accelerator, o->accelerator)
			: !o->accelerator[0];
		if (ok) {
			*chosen = *o;
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		sky_buf_printf(&avail, "%s%s", i ? ", " : "",
			       offers[i].accelerator[0] ? offers[i].accelerator : "none");
	if (p->spec.accelerator[0])
		sky_err_set(err, "no offer for accelerator %s:%d (available from %s: %s)",
			    p->spec.accelerator, p->spec.accelerator_count, prov->name,
			    avail.data ? avail.data : "nothing");
	else
		sky_err_set(err, "%s offers no node without an accelerator (available: %s)",
			    prov->name, avail.data ? avail.data : "nothing");
	rc = -ENOENT;
out:
	sky_buf_free(&avail);
	free(offers);
	return rc;
}

static void fail_pool(struct sky_pool *p, const char *msg)
{
	snprintf(p->error, sizeof(p->error), "error: %s", msg);
	pool_event(p, "error: %s", msg);
	pool_set_state(p, POOL_FAILED);
}

/* Brings every node up; lock not held on entry or exit. */
static void *provision_nodes(struct sky_pool *p, const struct sky_provider_ops *prov,
			     void *pstate)
{
	struct sky_err err = { { 0 } };
	int i, ready = 0;

	for (i = 0; i < p->n_nodes; i++) {
		struct sky_node *n = &p->nodes[i];
		struct sky_instance inst = { 0 };
		int rc;

		pthread_mutex_lock(&g.lock);
		if (p->stop) {
			pthread_mutex_unlock(&g.lock);
			break;
		}
		pthread_mutex_unlock(&g.lock);
		err.msg[0] = '\0';
		rc = prov->provision(pstate, i, &inst, &err);
		if (!rc && inst.state != SKY_INST_RUNNING)
			rc = prov->get_instance(pstate, &inst, &err);
		pthread_mutex_lock(&g.lock);
		n->inst = inst;
		if (rc) {
			n->state = NODE_FAILED;
			snprintf(n->error, sizeof(n->error), "%s",
				 err.msg[0] ? err.msg : strerror(-rc));
			pool_event(p, "node %s failed: %s", n->name, n->error);
			pthread_mutex_unlock(&g.lock);
			continue;
		}
		n->up_since = sky_now();
		n->price = p->offer.price_usd_per_hour;
		pool_event(p, "node %s provisioned: %s at %s", n->name, inst.id, inst.address);
		pthread_mutex_unlock(&g.lock);
		if (p->spec.setup && run_setup(p, n)) {
			pthread_mutex_lock(&g.lock);
			n->state = NODE_FAILED;
			pool_event(p, "node %s: %s", n->name, n->error);
			pthread_mutex_unlock(&g.lock);
			continue;
		}
		pthread_mutex_lock(&g.lock);
		n->state = NODE_READY;
		ready++;
		pool_event(p, "node %s ready", n->name);
		sched_kick();
		pthread_mutex_unlock(&g.lock);
	}
	return (void *)(long)ready;
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

/* Terminates every node and the provider state; lock not held. */
static void teardown_all(struct sky_pool *p, const struct sky_provider_ops *prov, void *pstate)
{
	struct sky_err err = { { 0 } };
	int i, rc;

	for (i = 0; i < p->n_nodes; i++) {
		struct sky_node *n = &p->nodes[i];
		if (!n->inst.id[0])
			continue;
		err.msg[0] = '\0';
		rc = prov->terminate(pstate, &n->inst, &err);
		pthread_mutex_lock(&g.lock);
		n->state = NODE_GONE;
		n->down_at = sky_now();
		if (rc)
			pool_event(p, "node %s: terminate failed: %s", n->name,
				   err.msg[0] ? err.msg : strerror(-rc));
		else
			pool_event(p, "node %s terminated", n->name);
		pthread_mutex_unlock(&g.lock);
	}
	if (pstate) {
		err.msg[0] = '\0';
		rc = prov->teardown(pstate, &err);
		if (rc)
			pool_event(p, "teardown: %s", err.msg[0] ? err.msg : strerror(-rc));
	}
}

static void *pool_worker(void *arg)
{
	struct sky_pool *p = arg;
	const struct sky_provider_ops *prov = sky_provider_find(p->spec.provider);
	struct sky_pool_info info = { 0 };
	struct sky_err err = { { 0 } };
	void *pstate = NULL;
	int rc, ready;
	enum sky_pool_state final;

	pthread_mutex_lock(&g.lock);
	pool_event(p, "provisioning %d node(s) on %s", p->spec.nodes, p->spec.provider);
	pthread_mutex_unlock(&g.lock);

	rc = choose_offer(p, prov, &p->offer, &err);
	if (!rc) {
		info.name = p->name;
		info.state_dir = p->dir;
		info.spec = &p->spec;
		info.offer = &p->offer;
		rc = prov->prepare(&info, &pstate, &err);
	}
	if (rc) {
		pthread_mutex_lock(&g.lock);
		fail_pool(p, err.msg[0] ? err.msg : strerror(-rc));
		goto wait_stop;
	}
	pthread_mutex_lock(&g.lock);
	if (p->offer.accelerator[0])
		pool_event(p, "offer: %s, region %s, type %s, %s x%d per node, %s, %.4f USD/h per node",
			   prov->name, p->offer.region, p->offer.instance_type, p->offer.accelerator,
			   p->spec.accelerator_count, sky_market_name(p->offer.market),
			   p->offer.price_usd_per_hour);
	else
		pool_event(p, "offer: %s, region %s, type %s, no accelerator, %s, %.4f USD/h per node",
			   prov->name, p->offer.region, p->offer.instance_type,
			   sky_market_name(p->offer.market), p->offer.price_usd_per_hour);
	pthread_mutex_unlock(&g.lock);

	ready = (int)(long)provision_nodes(p, prov, pstate);
	pthread_mutex_lock(&g.lock);
	if (!p->stop) {
		p->ready_at = sky_now();
		if (ready == p->n_nodes) {
			p->error[0] = '\0';
			pool_set_state(p, POOL_READY);
		} else if (ready > 0) {
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

	teardown_all(p, prov, pstate);

	pthread_mutex_lock(&g.lock);
	pool_set_state(p, p->stop == STOP_REMOVE ? POOL_TERMINATING : final);
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

void pool_check_timers(struct sky_pool *p, double now_mono)
{
	double now = sky_now();
	const char *why = NULL;

	if (p->stop || (p->state != POOL_READY && p->state != POOL_DEGRADED))
		return;
	if (p->spec.lifetime_s && now - p->ready_at >= (double)p->spec.lifetime_s)
		why = "lifetime expired";
	else if (p->spec.idle_timeout_s && !p->counts[JOB_QUEUED] && !p->counts[JOB_RUNNING] &&
		 now_mono - p->last_activity >= (double)p->spec.idle_timeout_s)
		why = "idle timeout expired";
	if (!why)
		return;
	pool_event(p, "%s: tearing down", why);
	snprintf(p->error, sizeof(p->error), "stopped: %s", why);
	p->stop = STOP_EXPIRED;
	pthread_cond_broadcast(&g.work);
}
