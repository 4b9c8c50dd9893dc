/* The on-disk layout of the state directory, and loading it back:
 *
 *   STATE/lock                    flock'd by the mount that owns it
 *   STATE/skyfs.log
 *   STATE/pools/<pool>/spec       last accepted spec
 *   STATE/pools/<pool>/events     append-only event log; its first line's
 *                                  time is the pool's created time
 *   STATE/pools/<pool>/spans      append-only node history (timeline.c)
 *   STATE/pools/<pool>/nodes/     local provider node directories
 *   STATE/pools/<pool>/results/<job>/   (written from the upload on; shown
 *                                  once submitted)
 *        .job                     metadata records, appended per transition
 *        payload, stdout, stderr, files/, <node>/{stdout,stderr,exit,files}
 *   The top-level exit code lives in .job and is rendered by the tree.
 *
 * Job metadata is "key=value" lines so that a human can read it in a pinch. */
#define LOG_MODULE "store"
#include "scheduler/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/names.h"
#include "scheduler/journal.h"

int store_pool_path(const struct sky_pool *p, const char *rel, char *out, size_t len)
{
	int n = snprintf(out, len, "%s%s%s", p->dir, rel && *rel ? "/" : "", rel ? rel : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int store_job_path(const struct sky_job *j, const char *rel, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/results/%s%s%s", j->pool->dir, j->name,
			 rel && *rel ? "/" : "", rel ? rel : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int store_write_exit(const char *dir, int code)
{
	char path[PATH_MAX], line[32];
	int n = snprintf(line, sizeof(line), "%d\n", code);

	if (snprintf(path, sizeof(path), "%s/exit", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return sky_write_file_atomic(path, line, (size_t)n, 0);
}

void store_job_outputs(const char *dir)
{
	static const char *const files[] = { "stdout", "stderr" };
	char path[PATH_MAX + 16];
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	}
	snprintf(path, sizeof(path), "%s/files", dir);
	mkdir(path, 0755);
}

/* Job metadata is an append-only file of records, each a block of
 * "key=value" lines closed by "end": one open and one write per
 * transition (no temporary file and rename on the hot path), and a record
 * cut short by a crash has no "end" and is ignored when loading. */
int store_job_save(const struct sky_job *j)
{
	struct sky_buf b = { 0 };
	char path[PATH_MAX];
	int rc, i;

	sky_buf_printf(&b, "broadcast=%d\nstate=%s\nkind=%d\nattempts=%d\n"
		       "submitted=%.3f\nstarted=%.3f\nended=%.3f\nexit=%d\nsize=%lld\nsealed=%d\n",
		       j->broadcast, job_state_name(j->state), (int)j->kind, j->attempts,
		       j->submitted, j->started, j->ended, j->exit_code, (long long)j->size,
		       j->sealed);
	if (j->error) {
		size_t at = b.len + 6;
		sky_buf_printf(&b, "error=%s\n", j->error);
		for (; b.data && at < b.len - 1; at++)
			if (b.data[at] == '\n')
				b.data[at] = ' ';
	}
	/* a job loaded back and saved again keeps where it ran */
	for (i = 0; i < (j->n_tasks ? j->n_tasks : j->n_past); i++) {
		const struct sky_task *t = j->n_tasks ? &j->tasks[i] : &j->past[i];
		sky_buf_printf(&b, "task=%s %d %.3f %.3f %d %d %d\n",
			       t->node_name[0] ? t->node_name : "-", t->slot, t->started, t->ended_at,
			       t->ended, t->status, t->lost);
	}
	sky_buf_printf(&b, "end\n");
	if (!b.data)
		return -ENOMEM;
	rc = store_job_path(j, ".job", path, sizeof(path));
	if (!rc)
		rc = sky_append(path, b.data, b.len);
	if (rc)
		log_warn("pool %s job %s: cannot save metadata: %s", j->pool->name, j->name,
			 strerror(-rc));
	sky_buf_free(&b);
	return rc;
}

static enum sky_job_state parse_state(const char *s)
{
	int i;

	for (i = JOB_QUEUED; i <= JOB_LOST; i++)
		if (!strcmp(job_state_name(i), s))
			return i;
	return JOB_LOST;
}

/* One "task=" line of a record into j->past: where the job ran, for the
 * timeline. Records before this field had no lost flag (0). */
static void add_past(struct sky_job *j, const char *val)
{
	struct sky_task t = { 0 }, *grown;

	if (sscanf(val, "%31s %d %lf %lf %d %d %d", t.node_name, &t.slot, &t.started,
		   &t.ended_at, &t.ended, &t.status, &t.lost) < 6 ||
	    !strcmp(t.node_name, "-") || t.slot < 0 || !(t.started > 0) || !t.ended ||
	    t.ended_at < t.started || sky_name_check(t.node_name))
		return;
	if (!(grown = realloc(j->past, (size_t)(j->n_past + 1) * sizeof(*grown))))
		return;
	j->past = grown;
	j->past[j->n_past++] = t;
}

/* Applies one record: the NUL-separated lines from rec up to end. */
static void apply_record(struct sky_job *j, char *rec, const char *end)
{
	char *line;

	j->n_past = 0;      /* the record lists every task again */
	for (line = rec; line < end; line += strlen(line) + 1) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(line, "broadcast"))
			j->broadcast = atoi(eq);
		else if (!strcmp(line, "state"))
			j->state = parse_state(eq);
		else if (!strcmp(line, "kind"))
			j->kind = (enum sky_payload_kind)atoi(eq);
		else if (!strcmp(line, "attempts"))
			j->attempts = atoi(eq);
		else if (!strcmp(line, "submitted"))
			j->submitted = atof(eq);
		else if (!strcmp(line, "started"))
			j->started = atof(eq);
		else if (!strcmp(line, "ended"))
			j->ended = atof(eq);
		else if (!strcmp(line, "exit"))
			j->exit_code = atoi(eq);
		else if (!strcmp(line, "size"))
			j->size = atoll(eq);
		else if (!strcmp(line, "sealed"))
			j->sealed = atoi(eq);
		else if (!strcmp(line, "error")) {
			free(j->error);
			j->error = strdup(eq);
		} else if (!strcmp(line, "task"))
			add_past(j, eq);
	}
}

/* Loaded tasks keep their results for status; nodes are gone, so the node
 * name lives on in the per-task record only through its directory. */
static void load_job(struct sky_pool *p, const char *name, const struct sky_map *started)
{
	struct sky_job *j = calloc(1, sizeof(*j));
	char path[PATH_MAX], *text = NULL, *line, *save = NULL, *rec;
	int rc;

	if (!j)
		return;
	j->pool = p;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->exit_code = -1;
	rc = store_job_path(j, ".job", path, sizeof(path));
	if (!rc)
		rc = sky_read_file(path, &text, NULL, 1 << 20);
	if (rc) {
		j->state = JOB_LOST;
		j->error = strdup(rc == -ENOENT ? "upload interrupted by a daemon stop"
				  : "metadata unreadable after restart");
		/* a stop between the upload's mkdir and its first files left an
		 * empty directory: the result reads like any lost job's */
		if (!store_job_path(j, NULL, path, sizeof(path)))
			store_job_outputs(path);
		goto add;
	}
	/* apply complete records only; the last complete one wins */
	rec = text;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "end"))
			continue;
		apply_record(j, rec, line);
		rec = line + 4;
	}
	free(text);
	if (j->state == JOB_QUEUED && !j->sealed) {
		j->state = JOB_LOST;
		j->error = j->error ? j->error : strdup("upload interrupted by a daemon stop");
		goto add;
	}
	/* a job cut short by the last stop runs again once the pool is back,
	 * that start counting as an attempt */
	if (j->state == JOB_QUEUED && sky_map_get(started, j->name)) {
		int attempt = (int)(intptr_t)sky_map_get(started, j->name);
		int max = p->spec_text && p->spec.max_attempts > 0 ? p->spec.max_attempts : 3;

		if (attempt > j->attempts)
			j->attempts = attempt;
		/* kept in .job: the new journal starts empty */
		store_job_save(j);
		if (j->attempts >= max && !j->broadcast) {
			j->state = JOB_LOST;
			j->exit_code = EXIT_LOST;
			j->ended = sky_now();
			free(j->error);
			if (asprintf(&j->error, "lost after %d attempts: the daemon stopped while "
				     "it ran", j->attempts) < 0)
				j->error = NULL;
			store_job_save(j);
		}
	}
	if (j->state == JOB_RUNNING) {
		j->state = JOB_QUEUED;
		j->started = 0;
	}
add:
	if (sky_map_put(&p->jobs, j->name, j)) {
		job_free(j);
		return;
	}
	p->counts[j->state]++;
	if (j->state == JOB_QUEUED)
		job_enqueue(j);
}

/* The attempt of each job the dead daemon had started (its journal's
 * dispatch records; .job is not written at dispatch). */
static void note_attempt(const char *name, int attempt, void *arg)
{
	if (sky_map_get(arg, name))
		sky_map_del(arg, name);
	sky_map_put(arg, name, (void *)(intptr_t)attempt);
}

/* A journal without its "stopped" record: the pool was live when the last
 * daemon died. Kept for its worker (recover.c). */
static void load_journal(struct sky_pool *p)
{
	struct journal_replay *r = calloc(1, sizeof(*r));

	if (r && !journal_replay(p->dir, r) && (r->live || r->removing)) {
		/* an rmdir the crash cut short is finished: released first if
		 * needed, then removed (the dispatcher reaps it) */
		p->remove_pending = r->removing;
		if (r->live) {
			p->replay = r;
			return;
		}
	}
	if (r)
		journal_replay_free(r);
	free(r);
}

/* The pool's created time: its first event, "pool created". */
static void load_created(struct sky_pool *p)
{
	char path[PATH_MAX], line[64];
	FILE *f;
	double t;

	if (store_pool_path(p, "events", path, sizeof(path)) || !(f = fopen(path, "re")))
		return;
	if (fgets(line, sizeof(line), f) && (t = sky_parse_time(line)) > 0)
		p->created = t;
	fclose(f);
}

static void load_pool(const char *name)
{
	struct sky_map started;
	struct sky_pool *p;
	char path[PATH_MAX], err[512];
	DIR *d;
	struct dirent *de;
	size_t len;

	if (sky_name_check(name))
		return;
	p = pool_new(name);
	if (!p)
		return;
	if (sky_map_put(&g.pools, p->name, p)) {
		pool_free(p);
		return;
	}
	store_pool_path(p, "spec", path, sizeof(path));
	if (!sky_read_file(path, &p->spec_text, &len, SKY_SPEC_MAX_BYTES)) {
		if (sky_spec_parse(p->spec_text, len, &p->spec, err, sizeof(err))) {
			snprintf(p->error, sizeof(p->error), "error: %s", err);
			p->state = POOL_INVALID;
		} else {
			p->state = POOL_STOPPED;
		}
	}
	load_journal(p);
	load_created(p);
	timeline_load(p);
	/* local job processes of a crashed daemon still run there: the
	 * recovery kills them (by their working directory) before it goes */
	if (!p->replay) {
		store_pool_path(p, "nodes", path, sizeof(path));
		sky_rm_rf(path);
	}
	sky_map_init(&started);
	if (p->replay)
		journal_dispatches(p->dir, note_attempt, &started);
	store_pool_path(p, "results", path, sizeof(path));
	d = opendir(path);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && !sky_name_check(de->d_name))
			load_job(p, de->d_name, &started);
	if (d)
		closedir(d);
	sky_map_free(&started);
	pool_event(p, "loaded from the state directory: %s, %zu results",
		   pool_state_name(p->state), p->jobs.len);
}

int store_load_pools(void)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	/* pools a crash caught between rmdir's rename and its delete */
	snprintf(path, sizeof(path), "%s/trash", g.state_dir);
	sky_rm_rf(path);
	snprintf(path, sizeof(path), "%s/pools", g.state_dir);
	if (sky_mkdir_p(path, 0700))
		return -errno;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
			load_pool(de->d_name);
	closedir(d);
	return 0;
}
