/* The public face of results/: listing, status, exit, the blocking wait,
 * paths on disk and removal. Every call looks the job up by name under the
 * lock, so nothing here holds a pointer across an unlock. */
#include "scheduler/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int sky_result_list(const char *pool, sky_name_fn fn, void *arg)
{
	struct each_arg ea = { fn, arg, -1 };

	return job_list(pool, &ea);
}

static struct sky_job *job_get(const char *pool, const char *job)
{
	struct sky_pool *p = pool_get(pool);

	return p ? sky_map_get(&p->jobs, job) : NULL;
}

int sky_result_lookup(const char *pool, const char *job, int *broadcast)
{
	struct sky_job *j;

	pthread_mutex_lock(&g.lock);
	j = job_get(pool, job);
	if (j && broadcast)
		*broadcast = j->broadcast;
	pthread_mutex_unlock(&g.lock);
	return j ? 0 : -ENOENT;
}

/* The task of broadcast job j on the node called node. */
static struct sky_task *task_on(struct sky_job *j, const char *node)
{
	int i;

	for (i = 0; i < j->n_tasks; i++)
		if (!strcmp(j->tasks[i].node_name, node))
			return &j->tasks[i];
	return NULL;
}

int sky_result_render_status(const char *pool, const char *job, const char *node,
			     struct sky_buf *out)
{
	struct sky_job *j;
	struct sky_task *t = NULL;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	j = job_get(pool, job);
	if (!j || (node && !(t = task_on(j, node))))
		rc = -ENOENT;
	else
		rc = render_job_status(j, t, out);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_result_wait(const char *pool, const char *job, const char *node,
		    sky_interrupted_fn interrupted, int *exit_code)
{
	struct sky_job *j;
	struct sky_task *t;
	int rc;

	pthread_mutex_lock(&g.lock);
	for (;;) {
		j = job_get(pool, job);
		t = NULL;
		if (!j || (node && !(t = task_on(j, node)))) {
			rc = -ENOENT;
			break;
		}
		if (t ? t->ended : !job_active(j)) {
			*exit_code = t ? job_task_exit_code(t) : j->exit_code;
			rc = 0;
			break;
		}
		if (interrupted && interrupted()) {
			rc = -EINTR;
			break;
		}
		sched_cond_wait(&g.changed, 0.1);
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_result_ended(const char *pool, const char *job, const char *node)
{
	struct sky_job *j;
	struct sky_task *t;
	int ended = 0;

	pthread_mutex_lock(&g.lock);
	j = job_get(pool, job);
	if (j && node)
		ended = (t = task_on(j, node)) && t->ended;
	else if (j)
		ended = !job_active(j);
	pthread_mutex_unlock(&g.lock);
	return ended;
}

int sky_result_disk_path(const char *pool, const char *job, const char *rel,
			 char *out, size_t len)
{
	struct sky_job *j;
	int rc;

	pthread_mutex_lock(&g.lock);
	j = job_get(pool, job);
	rc = j ? store_job_path(j, rel, out, len) : -ENOENT;
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_result_remove(const char *pool, const char *job)
{
	struct sky_pool *p;
	struct sky_job *j;
	char dir[PATH_MAX];
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	p = pool_get(pool);
	j = p ? sky_map_get(&p->jobs, job) : NULL;
	if (!j) {
		rc = -ENOENT;
		goto out;
	}
	if (job_active(j)) {
		rc = -EBUSY;
		goto out;
	}
	store_job_path(j, NULL, dir, sizeof(dir));
	sky_map_del(&p->jobs, job);
	p->counts[j->state]--;
	job_free(j);
	rc = sky_rm_rf(dir);
	pthread_cond_broadcast(&g.changed);
out:
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int sky_result_render_exit(const char *pool, const char *job, struct sky_buf *out)
{
	struct sky_job *j;
	int rc;

	pthread_mutex_lock(&g.lock);
	j = job_get(pool, job);
	if (!j || job_active(j))
		rc = -ENOENT;
	else
		rc = sky_buf_printf(out, "%d\n", j->exit_code);
	pthread_mutex_unlock(&g.lock);
	return rc;
}
