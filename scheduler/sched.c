/* The scheduler core: the global state, the state directory lock, and the
 * dispatch thread that moves queued tasks onto free node slots (FIFO, to the
 * node with the fewest running jobs), enforces cancel graces and pool
 * limits. Starting a task builds its environment and hands it to the node's
 * transport; the transport reports the end through task_done(). */
#define LOG_MODULE "sched"
#include "scheduler/sched.h"
#include "scheduler/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "scheduler/journal.h"
#include "scheduler/sweep.h"
#include "transport/ssh.h"
#include "transport/transport.h"

struct sky_global g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.lock_fd = -1,
	.sweep_interval = 300,
};

void sched_kick(void)
{
	g.kicked = 1;
	pthread_cond_signal(&g.dispatch);
}

void sched_cond_wait(pthread_cond_t *c, double secs)
{
	struct timespec ts;
	long ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = ts.tv_nsec + (long)((secs - (double)(long)secs) * 1e9);
	ts.tv_sec += (time_t)secs + ns / 1000000000L;
	ts.tv_nsec = ns % 1000000000L;
	pthread_cond_timedwait(c, &g.lock, &ts);
}

static int cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return -rc;
}

const char *sky_sched_state_dir(void)
{
	return g.state_dir;
}

void sky_sched_set_recovery(int teardown, double sweep_interval_s)
{
	g.recover_teardown = teardown;
	g.sweep_interval = sweep_interval_s;
}

int sky_sched_open(const char *state_dir, char *err, size_t errlen)
{
	char path[PATH_MAX], pid[32] = "";
	ssize_t n;
	int rc;

	if (snprintf(g.state_dir, sizeof(g.state_dir), "%s", state_dir) >= (int)sizeof(g.state_dir))
		return -ENAMETOOLONG;
	if ((rc = sky_mkdir_p(state_dir, 0700))) {
		snprintf(err, errlen, "cannot create state directory %s: %s", state_dir,
			 strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/lock", state_dir);
	g.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (g.lock_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	if (flock(g.lock_fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		n = pread(g.lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errlen, "state directory %s is in use by another skyfs mount%s%s%s",
			 state_dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
		close(g.lock_fd);
		g.lock_fd = -1;
		return rc;
	}
	if ((rc = cond_init(&g.changed)) || (rc = cond_init(&g.work)) ||
	    (rc = cond_init(&g.dispatch)))
		return rc;
	sky_map_init(&g.pools);
	sky_set_mount_id(g.state_dir);
	pthread_mutex_lock(&g.lock);
	rc = store_load_pools();
	pthread_mutex_unlock(&g.lock);
	if (rc)
		snprintf(err, errlen, "cannot load %s/pools: %s", state_dir, strerror(-rc));
	return rc;
}

/* ---- tasks ---------------------------------------------------------------- */

static void task_done(void *arg, int status, const char *err, int flags)
{
	struct sky_task *t = arg;

	pthread_mutex_lock(&g.lock);
	if ((flags & SKY_EXEC_NODE_LOST) && t->node && t->node->inst.transport &&
	    t->node->inst.transport->suspect_on_lost)
		node_suspect(t->node, err);
	if (flags & SKY_EXEC_NODE_LOST)
		job_task_lost(t, err);
	else
		job_task_ended(t, status, err);
	pthread_mutex_unlock(&g.lock);
}

void sched_task_forget(struct sky_task *t)
{
	size_t i;

	if (!t->term_at)
		return;
	for (i = 0; i < g.n_terminating; i++)
		if (g.terminating[i] == t) {
			g.terminating[i] = g.terminating[--g.n_terminating];
			break;
		}
	t->term_at = 0;
}

void sched_cancel_task(struct sky_task *t)
{
	if (!t->running || !t->exec || t->term_at)
		return;
	if (g.n_terminating == g.cap_terminating) {
		size_t cap = g.cap_terminating ? g.cap_terminating * 2 : 16;
		struct sky_task **n = realloc(g.terminating, cap * sizeof(*n));
		if (!n) {
			/* no room to remember the grace: kill at once */
			t->node->inst.transport->cancel(t->exec, SIGKILL);
			return;
		}
		g.terminating = n;
		g.cap_terminating = cap;
	}
	t->node->inst.transport->cancel(t->exec, SIGTERM);
	t->term_at = sky_mono();
	g.terminating[g.n_terminating++] = t;
	sched_kick();
}

/* Environment for one task: a clean base (no daemon secrets), the SKY_*
 * variables, devices, then the spec's env.* in the order written. The
 * strings live in *store; the returned array (caller frees) points into it. */
static char **task_env(const struct sky_task *t, const char *outdir, struct sky_buf *store)
{
	static const char *const pass[] = { "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL",
					    "TMPDIR", "TZ" };
	const struct sky_pool *p = t->job->pool;
	const struct sky_node *n = t->node;
	size_t *offs, k = 0, i;
	char **envp = NULL;
	int r, c, per = p->req.accelerator_count, shape = p->n_nodes;

	/* while the pool shrinks, a job on a node it keeps sees the nodes kept
	 * (the highest ranks drain); one on a draining node, a share of a
	 * broadcast submitted before, the shape it was submitted to */
	if (!n->removing)
		while (shape > 0 && p->nodes[shape - 1]->removing)
			shape--;

	offs = calloc(32 + p->spec.n_env, sizeof(*offs));
	if (!offs)
		return NULL;
#define BEGIN() (offs[k++] = store->len)
#define END() sky_buf_append(store, "", 1)
	for (i = 0; i < SKY_ARRAY_SIZE(pass); i++)
		if (getenv(pass[i])) {
			BEGIN();
			sky_buf_printf(store, "%s=%s", pass[i], getenv(pass[i]));
			END();
		}
	if (!getenv("PATH")) {
		BEGIN();
		sky_buf_printf(store, "PATH=/usr/local/bin:/usr/bin:/bin");
		END();
	}
	BEGIN(); sky_buf_printf(store, "SKY_POOL=%s", p->name); END();
	BEGIN(); sky_buf_printf(store, "SKY_JOB=%s", t->job->name); END();
	BEGIN(); sky_buf_printf(store, "SKY_NODE=%s", n->name); END();
	BEGIN(); sky_buf_printf(store, "SKY_NODE_RANK=%d", n->rank); END();
	BEGIN(); sky_buf_printf(store, "SKY_NUM_NODES=%d", shape); END();
	BEGIN(); sky_buf_printf(store, "SKY_SLOT=%d", t->slot); END();
	BEGIN(); sky_buf_printf(store, "SKY_OUTPUT=%s", outdir); END();
	BEGIN();
	sky_buf_printf(store, "SKY_NODE_ADDRS=");
	for (r = 0; r < shape; r++)
		sky_buf_printf(store, "%s%s", r ? "\n" : "", p->nodes[r]->inst.address);
	END();
	if (n->inst.n_devices && per) {
		BEGIN();
		sky_buf_printf(store, "CUDA_VISIBLE_DEVICES=");
		for (c = 0; c < per && t->slot * per + c < n->inst.n_devices; c++)
			sky_buf_printf(store, "%s%s", c ? "," : "", n->inst.devices[t->slot * per + c]);
		END();
	}
	for (i = 0; i < p->spec.n_env; i++) {
		BEGIN();
		sky_buf_printf(store, "%s=%s", p->spec.env[i].name, p->spec.env[i].value);
		END();
	}
#undef BEGIN
#undef END
	if (!store->data)
		goto out;
	envp = calloc(k + 1, sizeof(*envp));
	if (!envp)
		goto out;
	for (i = 0; i < k; i++)
		envp[i] = store->data + offs[i];
out:
	free(offs);
	return envp;
}

/* Starts task t on node n, slot; lock held. */
static void start_task(struct sky_task *t, struct sky_node *n, int slot)
{
	struct sky_job *j = t->job;
	struct sky_exec_req req = { 0 };
	struct sky_buf envbuf = { 0 };
	char dir[PATH_MAX], sub[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX], files[PATH_MAX];
	char payload[PATH_MAX], wd[PATH_MAX], od[PATH_MAX];
	char **envp = NULL;
	int rc;

	t->node = n;
	sky_strlcpy(t->node_name, n->name, sizeof(t->node_name));
	t->slot = slot;
	t->running = 1;
	t->started = sky_now();
	n->running++;
	n->slot_busy[slot] = 1;
	if (j->state == JOB_QUEUED) {
		j->started = t->started;
		j->attempts++;
		job_set_state(j, JOB_RUNNING);
	}
	journal_write(j->pool, 0, "dispatch %s %s %d", j->name, n->name, j->attempts);
	store_job_path(j, NULL, dir, sizeof(dir));
	if (j->broadcast)
		snprintf(sub, sizeof(sub), "%s/%s", dir, n->name);
	else
		snprintf(sub, sizeof(sub), "%s", dir);
	if (j->broadcast)
		mkdir(sub, 0755);
	snprintf(outp, sizeof(outp), "%s/stdout", sub);
	snprintf(errp, sizeof(errp), "%s/stderr", sub);
	snprintf(files, sizeof(files), "%s/files", sub);
	snprintf(payload, sizeof(payload), "%s/payload", dir);
	/* unique, since the transport removes it after reporting the end */
	snprintf(wd, sizeof(wd), "%s/work/%llu", n->inst.workdir, ++g.exec_seq);
	if (n->inst.transport->shared_fs)
		snprintf(od, sizeof(od), "%s", files);
	else
		snprintf(od, sizeof(od), "%s/output/%s", n->inst.workdir, j->name);

	envp = task_env(t, od, &envbuf);
	if (!envp) {
		rc = -ENOMEM;
		goto fail;
	}
	req.workdir = wd;
	req.output_dir = od;
	req.payload = payload;
	req.payload_is_archive = j->kind == SKY_PAYLOAD_ARCHIVE;
	req.payload_has_shebang = j->kind == SKY_PAYLOAD_SHEBANG;
	req.envp = envp;
	req.stdout_path = outp;
	req.stderr_path = errp;
	req.files_dest = files;
	req.done = task_done;
	req.arg = t;
	/* no metadata write here: a restart re-queues running jobs anyway */
	rc = n->inst.transport->start(&n->inst, &req, &t->exec);
	if (rc)
		goto fail;
	goto out;
fail:
	{
		char why[256];
		snprintf(why, sizeof(why), "cannot start on %s: %s", n->name, strerror(-rc));
		job_task_ended(t, 0, why);
	}
out:
	free(envp);
	sky_buf_free(&envbuf);
}

/* Moves queued tasks of p onto free slots; lock held. */
void sched_dispatch_pool(struct sky_pool *p)
{
	struct sky_qlink *l, *next;
	int *running, *slots, *ready, *takes, i, any;

	if (!pool_live(p))
		return;
	if (p->stop)
		return;
	job_expand_pending(p);
	if (!p->queue.len)
		return;
	running = calloc((size_t)p->n_nodes * 4, sizeof(int));
	if (!running)
		return;
	slots = running + p->n_nodes;
	ready = slots + p->n_nodes;
	/* a node being removed takes no new job, only its share of the
	 * broadcasts it was given (pinned) */
	takes = ready + p->n_nodes;
	for (i = 0; i < p->n_nodes; i++) {
		running[i] = p->nodes[i]->running;
		slots[i] = p->spec.slots;
		ready[i] = p->nodes[i]->state == NODE_READY;
		takes[i] = ready[i] && !p->nodes[i]->removing;
	}
	for (l = p->queue.head.next; l != &p->queue.head; l = next) {
		struct sky_task *t = sky_queue_entry(l, struct sky_task, qlink);
		struct sky_node *n;
		int idx, slot;

		next = l->next;
		for (any = 0, i = 0; i < p->n_nodes && !any; i++)
			any = ready[i] && running[i] < slots[i];
		if (!any)
			break;
		if (t->pinned_rank >= 0) {
			idx = t->pinned_rank;
			if (!ready[idx] || running[idx] >= slots[idx])
				continue;
		} else {
			idx = sky_pick_node(running, slots, takes, p->n_nodes);
			if (idx < 0)
				continue;   /* only a node being removed has room */
		}
		n = p->nodes[idx];
		for (slot = 0; slot < p->spec.slots && n->slot_busy[slot]; slot++)
			;
		sky_queue_remove(&p->queue, l);
		running[idx]++;
		start_task(t, n, slot);
		/* a task that failed to start released its slot already */
		running[idx] = n->running;
		next = p->queue.head.next == &p->queue.head ? &p->queue.head : next;
	}
	free(running);
}

static int dispatch_cb(const char *key, void *value, void *arg)
{
	(void)key;
	sched_dispatch_pool(value);
	pool_check_timers(value, *(double *)arg);
	return 0;
}

static void enforce_graces(double now)
{
	size_t i;

	for (i = 0; i < g.n_terminating; i++) {
		struct sky_task *t = g.terminating[i];
		if (!t->kill_sent && t->exec && now - t->term_at >= SKY_CANCEL_GRACE_S) {
			t->node->inst.transport->cancel(t->exec, SIGKILL);
			t->kill_sent = 1;
		}
	}
}

static int find_removed_cb(const char *key, void *value, void *arg)
{
	struct sky_pool *p = value;

	(void)key;
	if (p->remove_pending && !p->removing && p->worker_done) {
		*(struct sky_pool **)arg = p;
		return 1;
	}
	return 0;
}

/* Pools whose rmdir gave up on a failing release go once it succeeded
 * (lock held; dropped while their files are deleted). */
static void reap_removed(void)
{
	struct sky_pool *p = NULL;
	char trash[PATH_MAX];

	while ((p = NULL, sky_map_each(&g.pools, find_removed_cb, &p), p)) {
		pool_reap_removed(p, trash, sizeof(trash));
		pthread_mutex_unlock(&g.lock);
		if (trash[0])
			sky_rm_rf(trash);
		pthread_mutex_lock(&g.lock);
	}
}

static void *dispatcher_main(void *arg)
{
	double now;

	(void)arg;
	pthread_mutex_lock(&g.lock);
	while (!g.quitting) {
		g.kicked = 0;
		now = sky_mono();
		sky_map_each(&g.pools, dispatch_cb, &now);
		enforce_graces(now);
		reap_removed();
		if (!g.kicked && !g.quitting)
			sched_cond_wait(&g.dispatch, 0.5);
	}
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

/* A pool the last daemon left live comes back: its worker adopts or
 * releases what the journal recorded (recover.c). Lock held. */
static int recover_cb(const char *key, void *value, void *arg)
{
	struct sky_pool *p = value;

	(void)key;
	(void)arg;
	if (!p->replay)
		return 0;
	if (!p->spec_text || p->state == POOL_INVALID) {
		pool_event(p, "cannot recover: no valid spec; the orphan sweep releases its machines");
		journal_replay_free(p->replay);
		free(p->replay);
		p->replay = NULL;
		return 0;
	}
	p->recover_teardown = g.recover_teardown || p->spec.recover == SKY_RECOVER_TEARDOWN;
	if (pool_start_worker(p))
		log_error("pool %s: cannot start its recovery", p->name);
	return 0;
}

/* An rmdir a crash cut short after its release: nothing to recover, the
 * removal is finished at once (lock held; not while iterating the map). */
static int find_unremoved_cb(const char *key, void *value, void *arg)
{
	struct sky_pool *p = value;

	(void)key;
	if (p->remove_pending && !p->replay && !p->worker_alive) {
		*(struct sky_pool **)arg = p;
		return 1;
	}
	return 0;
}

int sky_sched_start(void)
{
	char pid[32];
	int n, rc;

	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(g.lock_fd, 0) || pwrite(g.lock_fd, pid, (size_t)n, 0) != n)
		log_warn("cannot record the pid in the lock file: %s", strerror(errno));
	plan_refresh_all();
	pthread_mutex_lock(&g.lock);
	sky_map_each(&g.pools, recover_cb, NULL);
	for (;;) {
		struct sky_pool *p = NULL;
		char trash[PATH_MAX];

		sky_map_each(&g.pools, find_unremoved_cb, &p);
		if (!p)
			break;
		p->worker_done = 1;   /* no worker: pool_reap_removed joins nothing */
		pool_reap_removed(p, trash, sizeof(trash));
		if (trash[0])
			sky_rm_rf(trash);
	}
	pthread_mutex_unlock(&g.lock);
	rc = -pthread_create(&g.dispatcher, NULL, dispatcher_main, NULL);
	if (!rc)
		g.dispatcher_alive = 1;
	/* after the recovering pools started: they own their machines */
	if (!rc && (rc = sweep_start()))
		log_warn("cannot start the orphan sweep: %s", strerror(-rc));
	return rc;
}

static int ask_stop_cb(const char *key, void *value, void *arg)
{
	struct sky_pool *p = value;

	(void)key;
	(void)arg;
	if (p->worker_alive && !p->worker_done && !p->stop)
		p->stop = STOP_UNMOUNT;
	return 0;
}

static int join_cb(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	pool_stop_and_join(value, STOP_UNMOUNT, NULL);
	return 0;
}

static int free_pool_cb(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	pool_free(value);
	return 0;
}

void sky_sched_close(void)
{
	pthread_mutex_lock(&g.lock);
	g.quit_at = sky_mono();
	pthread_cond_broadcast(&g.dispatch);
	/* every pool stops at once, then we wait for them all */
	sky_map_each(&g.pools, ask_stop_cb, NULL);
	pthread_cond_broadcast(&g.work);
	sky_map_each(&g.pools, join_cb, NULL);
	g.quitting = 1;
	pthread_cond_broadcast(&g.dispatch);
	pthread_mutex_unlock(&g.lock);
	if (g.dispatcher_alive)
		pthread_join(g.dispatcher, NULL);
	g.dispatcher_alive = 0;
	sweep_stop();
	sky_transport_local.shutdown();
	sky_transport_ssh.shutdown();
	sky_map_each(&g.pools, free_pool_cb, NULL);
	sky_map_free(&g.pools);
	free(g.terminating);
	g.terminating = NULL;
	if (g.lock_fd >= 0) {
		if (ftruncate(g.lock_fd, 0)) {
		}
		close(g.lock_fd);
	}
	g.lock_fd = -1;
	log_info("scheduler stopped");
}
