/* Pools: creation and removal, the spec, and the pool worker thread that
 * owns a live pool's provider state: it picks an offer, prepares, provisions
 * every node, runs setup, then waits for a stop request and tears down.
 * The worker is the only thread that calls the provider for its pool. */
#define LOG_MODULE "pool"
#include "scheduler/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/accel.h"
#include "common/log.h"
#include "common/names.h"
#include "transport/transport.h"

static const char *const pool_state_names[] = {
	[POOL_EMPTY] = "empty", [POOL_INVALID] = "invalid",
	[POOL_PROVISIONING] = "provisioning", [POOL_READY] = "ready",
	[POOL_DEGRADED] = "degraded", [POOL_FAILED] = "failed",
	[POOL_TERMINATING] = "terminating", [POOL_STOPPED] = "stopped",
};

const char *pool_state_name(enum sky_pool_state s)
{
	return pool_state_names[s];
}

struct sky_pool *pool_get(const char *name)
{
	return sky_map_get(&g.pools, name);
}

void pool_event(struct sky_pool *p, const char *fmt, ...)
{
	char msg[1536], line[1600], ts[40];
	char path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sky_fmt_time(sky_now(), ts, sizeof(ts));
	snprintf(line, sizeof(line), "%s %s", ts, msg);
	if (!store_pool_path(p, "events", path, sizeof(path)))
		sky_append_line(path, line);
	log_info("pool %s: %s", p->name, msg);
}

void pool_set_state(struct sky_pool *p, enum sky_pool_state s)
{
	if (p->state == s)
		return;
	pool_event(p, "state %s -> %s", pool_state_name(p->state), pool_state_name(s));
	p->state = s;
	if (s == POOL_READY || s == POOL_DEGRADED)
		p->last_activity = sky_mono();
	pthread_cond_broadcast(&g.changed);
	sched_kick();
}

struct sky_pool *pool_new(const char *name)
{
	struct sky_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (snprintf(p->dir, sizeof(p->dir), "%s/pools/%s", g.state_dir, name) >=
	    (int)sizeof(p->dir)) {
		free(p);
		return NULL;
	}
	p->state = POOL_EMPTY;
	p->created = sky_now();
	sky_map_init(&p->jobs);
	sky_map_init(&p->staging);
	sky_queue_init(&p->queue);
	sky_queue_init(&p->pending_bcast);
	return p;
}

static int free_job_cb(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	job_free(value);
	return 0;
}

static void nodes_free(struct sky_pool *p)
{
	int i;

	for (i = 0; i < p->n_nodes; i++)
		free(p->nodes[i].slot_busy);
	free(p->nodes);
	p->nodes = NULL;
	p->n_nodes = 0;
}

void pool_free(struct sky_pool *p)
{
	sky_map_each(&p->jobs, free_job_cb, NULL);
	sky_map_free(&p->jobs);
	sky_map_free(&p->staging);
	nodes_free(p);
	sky_spec_free(&p->spec);
	free(p->spec_text);
	free(p);
}

double pool_rate(const struct sky_pool *p)
{
	double r = 0;
	int i;

	for (i = 0; i < p->n_nodes; i++)
		if (p->nodes[i].up_since && !p->nodes[i].down_at)
			r += p->nodes[i].price;
	return r;
}

double pool_accrued(const struct sky_pool *p, double now)
{
	double a = 0;
	int i;

	for (i = 0; i < p->n_nodes; i++) {
		const struct sky_node *n = &p->nodes[i];
		if (n->up_since)
			a += n->price * ((n->down_at ? n->down_at : now) - n->up_since) / 3600.0;
	}
	return a;
}

/* ---- the worker ---------------------------------------------------------- */

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
	pool_event(p, "offer: %s %s %s, %s x%d, %s, %.4f USD/h per node", prov->name,
		   p->offer.region, p->offer.instance_type,
		   p->offer.accelerator[0] ? p->offer.accelerator : "no accelerator",
		   p->offer.accelerator_count, sky_market_name(p->offer.market),
		   p->offer.price_usd_per_hour);
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
		nodes_free(p);
	}
}

static int start_worker(struct sky_pool *p)
{
	int rc;

	join_worker(p);
	rc = alloc_nodes(p);
	if (rc) {
		nodes_free(p);
		return rc;
	}
	p->stop = STOP_NONE;
	p->ready_at = 0;
	p->error[0] = '\0';
	pool_set_state(p, POOL_PROVISIONING);
	rc = -pthread_create(&p->worker, NULL, pool_worker, p);
	if (rc) {
		nodes_free(p);
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

/* ---- public operations (sched.h) ------------------------------------------ */

int sky_pool_create(const char *name)
{
	struct sky_pool *p;
	char path[PATH_MAX];
	int rc;

	if ((rc = sky_name_check(name)))
		return rc;
	pthread_mutex_lock(&g.lock);
	if (pool_get(name)) {
		rc = -EEXIST;
		goto out;
	}
	p = pool_new(name);
	if (!p) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	store_pool_path(p, "results", path, sizeof(path));
	if ((rc = sky_mkdir_p(path, 0700)) || (rc = sky_map_put(&g.pools, p->name, p))) {
		sky_rm_rf(p->dir);
		pool_free(p);
		goto out;
	}
	pool_event(p, "pool created");
out:
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_pool_remove(const char *name, sky_interrupted_fn interrupted)
{
	struct sky_pool *p;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	if (!p) {
		rc = -ENOENT;
		goto out;
	}
	if (p->removing) {
		/* another rmdir is already waiting for it */
		rc = -EBUSY;
		goto out;
	}
	p->removing = 1;
	pool_event(p, "removing the pool");
	rc = pool_stop_and_join(p, STOP_REMOVE, interrupted);
	if (rc) {
		p->removing = 0;
		goto out;
	}
	/* jobs that never ran (stopped pool) are simply dropped with it */
	sky_map_del(&g.pools, name);
	sky_rm_rf(p->dir);
	log_info("pool %s removed", name);
	pool_free(p);
	pthread_cond_broadcast(&g.changed);
out:
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_pool_exists(const char *name)
{
	int ok;

	pthread_mutex_lock(&g.lock);
	ok = pool_get(name) != NULL;
	pthread_mutex_unlock(&g.lock);
	return ok;
}

struct list_arg {
	sky_name_fn fn;
	void *arg;
};

static int list_cb(const char *key, void *value, void *arg)
{
	struct list_arg *la = arg;

	(void)value;
	return la->fn(key, la->arg);
}

int sky_pool_list(sky_name_fn fn, void *arg)
{
	struct list_arg la = { fn, arg };

	pthread_mutex_lock(&g.lock);
	sky_map_each(&g.pools, list_cb, &la);
	pthread_mutex_unlock(&g.lock);
	return 0;
}

int sky_pool_spec_get(const char *name, struct sky_buf *out)
{
	struct sky_pool *p;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	if (!p)
		rc = -ENOENT;
	else if (p->spec_text)
		rc = sky_buf_append(out, p->spec_text, strlen(p->spec_text));
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static int spec_locked(const struct sky_pool *p)
{
	switch (p->state) {
	case POOL_PROVISIONING: case POOL_READY: case POOL_DEGRADED: case POOL_TERMINATING:
		return 1;
	default:
		return p->removing || (p->worker_alive && !p->worker_done);
	}
}

int sky_pool_spec_writable(const char *name)
{
	struct sky_pool *p;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	if (!p)
		rc = -ENOENT;
	else if (spec_locked(p))
		rc = -EBUSY;
	pthread_mutex_unlock(&g.lock);
	return rc;
}

/* Records a refused spec: the pool is invalid, status and events say why. */
static void reject_spec(struct sky_pool *p, const char *err)
{
	snprintf(p->error, sizeof(p->error), "error: %s", err);
	pool_event(p, "invalid spec: %s", err);
	pool_set_state(p, POOL_INVALID);
}

int sky_pool_spec_precheck(const char *name, const char *text, size_t len)
{
	struct sky_spec spec = { 0 };
	struct sky_pool *p;
	char err[512];
	size_t i = 0, end = len;
	int rc;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i < len && text[i] == '{') {
		/* JSON is checked once it looks complete */
		while (end > i && (text[end - 1] == ' ' || text[end - 1] == '\n' ||
				   text[end - 1] == '\t' || text[end - 1] == '\r'))
			end--;
		if (end == i || text[end - 1] != '}')
			return 0;
	} else {
		/* only complete lines: the last one may still be arriving */
		while (end > 0 && text[end - 1] != '\n')
			end--;
		if (!end)
			return 0;
	}
	rc = sky_spec_parse(text, end, &spec, err, sizeof(err));
	sky_spec_free(&spec);
	if (!rc || (i < len && text[i] == '{' && rc == -EINVAL && strstr(err, "JSON") &&
		    strstr(err, "end of file")))
		return 0;
	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	if (p)
		reject_spec(p, err);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_pool_spec_set(const char *name, const char *text, size_t len)
{
	struct sky_pool *p;
	struct sky_spec spec = { 0 };
	char err[512], path[PATH_MAX], *copy = NULL;
	int rc;

	rc = sky_spec_parse(text, len, &spec, err, sizeof(err));
	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	if (!p) {
		rc = -ENOENT;
		goto out;
	}
	if (spec_locked(p)) {
		pool_event(p, "spec rewrite refused: the pool is %s (resizing is not supported yet)",
			   pool_state_name(p->state));
		rc = -EBUSY;
		goto out;
	}
	if (rc) {
		reject_spec(p, err);
		goto out;
	}
	copy = malloc(len + 1);
	if (!copy) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	store_pool_path(p, "spec", path, sizeof(path));
	if ((rc = sky_write_file_atomic(path, copy, len, 1)))
		goto out;
	free(p->spec_text);
	p->spec_text = copy;
	copy = NULL;
	sky_spec_free(&p->spec);
	p->spec = spec;
	memset(&spec, 0, sizeof(spec));
	pool_event(p, "spec accepted");
	rc = start_worker(p);
out:
	pthread_mutex_unlock(&g.lock);
	free(copy);
	sky_spec_free(&spec);
	return rc;
}

int sky_pool_disk_path(const char *name, const char *rel, char *out, size_t len)
{
	struct sky_pool *p;
	int rc;

	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	rc = p ? store_pool_path(p, rel, out, len) : -ENOENT;
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_pool_list_nodes(const char *name, sky_name_fn fn, void *arg)
{
	struct sky_pool *p;
	int rc = 0, i;

	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	if (!p)
		rc = -ENOENT;
	for (i = 0; p && i < p->n_nodes; i++)
		if (fn(p->nodes[i].name, arg))
			break;
	pthread_mutex_unlock(&g.lock);
	return rc;
}

/* Renders a pool's text under the lock. */
static int render_locked(const char *name, int (*render)(const struct sky_pool *,
							  struct sky_buf *),
			 struct sky_buf *out)
{
	struct sky_pool *p;
	int rc;

	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	rc = p ? render(p, out) : -ENOENT;
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_pool_render_status(const char *name, struct sky_buf *out)
{
	return render_locked(name, render_pool_status, out);
}

int sky_pool_render_cost(const char *name, struct sky_buf *out)
{
	return render_locked(name, render_pool_cost, out);
}

int sky_pool_render_node(const char *name, const char *node, struct sky_buf *out)
{
	struct sky_pool *p;
	int rc = -ENOENT, i;

	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	for (i = 0; p && i < p->n_nodes; i++)
		if (!strcmp(p->nodes[i].name, node)) {
			rc = render_node(&p->nodes[i], out);
			break;
		}
	pthread_mutex_unlock(&g.lock);
	return rc;
}
