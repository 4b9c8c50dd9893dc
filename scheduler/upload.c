/* Uploads: a file created in jobs/ or broadcast/ is written in place into
 * its result directory, which stays invisible until the first close after
 * a write submits it (the job is queued), and the last close seals it (its
 * kind is detected and it may be dispatched). */
#define LOG_MODULE "job"
#include "scheduler/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "scheduler/journal.h"
#include "common/names.h"

static int staged_dir(struct sky_pool *p, const char *job, char *out, size_t len)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "results/%s", job);
	return store_pool_path(p, rel, out, len);
}

static int open_payload(const char *dir, int *fd)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/payload", dir);
	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return *fd < 0 ? -errno : 0;
}

int sky_job_stage(const char *pool, const char *job, int broadcast, int *fd)
{
	struct sky_pool *p;
	char path[PATH_MAX];
	int rc;

	if ((rc = sky_name_check(job)))
		return rc == -ENAMETOOLONG ? rc : -EINVAL;
	/* editors' swap and backup files (.x.swp) must never become jobs */
	if (job[0] == '.')
		return -EINVAL;
	pthread_mutex_lock(&g.lock);
	p = job_pool_for_upload(pool, &rc);
	if (rc)
		goto out;
	if (sky_map_get(&p->jobs, job) || sky_map_get(&p->staging, job)) {
		rc = -EEXIST;
		goto out;
	}
	/* The upload goes straight to its result directory, which stays
	 * invisible (not in p->jobs) until submission: no copy, no rename. */
	if ((rc = staged_dir(p, job, path, sizeof(path))))
		goto out;
	if (mkdir(path, 0755) && errno == EEXIST) {
		sky_rm_rf(path);   /* a leftover of an upload that never finished */
		rc = mkdir(path, 0755) ? -errno : 0;
	}
	if (rc || (rc = open_payload(path, fd)))
		goto out;
	/* so that starting it creates nothing: file creation is the slow part
	 * of a start on most filesystems, and a waiting slot should not pay
	 * for it; a broadcast's per-node directories are made per node */
	if (!broadcast)
		store_job_outputs(path);
	rc = sky_map_put(&p->staging, job, (void *)(long)(broadcast + 1));
	if (rc) {
		close(*fd);
		sky_rm_rf(path);
	}
out:
	pthread_mutex_unlock(&g.lock);
	return rc;
}

void sky_job_unstage(const char *pool, const char *job)
{
	struct sky_pool *p;
	char path[PATH_MAX];

	pthread_mutex_lock(&g.lock);
	p = pool_get(pool);
	if (p && sky_map_del(&p->staging, job) && !staged_dir(p, job, path, sizeof(path)))
		sky_rm_rf(path);
	pthread_mutex_unlock(&g.lock);
}

int sky_job_submit(const char *pool, const char *job, int broadcast)
{
	struct sky_pool *p;
	struct sky_job *j = NULL;
	int rc;

	pthread_mutex_lock(&g.lock);
	p = pool_get(pool);
	if (p && !sky_map_get(&p->staging, job) && (j = sky_map_get(&p->jobs, job)) &&
	    !j->sealed && j->broadcast == broadcast) {
		/* submitted already, by an unlink that cancelled the open upload
		 * (sky_job_cancel): the writer's close is not an error */
		j = NULL;
		rc = 0;
		goto out;
	}
	j = NULL;
	if (!p || !sky_map_get(&p->staging, job)) {
		rc = -ENOENT;
		goto out;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		rc = -ENOMEM;
		goto out;
	}
	j->pool = p;
	snprintf(j->name, sizeof(j->name), "%s", job);
	j->broadcast = broadcast;
	j->exit_code = -1;
	j->submitted = sky_now();
	j->state = JOB_QUEUED;
	/* the payload is in place already (sky_job_stage): only make it visible */
	if ((rc = sky_map_put(&p->jobs, j->name, j)))
		goto out;
	sky_map_del(&p->staging, job);
	p->counts[JOB_QUEUED]++;
	p->last_activity = sky_mono();
	/* the first record says "not sealed": seen after a crash, it means the
	 * upload was cut short */
	store_job_save(j);
	pthread_cond_broadcast(&g.changed);
	j = NULL;
out:
	pthread_mutex_unlock(&g.lock);
	free(j);
	return rc;
}

int sky_job_seal(const char *pool, const char *job, int broadcast)
{
	struct sky_pool *p;
	struct sky_job *j;
	enum sky_payload_kind kind = SKY_PAYLOAD_SCRIPT;
	char payload[PATH_MAX], why[512];
	struct stat st;
	int rc, bad;

	pthread_mutex_lock(&g.lock);
	p = pool_get(pool);
	if (p && sky_map_get(&p->staging, job)) {
		pthread_mutex_unlock(&g.lock);
		if ((rc = sky_job_submit(pool, job, broadcast)))
			return rc;
		pthread_mutex_lock(&g.lock);
		p = pool_get(pool);
	}
	j = p ? sky_map_get(&p->jobs, job) : NULL;
	if (!j || j->sealed || j->broadcast != broadcast) {
		pthread_mutex_unlock(&g.lock);
		return j ? 0 : -ENOENT;
	}
	j->sealed = 1;    /* from here nobody else seals or frees it but us... */
	store_job_path(j, "payload", payload, sizeof(payload));
	pthread_mutex_unlock(&g.lock);

	/* ...so detection, which reads the payload, runs without the lock */
	why[0] = '\0';
	bad = sky_payload_detect(payload, &kind, why, sizeof(why));
	if (!bad && kind == SKY_PAYLOAD_SHEBANG)
		chmod(payload, 0755);

	pthread_mutex_lock(&g.lock);
	p = pool_get(pool);
	j = p ? sky_map_get(&p->jobs, job) : NULL;
	if (!j || j->state != JOB_QUEUED) {
		/* cancelled or removed during the upload */
		rc = 0;
		goto out;
	}
	j->kind = kind;
	if (!stat(payload, &st))
		j->size = st.st_size;
	if (bad) {
		j->error = strdup(why[0] ? why : strerror(-bad));
		job_note_stderr(j, NULL, j->error);
		pool_event(p, "job %s refused: %s", j->name, j->error);
		job_finish(j, EXIT_NOT_RUN);
		rc = 0;
		goto out;
	}
	store_job_save(j);
	journal_write(p, 0, "submit %s %lld", j->name, (long long)j->size);
	rc = job_enqueue(j);
	/* start it from here rather than waking the dispatcher: one hand-off
	 * less on the way from close to a running job */
	if (!rc)
		sched_dispatch_pool(p);
out:
	pthread_mutex_unlock(&g.lock);
	return rc;
}
