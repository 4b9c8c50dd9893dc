/* Handlers for the top of the tree and a pool's own files: README, pools/,
 * pools/<p>/ with spec, status, events, cost, plan, timeline.svg and nodes/. */
#define LOG_MODULE "fs"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/tree.h"
#include "common/log.h"
#include "scheduler/sched.h"
#include "scheduler/config.h"
#include "scheduler/spec.h"

static const char readme_text[] =
	"skyfs: compute pools as directories.\n"
	"\n"
	"  mkdir pools/NAME                      create a pool\n"
	"  echo 'nodes = 2' > pools/NAME/spec    provision it (see status, events)\n"
	"  cp job.sh pools/NAME/jobs/            run a job on one node\n"
	"  cp job.sh pools/NAME/broadcast/       run it on every node\n"
	"  cat pools/NAME/results/job.sh/wait    wait for it; prints the exit code\n"
	"  cat pools/NAME/results/job.sh/stdout  its output (files/ holds $SKY_OUTPUT)\n"
	"  rm pools/NAME/jobs/job.sh             cancel it\n"
	"  rm -r pools/NAME/results/job.sh       forget a finished job\n"
	"  rmdir pools/NAME                      tear everything down\n"
	"\n"
	"  cp FILE templates/NAME                keep a spec; cp it to a pool's spec\n"
	"  cat status                            every pool on one line each\n"
	"  tail -f pools/NAME/done               finished jobs: EXIT STATE NAME\n"
	"  cat pools/NAME/plan                   the ranked offers, the one in use\n"
	"  cp pools/NAME/timeline.svg /tmp/      the pool's life as a picture (SVG)\n"
	"  cat catalog/accelerators catalog/offers  what can be asked for, and where\n"
	"  cat providers/*/status                each provider's state\n"
	"\n"
	"Spec keys: provider (a list), nodes, slots, accelerator (NAME[:COUNT]),\n"
	"allocation (spot-if-available, spot, on-demand, cheapest), region,\n"
	"max_price, vcpus, memory, dry_run, env.NAME, setup, lifetime,\n"
	"idle_timeout, budget, max_output; ssh: hosts, identity, known_hosts;\n"
	"slurm: partition, account, qos, time_limit; aws, container: image;\n"
	"[name] sections are alternatives for\n"
	"the hardware keys.\n"
	"See skyfs --help and the README of the project.\n";

/* ---- generated text files: snapshot at open ------------------------------- */

int fs_text_getattr(const struct vpath *vp, struct stat *st, render_fn render)
{
	struct sky_buf b = { 0 };
	int rc = render(vp->pool, vp->job, &b);

	if (!rc)
		fs_stat_file(st, 0444, (off_t)b.len);
	sky_buf_free(&b);
	return rc;
}

int fs_text_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh,
		     render_fn render)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fh->kind = FH_TEXT;
	fi->direct_io = 1;
	return render(vp->pool, vp->job, &fh->buf);
}

int fs_text_read(struct fh *fh, char *buf, size_t size, off_t off)
{
	return fs_read_buf(&fh->buf, buf, size, off);
}

static int render_readme(const char *pool, const char *name, struct sky_buf *out)
{
	(void)pool;
	(void)name;
	return sky_buf_append(out, readme_text, sizeof(readme_text) - 1);
}

static int render_status(const char *pool, const char *name, struct sky_buf *out)
{
	(void)name;
	return sky_pool_render_status(pool, out);
}

static int render_cost(const char *pool, const char *name, struct sky_buf *out)
{
	(void)name;
	return sky_pool_render_cost(pool, out);
}

static int render_overview(const char *pool, const char *name, struct sky_buf *out)
{
	(void)pool;
	(void)name;
	return sky_render_overview(out);
}

static int render_config(const char *pool, const char *name, struct sky_buf *out)
{
	(void)pool;
	(void)name;
	return sky_config_render(sky_sched_state_dir(), out);
}

FS_TEXT_FILE(readme, render_readme);
FS_TEXT_FILE(config, render_config);
FS_TEXT_FILE(overview, render_overview);
FS_TEXT_FILE(status, render_status);
FS_TEXT_FILE(cost, render_cost);
FS_TEXT_FILE(node, sky_pool_render_node);

static int render_plan(const char *pool, const char *name, struct sky_buf *out)
{
	(void)name;
	return sky_pool_render_plan(pool, out);
}

FS_TEXT_FILE(plan, render_plan);

static int render_timeline(const char *pool, const char *name, struct sky_buf *out)
{
	(void)name;
	return sky_pool_render_timeline(pool, out);
}

FS_TEXT_FILE(timeline, render_timeline);

/* ---- directories ------------------------------------------------------------ */


static int dir_getattr(const struct vpath *vp, struct stat *st)
{
	(void)vp;
	fs_stat_dir(st);
	return 0;
}


static int root_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	(void)vp;
	fs_fill(buf, fill, "README");
	fs_fill(buf, fill, "status");
	fs_fill(buf, fill, "config");
	fs_fill(buf, fill, "templates");
	fs_fill(buf, fill, "pools");
	fs_fill(buf, fill, "catalog");
	fs_fill(buf, fill, "providers");
	return 0;
}

const struct vnode_ops vn_root = { .name = "root", .getattr = dir_getattr,
				   .readdir = root_readdir };

static int pools_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	struct fs_fill_arg fa = { buf, fill };

	(void)vp;
	return sky_pool_list(fs_fill_cb, &fa);
}

const struct vnode_ops vn_pools = { .name = "pools", .getattr = dir_getattr,
				    .readdir = pools_readdir };

static int pool_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	static const char *const names[] = { "spec", "status", "events", "done", "cost",
					     "plan", "timeline.svg", "nodes", "jobs",
					     "broadcast", "results" };
	size_t i;

	(void)vp;
	for (i = 0; i < SKY_ARRAY_SIZE(names); i++)
		fs_fill(buf, fill, names[i]);
	return 0;
}

/* Pool names follow the job names' rule on a leading '.' (EINVAL): a
 * hidden pool would be missed by ls and by shell globs over pools/, while
 * its nodes run (and cost) on. The other rules are the scheduler's. */
static int pool_mkdir(const struct vpath *vp)
{
	if (vp->pool[0] == '.')
		return -EINVAL;
	return sky_pool_create(vp->pool);
}

static int pool_rmdir(const struct vpath *vp)
{
	return sky_pool_remove(vp->pool, fs_interrupted);
}

const struct vnode_ops vn_pool = { .name = "pool", .getattr = fs_pool_dir_getattr,
				   .readdir = pool_readdir, .mkdir = pool_mkdir,
				   .rmdir = pool_rmdir };

static int nodes_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	struct fs_fill_arg fa = { buf, fill };

	return sky_pool_list_nodes(vp->pool, fs_fill_cb, &fa);
}

const struct vnode_ops vn_nodes = { .name = "nodes", .getattr = fs_pool_dir_getattr,
				    .readdir = nodes_readdir };

/* ---- spec: edited in memory, validated and applied at flush ---------------- */

static int spec_getattr(const struct vpath *vp, struct stat *st)
{
	struct sky_buf b = { 0 };
	int rc = sky_pool_spec_get(vp->pool, &b);

	if (!rc)
		fs_stat_file(st, 0644, (off_t)b.len);
	sky_buf_free(&b);
	return rc;
}

static int spec_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	int rc;

	fh->kind = FH_SPEC;
	fi->direct_io = 1;
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		rc = sky_pool_spec_writable(vp->pool);
		if (rc)
			return rc;
		if (fi->flags & O_TRUNC) {
			fh->truncated = 1;   /* an empty spec is a spec too (at release) */
			return sky_buf_append(&fh->buf, "", 0);
		}
	}
	return sky_pool_spec_get(vp->pool, &fh->buf);
}

/* A spec past SKY_SPEC_MAX_BYTES is refused as a whole, like any invalid
 * spec: the pool turns invalid and its status and events say why, and
 * nothing written so far is applied at close (a spec cut at the limit
 * could well parse, and provision). */
static int spec_too_big(struct fh *fh)
{
	/* refused on its size alone: the bytes do not matter */
	char *big = malloc(SKY_SPEC_MAX_BYTES + 1);
	int rc;

	if (big) {
		memset(big, '\n', SKY_SPEC_MAX_BYTES + 1);
		rc = sky_pool_spec_set(fh->pool, big, SKY_SPEC_MAX_BYTES + 1);
		if (rc != -EFBIG)
			log_warn("pool %s: an oversized spec was answered %s", fh->pool,
				 strerror(-rc));
		free(big);
	}
	fh->written = 0;
	fh->done = 1;
	fh->err = -EFBIG;
	return -EFBIG;
}

static int spec_write(struct fh *fh, const char *buf, size_t size, off_t off)
{
	size_t end = (size_t)off + size;
	int rc;

	if (fh->err)
		return fh->err;   /* one failed write fails the spec */
	if (fh->done)
		return -EBUSY;    /* applied already: the pool is provisioning */
	if (off < 0 || end > SKY_SPEC_MAX_BYTES)
		return spec_too_big(fh);
	if (end > fh->buf.len) {
		size_t grow = end - fh->buf.len;
		char zeros[256] = { 0 };
		while (grow) {
			size_t k = grow < sizeof(zeros) ? grow : sizeof(zeros);
			if (sky_buf_append(&fh->buf, zeros, k))
				return -ENOMEM;
			grow -= k;
		}
	}
	memcpy(fh->buf.data + off, buf, size);
	fh->written = 1;
	/* Shells ignore errors from close, so a bad spec must fail the write:
	 * check what is complete so far (the whole spec is checked at close). */
	rc = sky_pool_spec_precheck(fh->pool, fh->buf.data, fh->buf.len);
	if (rc) {
		fh->written = 0;
		fh->done = 1;
		fh->err = rc;
		return rc;
	}
	return (int)size;
}

static int spec_apply(struct fh *fh)
{
	fh->written = 0;
	fh->done = 1;
	return sky_pool_spec_set(fh->pool, fh->buf.data ? fh->buf.data : "", fh->buf.len);
}

/* A shell closes a duplicate of the descriptor before writing: only a close
 * after a write applies; an untouched O_TRUNC open applies at release. */
static int spec_flush(struct fh *fh)
{
	return fh->written && !fh->done ? spec_apply(fh) : 0;
}

static void spec_release(struct fh *fh)
{
	if (!fh->done && (fh->written || fh->truncated))
		spec_apply(fh);
}

static int spec_truncate(const struct vpath *vp, struct fh *fh, off_t size)
{
	int rc;

	if (!fh) {
		/* truncate(2) by path: only to empty, as a full rewrite */
		rc = sky_pool_spec_writable(vp->pool);
		return rc ? rc : size ? -EINVAL : sky_pool_spec_set(vp->pool, "", 0);
	}
	if (fh->kind != FH_SPEC || fh->done || size < 0 || (size_t)size > fh->buf.len)
		return -EINVAL;
	fh->buf.len = (size_t)size;
	fh->written = 1;
	return 0;
}

const struct vnode_ops vn_spec = { .name = "spec", .getattr = spec_getattr,
				   .open = spec_open, .read = fs_text_read, .write = spec_write,
				   .flush = spec_flush, .release = spec_release,
				   .truncate = spec_truncate };

/* ---- events and done: append-only files on disk ----------------------------- */

static int log_getattr(const struct vpath *vp, const char *file, struct stat *st)
{
	char path[PATH_MAX];
	struct stat real;
	int rc = sky_pool_disk_path(vp->pool, file, path, sizeof(path));

	if (rc)
		return rc;
	fs_stat_file(st, 0444, stat(path, &real) ? 0 : real.st_size);
	return 0;
}

/* direct_io: a reader following the file (tail -f) sees what was appended
 * since it last looked, never a cached end. */
static int log_open(const struct vpath *vp, const char *file, struct fuse_file_info *fi,
		    struct fh *fh)
{
	char path[PATH_MAX];
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	rc = sky_pool_disk_path(vp->pool, file, path, sizeof(path));
	if (rc)
		return rc;
	fh->kind = FH_DISK;
	/* made when first read, so that a follower opened before the first
	 * line reads what comes later from the same file */
	fh->fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	fi->direct_io = 1;
	return fh->fd < 0 && errno != ENOENT ? -errno : 0;
}

#define FS_LOG_FILE(id)                                                            \
	static int id##_getattr(const struct vpath *vp, struct stat *st)           \
	{ return log_getattr(vp, #id, st); }                                       \
	static int id##_open(const struct vpath *vp, struct fuse_file_info *fi,    \
			     struct fh *fh)                                        \
	{ return log_open(vp, #id, fi, fh); }                                      \
	const struct vnode_ops vn_##id = { .name = #id, .getattr = id##_getattr,   \
					   .open = id##_open, .read = fs_disk_read }

int fs_disk_read(struct fh *fh, char *buf, size_t size, off_t off)
{
	ssize_t r;

	if (fh->fd < 0)
		return 0;
	r = pread(fh->fd, buf, size, off);
	return r < 0 ? -errno : (int)r;
}

FS_LOG_FILE(events);
FS_LOG_FILE(done);
