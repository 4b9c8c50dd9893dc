/* MNT/templates/: spec files a user keeps, one file each, stored as they
 * are in STATE/templates/ (so they outlive a mount and a reboot), read and
 * written like any file: `cp a100x8.spec $MNT/templates/a100x8`, then
 * `cp $MNT/templates/a100x8 $MNT/pools/run1/spec` starts a pool. A
 * template is text, not checked until it is written to a pool's spec (a
 * partial one may be completed there); like a spec it holds at most
 * SKY_SPEC_MAX_BYTES. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/names.h"
#include "fs/tree.h"
#include "scheduler/sched.h"
#include "scheduler/spec.h"

/* STATE/templates[/name]; name NULL for the directory. */
static int tmpl_path(const char *name, char *out, size_t len)
{
	int rc;

	if (name && ((rc = sky_name_check(name)) || name[0] == '.'))
		return name[0] == '.' ? -EINVAL : rc;
	if ((size_t)snprintf(out, len, "%s/templates%s%s", sky_sched_state_dir(), name ? "/" : "",
			     name ? name : "") >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int templates_getattr(const struct vpath *vp, struct stat *st)
{
	(void)vp;
	fs_stat_dir(st);
	return 0;
}

static int templates_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc;

	(void)vp;
	if ((rc = tmpl_path(NULL, dir, sizeof(dir))))
		return rc;
	if (!(d = opendir(dir)))
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && e->d_type == DT_REG)
			fs_fill(buf, fill, e->d_name);
	closedir(d);
	return 0;
}

const struct vnode_ops vn_templates = { .name = "templates", .getattr = templates_getattr,
					.readdir = templates_readdir };

static int tmpl_getattr(const struct vpath *vp, struct stat *st)
{
	char path[PATH_MAX];
	struct stat real;
	int rc;

	if ((rc = tmpl_path(vp->pool, path, sizeof(path))))
		return rc;
	if (stat(path, &real))
		return -errno;
	fs_stat_file(st, 0644, real.st_size);
	st->st_mtim = real.st_mtim;
	st->st_ctim = real.st_ctim;
	return 0;
}

static int tmpl_openat(const struct vpath *vp, int flags, struct fuse_file_info *fi,
		       struct fh *fh)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = tmpl_path(vp->pool, path, sizeof(path))))
		return rc;
	if (flags & O_CREAT) {
		char dir[PATH_MAX];

		tmpl_path(NULL, dir, sizeof(dir));
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
	}
	fh->kind = FH_DISK;
	fh->fd = open(path, flags | O_CLOEXEC, 0600);
	if (fh->fd < 0)
		return -errno;
	fi->direct_io = 1;
	return 0;
}

static int tmpl_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	return tmpl_openat(vp, fi->flags & (O_ACCMODE | O_TRUNC | O_APPEND), fi, fh);
}

static int tmpl_create(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh)
{
	return tmpl_openat(vp, (fi->flags & (O_ACCMODE | O_TRUNC | O_APPEND | O_EXCL)) | O_CREAT,
			   fi, fh);
}

static int tmpl_write(struct fh *fh, const char *buf, size_t size, off_t off)
{
	ssize_t w;

	if (off < 0 || (size_t)off + size > SKY_SPEC_MAX_BYTES)
		return -EFBIG;
	w = pwrite(fh->fd, buf, size, off);
	return w < 0 ? -errno : (int)w;
}

static int tmpl_truncate(const struct vpath *vp, struct fh *fh, off_t size)
{
	char path[PATH_MAX];
	int rc;

	if (size < 0 || size > SKY_SPEC_MAX_BYTES)
		return -EFBIG;
	if (fh && fh->fd >= 0)
		return ftruncate(fh->fd, size) ? -errno : 0;
	if ((rc = tmpl_path(vp->pool, path, sizeof(path))))
		return rc;
	return truncate(path, size) ? -errno : 0;
}

static int tmpl_unlink(const struct vpath *vp)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = tmpl_path(vp->pool, path, sizeof(path))))
		return rc;
	return unlink(path) ? -errno : 0;
}

const struct vnode_ops vn_template = { .name = "template", .getattr = tmpl_getattr,
				       .open = tmpl_open, .create = tmpl_create,
				       .read = fs_disk_read, .write = tmpl_write,
				       .truncate = tmpl_truncate,
				       .unlink = tmpl_unlink };
