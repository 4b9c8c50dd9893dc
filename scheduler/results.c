/* The public face of results/: listing, status, exit, the blocking wait,
 * paths on disk and removal, and the output limit the transports enforce
 * (sky_output_limit, common/util.h). Every call looks the job up by name
 * under the lock, so nothing here holds a pointer across an unlock. */
#include "scheduler/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/names.h"

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

int sky_result_end_time(const char *pool, const char *job, double *ended)
{
	struct sky_job *j;
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	j = job_get(pool, job);
	if (!j || job_active(j))
		rc = -ENOENT;
	else
		*ended = j->ended;
	pthread_mutex_unlock(&g.lock);
	return rc;
}

/* The pool that path lies in: "<state>/pools/<pool>/..."; lock held. The
 * SSH transport asks with a path read back from /proc (symlinks resolved),
 * so the state directory's real path is tried too. */
static struct sky_pool *pool_of_path(const char *path)
{
	static char real[PATH_MAX];
	static int have_real;
	const char *bases[2] = { g.state_dir, NULL }, *rest, *slash;
	char name[SKY_NAME_MAX + 1];
	size_t i, n;

	if (!g.state_dir[0])
		return NULL;
	if (!have_real)
		have_real = realpath(g.state_dir, real) ? 1 : -1;
	if (have_real > 0)
		bases[1] = real;
	for (i = 0; i < SKY_ARRAY_SIZE(bases) && bases[i]; i++) {
		n = strlen(bases[i]);
		if (strncmp(path, bases[i], n) || strncmp(path + n, "/pools/", 7))
			continue;
		rest = path + n + 7;
		slash = strchr(rest, '/');
		if (!slash || (size_t)(slash - rest) >= sizeof(name))
			return NULL;
		memcpy(name, rest, (size_t)(slash - rest));
		name[slash - rest] = '\0';
		return pool_get(name);
	}
	return NULL;
}

long long sky_output_limit(const char *path)
{
	struct sky_pool *p;
	long long limit = 0;

	pthread_mutex_lock(&g.lock);
	p = pool_of_path(path);
	if (p && p->spec_text)
		limit = p->spec.max_output;
	pthread_mutex_unlock(&g.lock);
	return limit;
}
