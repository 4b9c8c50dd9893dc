/* Jobs: tasks and their queue, cancel, completion, and what a pool's stop
 * does to them. A job is a payload plus one task (or one per node for a
 * broadcast); the job ends when its last task does, with its final
 * metadata record written before anyone is told. */
#define LOG_MODULE "job"
#include "scheduler/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "scheduler/journal.h"
#include "transport/transport.h"


static const char *const job_state_names[] = {
	[JOB_QUEUED] = "queued", [JOB_RUNNING] = "running", [JOB_SUCCEEDED] = "succeeded",
	[JOB_FAILED] = "failed", [JOB_CANCELLED] = "cancelled", [JOB_LOST] = "lost",
};

const char *job_state_name(enum sky_job_state s)
{
	return job_state_names[s];
}

int job_active(const struct sky_job *j)
{
	return j->state == JOB_QUEUED || j->state == JOB_RUNNING;
}

void job_set_state(struct sky_job *j, enum sky_job_state s)
{
	struct sky_pool *p = j->pool;

	if (j->state == s)
		return;
	p->counts[j->state]--;
	p->counts[s]++;
	j->state = s;
	p->last_activity = sky_mono();
	pthread_cond_broadcast(&g.changed);
}

static void free_tasks(struct sky_job *j)
{
	int i;

	for (i = 0; i < j->n_tasks; i++) {
		if (sky_queue_linked(&j->tasks[i].qlink))
			sky_queue_remove(&j->pool->queue, &j->tasks[i].qlink);
		sched_task_forget(&j->tasks[i]);
		free(j->tasks[i].error);
	}
	free(j->tasks);
	j->tasks = NULL;
	j->n_tasks = 0;
	j->tasks_ended = 0;
}

void job_free(struct sky_job *j)
{
	if (sky_queue_linked(&j->bqlink))
		sky_queue_remove(&j->pool->pending_bcast, &j->bqlink);
	free_tasks(j);
	free(j->past);
	free(j->error);
	free(j);
}

static int make_tasks(struct sky_job *j, int n)
{
	int i;

	j->tasks = calloc((size_t)n, sizeof(*j->tasks));
	if (!j->tasks)
		return -ENOMEM;
	j->n_tasks = n;
	for (i = 0; i < n; i++) {
		j->tasks[i].job = j;
		j->tasks[i].pinned_rank = -1;
		j->tasks[i].slot = -1;
	}
	return 0;
}

/* A broadcast runs once on every node that is ready when it is expanded. */
static int expand_broadcast(struct sky_job *j)
{
	struct sky_pool *p = j->pool;
	int i, n = 0, k = 0, rc;

	for (i = 0; i < p->n_nodes; i++)
		n += p->nodes[i]->state == NODE_READY && !p->nodes[i]->removing;
	if (!n)
		return -EAGAIN;
	if ((rc = make_tasks(j, n)))
		return rc;
	for (i = 0; i < p->n_nodes; i++) {
		if (p->nodes[i]->state != NODE_READY || p->nodes[i]->removing)
			continue;
		j->tasks[k].pinned_rank = i;
		j->tasks[k].node = p->nodes[i];
		sky_strlcpy(j->tasks[k].node_name, p->nodes[i]->name, sizeof(j->tasks[k].node_name));
		sky_queue_push(&p->queue, &j->tasks[k].qlink);
		k++;
	}
	return 0;
}

int job_enqueue(struct sky_job *j)
{
	struct sky_pool *p = j->pool;
	int rc;

	free_tasks(j);
	if (j->broadcast) {
		if (pool_live(p) && !expand_broadcast(j))
			goto out;
		if (!sky_queue_linked(&j->bqlink))
			sky_queue_push(&p->pending_bcast, &j->bqlink);
		goto out;
	}
	if ((rc = make_tasks(j, 1)))
		return rc;
	sky_queue_push(&p->queue, &j->tasks[0].qlink);
out:
	sched_kick();
	return 0;
}

/* Called by the dispatcher for a pool that became ready. */
void job_expand_pending(struct sky_pool *p)
{
	struct sky_qlink *l;

	while ((l = sky_queue_peek(&p->pending_bcast))) {
		struct sky_job *j = sky_queue_entry(l, struct sky_job, bqlink);
		if (expand_broadcast(j))
			break;
		sky_queue_remove(&p->pending_bcast, l);
	}
}

static void requeue_now(struct sky_job *j);

int job_task_exit_code(const struct sky_task *t)
{
	if (t->lost)
		return EXIT_LOST;
	/* a job skyfs stopped (max_output) ran and was killed: 128 + signal;
	 * one that could not start has no status of its own */
	if (t->error && !WIFSIGNALED(t->status))
		return EXIT_NOT_RUN;
	if (WIFEXITED(t->status))
		return WEXITSTATUS(t->status);
	if (WIFSIGNALED(t->status))
		return 128 + WTERMSIG(t->status);
	return EXIT_NOT_RUN;
}

/* Writes a message into a result's stderr (for jobs that never ran). */
void job_note_stderr(const struct sky_job *j, const char *sub, const char *msg)
{
	char rel[PATH_MAX], path[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s%sstderr", sub ? sub : "", sub ? "/" : "");
	if (store_job_path(j, rel, path, sizeof(path)))
		return;
	sky_append_line(path, msg);
}

/* pools/<p>/done: "EXIT STATE NAME" per finished job, appended in the
 * order they finish, so a workflow follows one file (tail -f) instead of
 * polling every result. The name comes last: it may hold spaces. */
static void job_done_line(const struct sky_job *j)
{
	char path[PATH_MAX], line[sizeof(j->name) + 64];

	if (store_pool_path(j->pool, "done", path, sizeof(path)))
		return;
	snprintf(line, sizeof(line), "%d %s %s", j->exit_code, job_state_name(j->state), j->name);
	if (sky_append_line(path, line))
		log_warn("pool %s: cannot append to %s", j->pool->name, path);
}

void job_finish(struct sky_job *j, int exit_code)
{
	enum sky_job_state s;

	j->ended = sky_now();
	j->exit_code = exit_code;
	if (j->cancelled)
		s = JOB_CANCELLED;
	else if (j->lost)
		s = JOB_LOST;
	else if (exit_code == 0 && !j->error)
		s = JOB_SUCCEEDED;
	else
		s = JOB_FAILED;
	job_set_state(j, s);
	journal_write(j->pool, 0, "end %s %d", j->name, exit_code);
	job_done_line(j);
	/* The top-level exit is rendered from this state (fs/job_files.c), so
	 * it appears exactly when the record is on disk and waiters wake. */
	store_job_save(j);
	log_debug("pool %s job %s %s (exit %d)", j->pool->name, j->name, job_state_name(s),
		  exit_code);
}

void job_task_ended(struct sky_task *t, int status, const char *err)
{
	struct sky_job *j = t->job;
	struct sky_node *n = t->node;
	char dir[PATH_MAX];
	int i, code = 0, was_running = t->running;

	t->running = 0;
	t->ended = 1;
	t->exec = NULL;
	t->status = status;
	t->ended_at = sky_now();
	if (err && !t->error)
		t->error = strdup(err);
	sched_task_forget(t);
	if (n && was_running) {
		n->running--;
		if (t->slot >= 0)
			n->slot_busy[t->slot] = 0;
	}
	t->node = NULL;   /* nodes do not outlive a pool's stop; node_name does */
	j->tasks_ended++;
	if (j->broadcast && n && !store_job_path(j, n->name, dir, sizeof(dir))) {
		if (t->error)
			job_note_stderr(j, n->name, t->error);
		store_write_exit(dir, job_task_exit_code(t));
	} else if (!j->broadcast && t->error) {
		job_note_stderr(j, NULL, t->error);
	}
	sched_kick();
	if (j->tasks_ended < j->n_tasks)
		return;
	if (j->requeue && !j->cancelled) {
		requeue_now(j);
		return;
	}
	/* the first non-zero exit, in rank order, is the job's */
	for (i = 0; i < j->n_tasks && !code; i++)
		code = job_task_exit_code(&j->tasks[i]);
	if (!j->error) {
		for (i = 0; i < j->n_tasks; i++)
			if (j->tasks[i].error) {
				j->error = strdup(j->tasks[i].error);
				break;
			}
	}
	job_finish(j, j->cancelled && !code ? EXIT_CANCELLED : code);
}

void job_task_lost(struct sky_task *t, const char *why)
{
	struct sky_job *j = t->job;
	struct sky_pool *p = j->pool;
	int max = p->spec.max_attempts > 0 ? p->spec.max_attempts : 1;
	char msg[768], *err;

	if (!t->running)
		return;
	if (!why || !*why)
		why = "connection lost";
	/* a job being cancelled or stopped ends the way its stop says; the
	 * transport's own error would only read as a failure */
	if (j->cancelled || j->requeue) {
		job_task_ended(t, SIGTERM, NULL);
		return;
	}
	snprintf(msg, sizeof(msg), "%s lost: %s", t->node_name, why);
	if (!j->broadcast && j->attempts < max) {
		pool_event(p, "job %s: %s lost (%s); re-queued (attempt %d of %d)", j->name,
			   t->node_name, why, j->attempts + 1, max);
		/* job_task_ended releases the slot, then re-queues it */
		j->requeue = 1;
		job_task_ended(t, 0, NULL);
		return;
	}
	t->lost = 1;
	j->lost = 1;
	if (j->broadcast) {
		pool_event(p, "job %s: %s", j->name, msg);
	} else if (asprintf(&err, "lost after %d attempt%s: %s", j->attempts,
			    j->attempts == 1 ? "" : "s", why) >= 0) {
		pool_event(p, "job %s: %s lost (%s); lost after %d of %d attempts", j->name,
			   t->node_name, why, j->attempts, max);
		free(j->error);
		j->error = err;
	}
	job_task_ended(t, 0, msg);
}

void job_node_lost(struct sky_node *n, const char *why)
{
	struct sky_pool *p = n->pool;
	struct sky_qlink *l, *next;
	struct sky_task **gone;
	char msg[768], dir[PATH_MAX];
	size_t k = 0, i;

	if (!p->queue.len || !(gone = calloc(p->queue.len, sizeof(*gone))))
		return;
	/* collected first: ending a task may re-queue its job's other tasks */
	for (l = p->queue.head.next; l != &p->queue.head; l = next) {
		struct sky_task *t = sky_queue_entry(l, struct sky_task, qlink);

		next = l->next;
		if (t->pinned_rank != n->rank)
			continue;
		sky_queue_remove(&p->queue, l);
		gone[k++] = t;
	}
	snprintf(msg, sizeof(msg), "%s lost: %s", n->name, why);
	for (i = 0; i < k; i++) {
		struct sky_job *j = gone[i]->job;

		/* its node directory holds the task's stderr and exit */
		if (!store_job_path(j, n->name, dir, sizeof(dir)))
			mkdir(dir, 0755);
		gone[i]->lost = 1;
		j->lost = 1;
		pool_event(p, "job %s: %s", j->name, msg);
		job_task_ended(gone[i], 0, msg);
	}
	free(gone);
}

/* Ends a job whose tasks never started (cancel in the queue, bad payload). */
static void job_end_unstarted(struct sky_job *j, int code)
{
	free_tasks(j);
	if (sky_queue_linked(&j->bqlink))
		sky_queue_remove(&j->pool->pending_bcast, &j->bqlink);
	job_finish(j, code);
}

/* Cancels j; running tasks get SIGTERM and end through their transport. */
static void job_cancel_locked(struct sky_job *j, const char *why)
{
	int i, running = 0;

	if (!job_active(j))
		return;
	j->cancelled = 1;
	if (why && !j->error)
		j->error = strdup(why);
	for (i = 0; i < j->n_tasks; i++) {
		struct sky_task *t = &j->tasks[i];
		if (t->running) {
			sched_cancel_task(t);
			running++;
		} else if (!t->ended) {
			if (sky_queue_linked(&t->qlink))
				sky_queue_remove(&j->pool->queue, &t->qlink);
			t->ended = 1;
			j->tasks_ended++;
		}
	}
	if (!running)
		job_end_unstarted(j, EXIT_CANCELLED);
}

int job_running_tasks(const struct sky_pool *p)
{
	int i, n = 0;

	for (i = 0; i < p->n_nodes; i++)
		n += p->nodes[i]->running;
	return n;
}

struct stop_arg {
	enum sky_stop_reason why;
	const char *reason;
};

/* Puts a job whose tasks all stopped back in the queue. */
static void requeue_now(struct sky_job *j)
{
	j->requeue = 0;
	j->lost = 0;
	j->started = 0;
	job_set_state(j, JOB_QUEUED);
	job_enqueue(j);
	store_job_save(j);
}

static int stop_job_cb(const char *key, void *value, void *arg)
{
	struct sky_job *j = value;
	struct stop_arg *sa = arg;
	int i;

	(void)key;
	if (sa->why == STOP_REMOVE) {
		job_cancel_locked(j, "pool removed");
		return 0;
	}
	if (j->state == JOB_QUEUED && j->broadcast && j->n_tasks) {
		/* its tasks were bound to nodes that are going away */
		free_tasks(j);
		sky_queue_push(&j->pool->pending_bcast, &j->bqlink);
		return 0;
	}
	if (j->state != JOB_RUNNING)
		return 0;
	if (sa->why == STOP_EXPIRED) {
		job_cancel_locked(j, sa->reason);
		return 0;
	}
	/* unmount: the job runs again when the pool comes back */
	j->requeue = 1;
	for (i = 0; i < j->n_tasks; i++) {
		struct sky_task *t = &j->tasks[i];
		if (t->running) {
			sched_cancel_task(t);
		} else if (!t->ended) {
			if (sky_queue_linked(&t->qlink))
				sky_queue_remove(&j->pool->queue, &t->qlink);
			t->ended = 1;
			j->tasks_ended++;
		}
	}
	if (j->tasks_ended == j->n_tasks)
		requeue_now(j);
	return 0;
}

void job_pool_stopping(struct sky_pool *p, enum sky_stop_reason why)
{
	struct stop_arg sa = { why, p->error[0] ? p->error : "pool stopped" };

	sky_map_each(&p->jobs, stop_job_cb, &sa);
}

/* ---- public operations (sched.h) ------------------------------------------ */

struct sky_pool *job_pool_for_upload(const char *pool, int *rc)
{
	struct sky_pool *p = pool_get(pool);

	*rc = 0;
	if (!p)
		*rc = -ENOENT;
	else if (p->removing)
		*rc = -EBUSY;
	return p;
}

int sky_job_cancel(const char *pool, const char *job, int broadcast)
{
	struct sky_pool *p;
	struct sky_job *j;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	p = pool_get(pool);
	if (p && (long)sky_map_get(&p->staging, job) - 1 == broadcast) {
		/* an upload still open (rm racing cp, or cp interrupted): it is
		 * submitted here and ends cancelled, so that the writer's close
		 * does not start it (sky_job_submit answers that close with 0) */
		pthread_mutex_unlock(&g.lock);
		if ((rc = sky_job_submit(pool, job, broadcast)) && rc != -ENOENT)
			return rc;
		rc = 0;
		pthread_mutex_lock(&g.lock);
		p = pool_get(pool);
	}
	j = p ? sky_map_get(&p->jobs, job) : NULL;
	if (!j || j->broadcast != broadcast || !job_active(j)) {
		rc = -ENOENT;
		goto out;
	}
	pool_event(p, "job %s cancelled", job);
	job_cancel_locked(j, NULL);
out:
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static int list_jobs_cb(const char *key, void *value, void *arg)
{
	struct each_arg *ea = arg;
	struct sky_job *j = value;

	if (ea->broadcast >= 0 && (!job_active(j) || j->broadcast != ea->broadcast))
		return 0;
	return ea->fn(key, ea->arg);
}

static int list_staged_cb(const char *key, void *value, void *arg)
{
	struct each_arg *ea = arg;

	if ((long)value - 1 != ea->broadcast)
		return 0;
	return ea->fn(key, ea->arg);
}

/* Lists p's jobs per ea (and, for jobs/ and broadcast/, uploads too). */
int job_list(const char *pool, struct each_arg *ea)
{
	struct sky_pool *p;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	p = pool_get(pool);
	if (!p)
		rc = -ENOENT;
	else if (!sky_map_each(&p->jobs, list_jobs_cb, ea) && ea->broadcast >= 0)
		sky_map_each(&p->staging, list_staged_cb, ea);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_job_list(const char *pool, int broadcast, sky_name_fn fn, void *arg)
{
	struct each_arg ea = { fn, arg, broadcast };

	return job_list(pool, &ea);
}

int sky_job_lookup(const char *pool, const char *job, int broadcast, off_t *size)
{
	struct sky_pool *p;
	struct sky_job *j;
	void *staged;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	p = pool_get(pool);
	if (!p) {
		rc = -ENOENT;
		goto out;
	}
	j = sky_map_get(&p->jobs, job);
	staged = sky_map_get(&p->staging, job);
	if (j && job_active(j) && j->broadcast == broadcast)
		*size = j->size;
	else if (staged && (long)staged - 1 == broadcast)
		*size = 0;
	else
		rc = -ENOENT;
out:
	pthread_mutex_unlock(&g.lock);
	return rc;
}

