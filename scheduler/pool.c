/* Pools: creation and removal, the spec (checked while written, applied
 * at close), events, cost, and the texts of status and nodes/. The live
 * part of a pool runs on its worker thread (worker.c). */
#define LOG_MODULE "pool"
#include "scheduler/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "scheduler/journal.h"
#include "common/names.h"

static const char *const pool_state_names[] = {
	[POOL_EMPTY] = "empty", [POOL_INVALID] = "invalid",
	[POOL_PROVISIONING] = "provisioning", [POOL_READY] = "ready",
	[POOL_DEGRADED] = "degraded", [POOL_FAILED] = "failed",
	[POOL_TERMINATING] = "terminating", [POOL_STOPPED] = "stopped",
	[POOL_PLANNED] = "planned", [POOL_PENDING] = "pending", [POOL_RESIZING] = "resizing",
};

const char *pool_state_name(enum sky_pool_state s)
{
	return pool_state_names[s];
}

int pool_live(const struct sky_pool *p)
{
	return p->state == POOL_READY || p->state == POOL_DEGRADED || p->state == POOL_RESIZING;
}

struct sky_pool *pool_get(const char *name)
{
	return sky_map_get(&g.pools, name);
}

static void event_at(struct sky_pool *p, double t, const char *msg)
{
	char line[1600], ts[40];
	char path[PATH_MAX];

	sky_fmt_time(t, ts, sizeof(ts));
	snprintf(line, sizeof(line), "%s %s", ts, msg);
	if (!store_pool_path(p, "events", path, sizeof(path)))
		sky_append_line(path, line);
	log_info("pool %s: %s", p->name, msg);
}

void pool_event(struct sky_pool *p, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	event_at(p, sky_now(), msg);
}

void pool_set_state(struct sky_pool *p, enum sky_pool_state s)
{
	if (p->state == s)
		return;
	pool_event(p, "state %s -> %s", pool_state_name(p->state), pool_state_name(s));
	p->state = s;
	if (pool_live(p))
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
	p->journal_fd = -1;
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

void pool_nodes_free(struct sky_pool *p)
{
	int i;

	for (i = 0; i < p->n_nodes; i++)
		node_free(p->nodes[i]);
	free(p->nodes);
	p->nodes = NULL;
	p->n_nodes = 0;
}

void pool_free(struct sky_pool *p)
{
	sky_map_each(&p->jobs, free_job_cb, NULL);
	sky_map_free(&p->jobs);
	sky_map_free(&p->staging);
	pool_nodes_free(p);
	journal_close(p);
	if (p->replay)
		journal_replay_free(p->replay);
	free(p->replay);
	free(p->cands);
	timeline_free(p);
	sky_spec_free(&p->spec);
	free(p->spec_text);
	free(p);
}

double pool_rate(const struct sky_pool *p)
{
	double r = 0;
	int i;

	for (i = 0; i < p->n_nodes; i++)
		if (p->nodes[i]->up_since && !p->nodes[i]->down_at)
			r += p->nodes[i]->price;
	return r;
}

double pool_accrued(const struct sky_pool *p, double now)
{
	double a = p->spent_before;
	int i;

	for (i = 0; i < p->n_nodes; i++) {
		const struct sky_node *n = p->nodes[i];
		if (n->up_since)
			a += n->price * ((n->down_at ? n->down_at : now) - n->up_since) / 3600.0;
	}
	return a;
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
	/* stamped with the created time itself: a remount reads it back
	 * from this first line (store.c) */
	event_at(p, p->created, "pool created");
out:
	pthread_mutex_unlock(&g.lock);
	return rc;
}

/* Lock held; p's worker is joined. Drops p from the map and moves its
 * directory out of the way under the lock (a rename); the caller deletes
 * trash after unlocking, so a pool with many results does not hold up
 * every other pool while its files are unlinked. A crash in between
 * leaves it in trash/, emptied at the next mount. trash is "" when the
 * directory is gone already. */
static void pool_drop(struct sky_pool *p, char *trash, size_t len)
{
	static unsigned long removed;    /* names the trash; under g.lock */

	sky_map_del(&g.pools, p->name);
	if ((size_t)snprintf(trash, len, "%s/trash", g.state_dir) >= len ||
	    sky_mkdir_p(trash, 0700) ||
	    (size_t)snprintf(trash, len, "%s/trash/%s.%lu", g.state_dir, p->name,
			     removed++) >= len ||
	    rename(p->dir, trash)) {
		sky_rm_rf(p->dir);
		trash[0] = '\0';
	}
	log_info("pool %s removed", p->name);
	pool_free(p);
	pthread_cond_broadcast(&g.changed);
}

int sky_pool_remove(const char *name, sky_interrupted_fn interrupted)
{
	struct sky_pool *p;
	char trash[PATH_MAX] = "";
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
		if (rc == -EBUSY && !p->remove_pending) {
			p->remove_pending = 1;
			pool_event(p, "rmdir: the release keeps failing; the pool goes away "
				   "once it succeeds (see status)");
		}
		goto out;
	}
	/* jobs that never ran (stopped pool) are simply dropped with it */
	pool_drop(p, trash, sizeof(trash));
out:
	pthread_mutex_unlock(&g.lock);
	if (trash[0])
		sky_rm_rf(trash);
	return rc;
}

int pool_reap_removed(struct sky_pool *p, char *trash, size_t len)
{
	trash[0] = '\0';
	if (!p->remove_pending || p->removing || !p->worker_done)
		return 0;
	pool_stop_and_join(p, STOP_REMOVE, NULL);
	pool_drop(p, trash, len);
	return 1;
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
	case POOL_PROVISIONING: case POOL_PENDING: case POOL_READY: case POOL_DEGRADED:
	case POOL_TERMINATING:
		return 1;
	default:
		return p->removing || (p->worker_alive && !p->worker_done);
	}
}

/* A failed pool gives back what it got before a new spec may provision it:
 * a spec written meanwhile waits for that (seconds; longer, it is EBUSY).
 * Lock held, dropped while waiting; returns the pool again, or NULL. */
#define RELEASE_WAIT_S 10.0
static struct sky_pool *wait_failed_release(const char *name, struct sky_pool *p)
{
	double until = sky_mono() + RELEASE_WAIT_S;

	while (p && p->state == POOL_FAILED && p->worker_alive && !p->worker_done &&
	       !p->removing && sky_mono() < until) {
		sched_cond_wait(&g.changed, 0.1);
		p = pool_get(name);
	}
	return p;
}

int sky_pool_spec_writable(const char *name)
{
	struct sky_pool *p;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	p = wait_failed_release(name, pool_get(name));
	if (!p)
		rc = -ENOENT;
	else if (spec_locked(p) && p->state == POOL_FAILED) {
		pool_spec_refused(p, "the pool failed and is still giving back its machines "
				  "(see events): write the spec again once it is done");
		rc = -EBUSY;
	} else if (spec_locked(p) && (!pool_live(p) || p->stop || p->removing)) {
		char live[256];

		sky_spec_live_keys(live, sizeof(live));
		pool_spec_refused(p, "the pool is %s: %s can change once it is ready",
				  pool_state_name(p->state), live);
		rc = -EBUSY;
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

/* Records a refused spec: the pool is invalid, status and events say why.
 * A live pool keeps running on the spec it has. */
static void reject_spec(struct sky_pool *p, const char *err)
{
	if (spec_locked(p)) {
		pool_spec_refused(p, "%s", err);
		return;
	}
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
	p = wait_failed_release(name, pool_get(name));
	if (!p) {
		rc = -ENOENT;
		goto out;
	}
	if (rc) {
		reject_spec(p, err);
		goto out;
	}
	if (spec_locked(p)) {
		rc = pool_spec_live(p, &spec, text, len);
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
	p->spec_refused[0] = '\0';
	rc = pool_start_worker(p);
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
		if (fn(p->nodes[i]->name, arg))
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

static int collect_cb(const char *key, void *value, void *arg)
{
	struct sky_pool ***at = arg;

	(void)key;
	*(*at)++ = value;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct sky_pool *const *)a)->name, (*(struct sky_pool *const *)b)->name);
}

int sky_render_overview(struct sky_buf *out)
{
	struct sky_pool **all, **at;
	size_t n, i;
	int rc;

	pthread_mutex_lock(&g.lock);
	n = g.pools.len;
	if (!(all = at = calloc(n + 1, sizeof(*all)))) {
		pthread_mutex_unlock(&g.lock);
		return -ENOMEM;
	}
	sky_map_each(&g.pools, collect_cb, &at);
	qsort(all, n, sizeof(*all), by_name);
	rc = render_overview_header(out);
	for (i = 0; i < n && !rc; i++)
		rc = render_overview_line(all[i], out);
	pthread_mutex_unlock(&g.lock);
	free(all);
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

int sky_pool_render_plan(const char *name, struct sky_buf *out)
{
	return render_locked(name, render_plan, out);
}

int sky_pool_render_node(const char *name, const char *node, struct sky_buf *out)
{
	struct sky_pool *p;
	int rc = -ENOENT, i;

	pthread_mutex_lock(&g.lock);
	p = pool_get(name);
	for (i = 0; p && i < p->n_nodes; i++)
		if (!strcmp(p->nodes[i]->name, node)) {
			rc = render_node(p->nodes[i], out);
			break;
		}
	pthread_mutex_unlock(&g.lock);
	return rc;
}
