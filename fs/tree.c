/* The path table and the FUSE operations that dispatch through it.
 *
 * Patterns are matched component by component: a literal, "*" (one
 * component, captured in order into pool then job), or a trailing "**"
 * (zero or more components, captured into rest). The first match wins, so
 * literal rows come before wildcard rows at the same depth. */
#define LOG_MODULE "fs"
#include "fs/tree.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/names.h"
#include "scheduler/sched.h"
#include <fuse_lowlevel.h>

struct vrow {
	const char *pattern;
	const struct vnode_ops *ops;
	int broadcast;           /* copied into vpath: jobs/ and broadcast/ share handlers */
};

static const struct vrow table[] = {
	{ "",                              &vn_root, 0 },
	{ "README",                        &vn_readme, 0 },
	{ "status",                        &vn_overview, 0 },
	{ "config",                        &vn_config, 0 },
	{ "templates",                     &vn_templates, 0 },
	{ "templates/*",                   &vn_template, 0 },
	{ "pools",                         &vn_pools, 0 },
	{ "catalog",                       &vn_catalog, 0 },
	{ "catalog/accelerators",          &vn_catalog_accels, 0 },
	{ "catalog/offers",                &vn_catalog_offers, 0 },
	{ "providers",                     &vn_providers, 0 },
	{ "providers/*",                   &vn_provider, 0 },
	{ "providers/*/status",            &vn_provider_status, 0 },
	{ "pools/*",                       &vn_pool, 0 },
	{ "pools/*/spec",                  &vn_spec, 0 },
	{ "pools/*/status",                &vn_status, 0 },
	{ "pools/*/events",                &vn_events, 0 },
	{ "pools/*/done",                  &vn_done, 0 },
	{ "pools/*/cost",                  &vn_cost, 0 },
	{ "pools/*/plan",                  &vn_plan, 0 },
	{ "pools/*/timeline.svg",          &vn_timeline, 0 },
	{ "pools/*/nodes",                 &vn_nodes, 0 },
	{ "pools/*/nodes/*",               &vn_node, 0 },
	{ "pools/*/jobs",                  &vn_jobs, 0 },
	{ "pools/*/jobs/*",                &vn_job, 0 },
	{ "pools/*/broadcast",             &vn_jobs, 1 },
	{ "pools/*/broadcast/*",           &vn_job, 1 },
	{ "pools/*/results",               &vn_results, 0 },
	{ "pools/*/results/*",             &vn_result, 0 },
	{ "pools/*/results/*/status",      &vn_result_status, 0 },
	{ "pools/*/results/*/wait",        &vn_result_wait, 0 },
	{ "pools/*/results/*/exit",        &vn_result_exit, 0 },
	{ "pools/*/results/*/**",          &vn_result_disk, 0 },
};

#define MAX_DEPTH 64

static int split(char *path, char **comp)
{
	int n = 0;
	char *save = NULL, *c;

	for (c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		/* the kernel lets 256+ byte names through; they fit nowhere here */
		if (n == MAX_DEPTH || strlen(c) > SKY_NAME_MAX)
			return -ENAMETOOLONG;
		comp[n++] = c;
	}
	return n;
}

static int match_row(const char *pattern, char **comp, int n, struct vpath *vp)
{
	char pat[128], *pc[16], *save = NULL, *c;
	int np = 0, i, caps = 0;

	snprintf(pat, sizeof(pat), "%s", pattern);
	for (c = strtok_r(pat, "/", &save); c; c = strtok_r(NULL, "/", &save))
		pc[np++] = c;
	for (i = 0; i < np; i++) {
		if (!strcmp(pc[i], "**")) {
			size_t len = 0;
			int k;
			if (i >= n)
				return 0;   /* "**" needs at least one component here */
			vp->rest[0] = '\0';
			for (k = i; k < n; k++) {
				int w = snprintf(vp->rest + len, sizeof(vp->rest) - len, "%s%s",
						 k > i ? "/" : "", comp[k]);
				if (w < 0 || (size_t)w >= sizeof(vp->rest) - len)
					return 0;
				len += (size_t)w;
			}
			return 1;
		}
		if (i >= n)
			return 0;
		if (!strcmp(pc[i], "*")) {
			char *dst = caps++ == 0 ? vp->pool : vp->job;
			if (strlen(comp[i]) >= sizeof(vp->pool))
				return 0;
			strcpy(dst, comp[i]);
		} else if (strcmp(pc[i], comp[i])) {
			return 0;
		}
	}
	return np == n;
}

static int resolve(const char *path, struct vpath *vp)
{
	char buf[PATH_MAX], *comp[MAX_DEPTH];
	size_t i;
	int n;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	n = split(buf, comp);
	if (n < 0)
		return n;
	memset(vp, 0, sizeof(*vp));
	for (i = 0; i < SKY_ARRAY_SIZE(table); i++)
		if (match_row(table[i].pattern, comp, n, vp)) {
			vp->ops = table[i].ops;
			vp->broadcast = table[i].broadcast;
			return 0;
		}
	return -ENOENT;
}

/* ---- FUSE operations ------------------------------------------------------- */

#define RESOLVE(path, vp)                          \
	do {                                       \
		int r_ = resolve(path, &(vp));     \
		if (r_)                            \
			return r_;                 \
	} while (0)

#define FH(fi) ((struct fh *)(uintptr_t)(fi)->fh)

/* With nullpath_ok, calls made through an open descriptor come without a
 * path (so that a blocked read holds no lock on the tree and rmdir can go
 * on): the path is the one the file was opened with. */
static const char *path_of(const char *path, struct fuse_file_info *fi)
{
	return path ? path : fi ? FH(fi)->path : "";
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct vpath vp;

	path = path_of(path, fi);
	RESOLVE(path, vp);
	memset(st, 0, sizeof(*st));
	return vp.ops->getattr ? vp.ops->getattr(&vp, st) : -ENOENT;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct vpath vp;

	(void)off;
	(void)flags;
	path = path_of(path, fi);
	RESOLVE(path, vp);
	if (!vp.ops->readdir)
		return -ENOTDIR;
	fs_fill(buf, fill, ".");
	fs_fill(buf, fill, "..");
	return vp.ops->readdir(&vp, buf, fill);
}

/* Every open file's state, so that files still open when the daemon stops
 * (it never gets their release) are freed too. */
static struct {
	pthread_mutex_t lock;
	struct fh *head;
} open_files = { PTHREAD_MUTEX_INITIALIZER, NULL };

static struct fh *fh_new(const char *path)
{
	struct fh *fh = calloc(1, sizeof(*fh));

	if (!fh)
		return NULL;
	fh->fd = -1;
	fh->path = strdup(path);
	if (!fh->path) {
		free(fh);
		return NULL;
	}
	pthread_mutex_lock(&open_files.lock);
	fh->next = open_files.head;
	if (fh->next)
		fh->next->prev = fh;
	open_files.head = fh;
	pthread_mutex_unlock(&open_files.lock);
	return fh;
}

static void fh_free(struct fh *fh)
{
	pthread_mutex_lock(&open_files.lock);
	if (fh->prev)
		fh->prev->next = fh->next;
	else
		open_files.head = fh->next;
	if (fh->next)
		fh->next->prev = fh->prev;
	pthread_mutex_unlock(&open_files.lock);
	if (fh->fd >= 0)
		close(fh->fd);
	sky_buf_free(&fh->buf);
	free(fh->path);
	free(fh);
}

void fs_free_open_files(void)
{
	while (open_files.head)
		fh_free(open_files.head);
}

/* EISDIR for a directory, else EACCES: a row may serve both (the files
 * and directories inside a result). */
static int not_writable(const struct vpath *vp)
{
	struct stat st;

	if (!vp->ops->readdir)
		return -EACCES;
	memset(&st, 0, sizeof(st));
	if (vp->ops->getattr && !vp->ops->getattr(vp, &st) && !S_ISDIR(st.st_mode))
		return -EACCES;
	return -EISDIR;
}

/* For a name no row allows: refused with err when its directory exists (one
 * cannot make things there), ENOENT when the directory does not either. */
static int refuse_new(const char *path, int err)
{
	char parent[PATH_MAX];
	struct vpath vp;
	struct stat st;
	char *slash;

	if (sky_strlcpy(parent, path, sizeof(parent)) >= sizeof(parent))
		return -ENAMETOOLONG;
	slash = strrchr(parent, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (resolve(parent, &vp) || !vp.ops->getattr || vp.ops->getattr(&vp, &st) ||
	    !S_ISDIR(st.st_mode))
		return -ENOENT;
	return err;
}

static int open_common(const char *path, struct fuse_file_info *fi, int create)
{
	struct vpath vp;
	struct fh *fh;
	int rc;

	if ((rc = resolve(path, &vp)))
		return create && rc == -ENOENT ? refuse_new(path, -EACCES) : rc;
	if (create ? !vp.ops->create : !vp.ops->open)
		return create ? -EACCES : not_writable(&vp);
	fh = fh_new(path);
	if (!fh)
		return -ENOMEM;
	fh->ops = vp.ops;
	fh->broadcast = vp.broadcast;
	snprintf(fh->pool, sizeof(fh->pool), "%s", vp.pool);
	snprintf(fh->job, sizeof(fh->job), "%s", vp.job);
	snprintf(fh->rest, sizeof(fh->rest), "%s", vp.rest);
	rc = create ? vp.ops->create(&vp, fi, fh) : vp.ops->open(&vp, fi, fh);
	if (rc) {
		fh_free(fh);
		return rc;
	}
	fi->fh = (uint64_t)(uintptr_t)fh;
	return 0;
}

/* A directory handle only remembers its path (readdir comes without one). */
static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct fh *fh = fh_new(path);

	if (!fh)
		return -ENOMEM;
	fh->kind = FH_DIR;
	fi->fh = (uint64_t)(uintptr_t)fh;
	return 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	fh_free(FH(fi));
	return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	return open_common(path, fi, 0);
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	return open_common(path, fi, 1);
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct fh *fh = FH(fi);

	(void)path;
	return fh->ops->read ? fh->ops->read(fh, buf, size, off) : -EBADF;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fh *fh = FH(fi);

	(void)path;
	return fh->ops->write ? fh->ops->write(fh, buf, size, off) : -EBADF;
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	struct fh *fh = FH(fi);

	(void)path;
	return fh->ops->flush ? fh->ops->flush(fh) : 0;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct fh *fh = FH(fi);

	(void)path;
	if (fh->ops->release)
		fh->ops->release(fh);
	fh_free(fh);
	return 0;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct vpath vp;

	path = path_of(path, fi);
	RESOLVE(path, vp);
	if (!vp.ops->truncate)
		return not_writable(&vp);
	return vp.ops->truncate(&vp, fi ? FH(fi) : NULL, size);
}

static int op_unlink(const char *path)
{
	struct vpath vp;

	RESOLVE(path, vp);
	return vp.ops->unlink ? vp.ops->unlink(&vp) : -EACCES;
}

static int op_mkdir(const char *path, mode_t mode)
{
	struct vpath vp;
	int rc;

	(void)mode;
	if ((rc = resolve(path, &vp)))
		return rc == -ENOENT ? refuse_new(path, -EPERM) : rc;
	return vp.ops->mkdir ? vp.ops->mkdir(&vp) : -EPERM;
}

static int op_rmdir(const char *path)
{
	struct vpath vp;

	RESOLVE(path, vp);
	return vp.ops->rmdir ? vp.ops->rmdir(&vp) : -EPERM;
}

/* Nothing in the tree can be renamed, linked or have its mode changed. */
static int op_rename(const char *from, const char *to, unsigned int flags)
{
	(void)from; (void)to; (void)flags;
	return -EPERM;
}

static int op_link(const char *from, const char *to)
{
	(void)from; (void)to;
	return -EPERM;
}

static int op_symlink(const char *from, const char *to)
{
	(void)from; (void)to;
	return -EPERM;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path; (void)mode; (void)fi;
	return -EPERM;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)path; (void)uid; (void)gid; (void)fi;
	return -EPERM;
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct vpath vp;

	(void)tv;
	/* touch(1) on an existing file is harmless; say yes, change nothing */
	path = path_of(path, fi);
	RESOLVE(path, vp);
	return 0;
}

static int op_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)path; (void)mode; (void)dev;
	return -EPERM;
}

extern void *skyfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg);
extern void skyfs_destroy(void *data);

const struct fuse_operations skyfs_ops = {
	.init = skyfs_init,
	.destroy = skyfs_destroy,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.truncate = op_truncate,
	.unlink = op_unlink,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.link = op_link,
	.symlink = op_symlink,
	.chmod = op_chmod,
	.chown = op_chown,
	.utimens = op_utimens,
	.mknod = op_mknod,
};

/* ---- helpers shared by the handler files ----------------------------------- */

void fs_stat_dir(struct stat *st)
{
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
}

void fs_stat_file(struct stat *st, mode_t mode, off_t size)
{
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_size = size;
	st->st_uid = getuid();
	st->st_gid = getgid();
}

int fs_fill(void *buf, fuse_fill_dir_t fill, const char *name)
{
	return fill(buf, name, NULL, 0, 0);
}

int fs_fill_cb(const char *name, void *arg)
{
	struct fs_fill_arg *fa = arg;

	return fs_fill(fa->buf, fa->fill, name);
}

int fs_pool_dir_getattr(const struct vpath *vp, struct stat *st)
{
	if (!sky_pool_exists(vp->pool))
		return -ENOENT;
	fs_stat_dir(st);
	return 0;
}

int fs_read_buf(const struct sky_buf *b, char *out, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= b->len)
		return 0;
	if (size > b->len - (size_t)off)
		size = b->len - (size_t)off;
	memcpy(out, b->data + off, size);
	return (int)size;
}

int fs_interrupted(void)
{
	struct fuse_context *ctx = fuse_get_context();

	if (fuse_interrupted())
		return 1;
	return ctx && ctx->fuse && fuse_session_exited(fuse_get_session(ctx->fuse));
}
