/* Handlers for jobs/ and broadcast/ (create = submit at close, unlink =
 * cancel) and results/ (status and wait generated, everything else read
 * from the job's directory on disk, resolved beneath it without following
 * symlinks so that nothing a job writes can point outside). */
#define LOG_MODULE "fs"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/tree.h"
#include "common/log.h"
#include "scheduler/sched.h"

/* ---- jobs/ and broadcast/ -------------------------------------------------- */



static int jobs_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	struct fs_fill_arg fa = { buf, fill };

	return sky_job_list(vp->pool, vp->broadcast, fs_fill_cb, &fa);
}

/* Not ".create": a file cannot be made in jobs/ by mkdir. */
const struct vnode_ops vn_jobs = { .name = "jobs", .getattr = fs_pool_dir_getattr,
				   .readdir = jobs_readdir };

static int job_getattr(const struct vpath *vp, struct stat *st)
{
	off_t size = 0;
	int rc = sky_job_lookup(vp->pool, vp->job, vp->broadcast, &size);

	if (!rc)
		fs_stat_file(st, 0644, size);
	return rc;
}

static int job_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	char path[PATH_MAX];
	off_t size;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EEXIST;   /* the name is taken by a queued or running job */
	if ((rc = sky_job_lookup(vp->pool, vp->job, vp->broadcast, &size)))
		return rc;
	fh->kind = FH_DISK;
	if (!sky_result_disk_path(vp->pool, vp->job, "payload", path, sizeof(path)))
		fh->fd = open(path, O_RDONLY | O_CLOEXEC);
	return 0;
}

static int job_create(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	int rc = sky_job_stage(vp->pool, vp->job, vp->broadcast, &fh->fd);

	if (rc)
		return rc;
	fh->kind = FH_JOB;
	fh->append = !!(fi->flags & O_APPEND);
	fi->direct_io = 1;
	return 0;
}

static int job_write(struct fh *fh, const char *buf, size_t size, off_t off)
{
	struct stat st;
	ssize_t w;

	if (fh->kind != FH_JOB)
		return -EBADF;
	/* O_APPEND: the kernel's offset is its idea of the file's size, which
	 * a getattr during the upload resets (an upload's size shows as 0);
	 * the staged file knows where its end is */
	if (fh->append) {
		if (fstat(fh->fd, &st))
			return -errno;
		off = st.st_size;
	}
	w = pwrite(fh->fd, buf, size, off);
	if (w < 0)
		return -errno;
	fh->written = 1;
	return (int)w;
}

/* The first close after a write submits (results appear); the last close
 * seals. A shell closes a duplicate of the descriptor before writing, which
 * must not submit an empty job: hence "after a write". */
static int job_flush(struct fh *fh)
{
	int rc;

	if (fh->kind != FH_JOB || !fh->written || fh->done)
		return 0;
	rc = sky_job_submit(fh->pool, fh->job, fh->broadcast);
	if (!rc)
		fh->done = 1;   /* submitted */
	return rc;
}

static void job_release(struct fh *fh)
{
	int rc;

	if (fh->kind != FH_JOB)
		return;
	/* closed before sealing: exec of a file open for writing is ETXTBSY */
	close(fh->fd);
	fh->fd = -1;
	rc = sky_job_seal(fh->pool, fh->job, fh->broadcast);
	if (rc && rc != -ENOENT)
		log_warn("pool %s: job %s could not be submitted: %s", fh->pool, fh->job,
			 strerror(-rc));
	if (rc && !fh->done)
		sky_job_unstage(fh->pool, fh->job);
}

static int job_truncate(const struct vpath *vp, struct fh *fh, off_t size)
{
	(void)vp;
	if (!fh || fh->kind != FH_JOB)
		return -EACCES;
	return ftruncate(fh->fd, size) ? -errno : 0;
}

static int job_unlink(const struct vpath *vp)
{
	return sky_job_cancel(vp->pool, vp->job, vp->broadcast);
}

const struct vnode_ops vn_job = { .name = "job", .getattr = job_getattr, .open = job_open,
				  .create = job_create, .read = fs_disk_read,
				  .write = job_write, .flush = job_flush,
				  .release = job_release, .truncate = job_truncate,
				  .unlink = job_unlink };

/* ---- results/ --------------------------------------------------------------- */

static int results_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	struct fs_fill_arg fa = { buf, fill };

	return sky_result_list(vp->pool, fs_fill_cb, &fa);
}

const struct vnode_ops vn_results = { .name = "results", .getattr = fs_pool_dir_getattr,
				      .readdir = results_readdir };

/* Our own bookkeeping at the top of a result directory, never shown; below
 * it (files/, node directories) everything the job wrote is shown. */
static int hidden(const char *name)
{
	size_t n = strcspn(name, "/");

	return name[0] == '.' || (n == 7 && !strncmp(name, "payload", 7)) ||
	       memmem(name, n, ".tmp.", 5);
}

static int result_getattr(const struct vpath *vp, struct stat *st)
{
	int rc = sky_result_lookup(vp->pool, vp->job, NULL);

	if (!rc)
		fs_stat_dir(st);
	return rc;
}

static int list_disk(const char *dir, void *buf, fuse_fill_dir_t fill)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (hidden(de->d_name) || (de->d_type != DT_REG && de->d_type != DT_DIR))
			continue;
		fs_fill(buf, fill, de->d_name);
	}
	closedir(d);
	return 0;
}

static int result_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	char dir[PATH_MAX];
	int rc = sky_result_disk_path(vp->pool, vp->job, NULL, dir, sizeof(dir));

	if (rc)
		return rc;
	fs_fill(buf, fill, "status");
	fs_fill(buf, fill, "wait");
	if (sky_result_ended(vp->pool, vp->job, NULL))
		fs_fill(buf, fill, "exit");
	return list_disk(dir, buf, fill);
}

static int result_rmdir(const struct vpath *vp)
{
	return sky_result_remove(vp->pool, vp->job);
}

/* rm -r removes what is inside before the directory itself: say yes for a
 * finished job (the rmdir of results/<job> removes it all), no while the
 * job lives. */
static int result_inner_remove(const struct vpath *vp)
{
	int bc;

	if (sky_result_lookup(vp->pool, vp->job, &bc))
		return -ENOENT;
	return sky_result_ended(vp->pool, vp->job, NULL) ? 0 : -EBUSY;
}

const struct vnode_ops vn_result = { .name = "result", .getattr = result_getattr,
				     .readdir = result_readdir, .rmdir = result_rmdir };

static int render_job_status(const char *pool, const char *job, struct sky_buf *out)
{
	return sky_result_render_status(pool, job, NULL, out);
}

static int rstatus_getattr(const struct vpath *vp, struct stat *st)
{
	return fs_text_getattr(vp, st, render_job_status);
}

static int rstatus_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	return fs_text_open(vp, fi, fh, render_job_status);
}

const struct vnode_ops vn_result_status = { .name = "result-status",
					    .getattr = rstatus_getattr, .open = rstatus_open,
					    .read = fs_text_read,
					    .unlink = result_inner_remove };

static int rexit_getattr(const struct vpath *vp, struct stat *st)
{
	double ended = 0;
	int rc = fs_text_getattr(vp, st, sky_result_render_exit);

	if (!rc && !sky_result_end_time(vp->pool, vp->job, &ended)) {
		st->st_mtim.tv_sec = (time_t)ended;
		st->st_mtim.tv_nsec = (long)((ended - (double)(time_t)ended) * 1e9);
		st->st_ctim = st->st_mtim;
	}
	return rc;
}

static int rexit_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	return fs_text_open(vp, fi, fh, sky_result_render_exit);
}

/* Present only once the job ended: rendered from the state that the job's
 * last metadata record holds, so it can never be seen half-written. */
const struct vnode_ops vn_result_exit = { .name = "result-exit", .getattr = rexit_getattr,
					  .open = rexit_open, .read = fs_text_read,
					  .unlink = result_inner_remove };

static int wait_getattr(const struct vpath *vp, struct stat *st)
{
	int rc = sky_result_lookup(vp->pool, vp->job, NULL);

	if (!rc)
		fs_stat_file(st, 0444, 0);
	return rc;
}

static int wait_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fh->kind = FH_WAIT;
	fi->direct_io = 1;
	return sky_result_lookup(vp->pool, vp->job, NULL);
}

static int wait_read(struct fh *fh, char *buf, size_t size, off_t off)
{
	int code, rc;

	if (!fh->done) {
		/* blocks in bounded steps; an interrupt ends it with EINTR */
		rc = sky_result_wait(fh->pool, fh->job, NULL, fs_interrupted, &code);
		if (rc)
			return rc;
		if ((rc = sky_buf_printf(&fh->buf, "%d\n", code)))
			return rc;
		fh->done = 1;
	}
	return fs_read_buf(&fh->buf, buf, size, off);
}

const struct vnode_ops vn_result_wait = { .name = "result-wait", .getattr = wait_getattr,
					  .open = wait_open, .read = wait_read,
					  .unlink = result_inner_remove };

/* ---- everything else in a result: files on disk ------------------------------ */

/* Opens rest beneath the job's result directory: no "..", no symlinks. */
static int open_beneath(const struct vpath *vp, int flags)
{
	struct open_how how = { .flags = (unsigned long long)flags | O_CLOEXEC | O_NOFOLLOW,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					   RESOLVE_NO_MAGICLINKS };
	char dir[PATH_MAX];
	int dfd, fd, err;

	if (hidden(vp->rest))
		return -ENOENT;
	if (sky_result_disk_path(vp->pool, vp->job, NULL, dir, sizeof(dir)))
		return -ENOENT;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dfd, vp->rest, &how, sizeof(how));
	err = errno;
	close(dfd);
	if (fd < 0)
		return err == ELOOP || err == EXDEV ? -ENOENT : -err;
	return fd;
}

static int disk_getattr(const struct vpath *vp, struct stat *st)
{
	int fd = open_beneath(vp, O_PATH);
	struct stat real;
	int rc = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &real))
		rc = -errno;
	else if (S_ISDIR(real.st_mode))
		fs_stat_dir(st);
	else if (S_ISREG(real.st_mode))
		fs_stat_file(st, real.st_mode & 0111 ? 0555 : 0444, real.st_size);
	else
		rc = -ENOENT;
	if (!rc) {
		st->st_mtim = real.st_mtim;
		st->st_ctim = real.st_ctim;
	}
	close(fd);
	return rc;
}

static int disk_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	int fd = open_beneath(vp, O_RDONLY | O_DIRECTORY);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if ((de->d_type == DT_REG || de->d_type == DT_DIR) &&
		    strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fs_fill(buf, fill, de->d_name);
	closedir(d);
	return 0;
}

static int disk_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fh->fd = open_beneath(vp, O_RDONLY);
	if (fh->fd < 0)
		return fh->fd;
	fh->kind = FH_DISK;
	/* stdout and stderr grow while the job runs: no page cache */
	fi->direct_io = 1;
	return 0;
}

const struct vnode_ops vn_result_disk = { .name = "result-file", .getattr = disk_getattr,
					  .readdir = disk_readdir, .open = disk_open,
					  .read = fs_disk_read,
					  .unlink = result_inner_remove,
					  .rmdir = result_inner_remove };
