/* The virtual tree: one table maps path patterns to handler sets (struct
 * vnode_ops), in the style of lxcfs' file table, so the FUSE operations in
 * tree.c are thin dispatchers and each file's behaviour lives in one place.
 *
 * A handler gets the resolved path (struct vpath: the pattern's captures)
 * and, for open files, its per-open state (struct fh via fi->fh, freed in
 * release). Handlers return 0 (or a byte count) or -errno; an operation a
 * handler set leaves NULL answers with that pattern's default errno. */
#ifndef SKY_FS_TREE_H
#define SKY_FS_TREE_H

#include <fuse.h>
#include <limits.h>

#include "common/util.h"

struct vnode_ops;

struct vpath {
	const struct vnode_ops *ops;
	char pool[256];
	char job[256];
	char rest[PATH_MAX];     /* what a trailing ** matched, relative */
	int broadcast;           /* the row is under broadcast/ rather than jobs/ */
};

enum fh_kind { FH_TEXT, FH_DISK, FH_SPEC, FH_JOB, FH_WAIT, FH_DIR };

/* Per-open state, owned by the open file, freed by release. */
struct fh {
	const struct vnode_ops *ops;   /* the handler set it was opened through */
	char *path;              /* the path it was opened with */
	struct fh *prev, *next;  /* every open file (tree.c), for cleanup at exit */
	enum fh_kind kind;
	int fd;                  /* FH_DISK, FH_JOB: the file on disk */
	struct sky_buf buf;      /* FH_TEXT snapshot, FH_SPEC edit, FH_WAIT answer */
	int written;             /* FH_SPEC, FH_JOB: written since the last apply */
	int done;                /* FH_SPEC applied, FH_JOB submitted, FH_WAIT answered */
	int truncated;           /* FH_SPEC opened with O_TRUNC */
	int err;                 /* FH_SPEC: a write failed with it; so do the rest */
	int append;              /* FH_JOB: opened with O_APPEND */
	int broadcast;
	char pool[256];
	char job[256];
	char rest[PATH_MAX];
};

struct vnode_ops {
	const char *name;        /* for logs */
	int (*getattr)(const struct vpath *vp, struct stat *st);
	int (*readdir)(const struct vpath *vp, void *buf, fuse_fill_dir_t fill);
	int (*open)(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh);
	int (*create)(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh);
	int (*read)(struct fh *fh, char *buf, size_t size, off_t off);
	int (*write)(struct fh *fh, const char *buf, size_t size, off_t off);
	int (*flush)(struct fh *fh);
	void (*release)(struct fh *fh);   /* before the fh is freed */
	int (*truncate)(const struct vpath *vp, struct fh *fh, off_t size);
	int (*unlink)(const struct vpath *vp);
	int (*mkdir)(const struct vpath *vp);
	int (*rmdir)(const struct vpath *vp);
};

/* Handler sets, defined in pool_files.c, job_files.c, catalog_files.c and
 * template_files.c. */
extern const struct vnode_ops vn_root, vn_readme, vn_pools, vn_pool, vn_spec, vn_status,
	vn_events, vn_done, vn_overview, vn_cost, vn_plan, vn_timeline, vn_nodes, vn_node,
	vn_jobs, vn_job, vn_results, vn_result,
	vn_catalog, vn_catalog_accels, vn_catalog_offers, vn_providers, vn_provider,
	vn_provider_status,
	vn_result_status, vn_result_wait, vn_result_exit, vn_result_disk,
	vn_templates, vn_template, vn_config;

/* Shared helpers for handlers. */
/* Generated read-only text: render(pool, second capture, out). */
typedef int (*render_fn)(const char *pool, const char *name, struct sky_buf *out);
int fs_text_getattr(const struct vpath *vp, struct stat *st, render_fn render);
int fs_text_open(const struct vpath *vp, struct fuse_file_info *fi, struct fh *fh,
		 render_fn render);
int fs_text_read(struct fh *fh, char *buf, size_t size, off_t off);
/* Defines vn_<id>: a read-only text file rendered by fn at open. */
#define FS_TEXT_FILE(id, fn)                                                       \
	static int id##_getattr(const struct vpath *vp, struct stat *st)           \
	{ return fs_text_getattr(vp, st, fn); }                                    \
	static int id##_open(const struct vpath *vp, struct fuse_file_info *fi,    \
			     struct fh *fh)                                        \
	{ return fs_text_open(vp, fi, fh, fn); }                                   \
	const struct vnode_ops vn_##id = { .name = #id, .getattr = id##_getattr,   \
					   .open = id##_open, .read = fs_text_read }
void fs_stat_dir(struct stat *st);
void fs_stat_file(struct stat *st, mode_t mode, off_t size);
int fs_fill(void *buf, fuse_fill_dir_t fill, const char *name);
/* A sky_name_fn that adds each name to a readdir buffer. */
struct fs_fill_arg {
	void *buf;
	fuse_fill_dir_t fill;
};
int fs_fill_cb(const char *name, void *arg);
/* getattr of a directory that exists while its pool does. */
int fs_pool_dir_getattr(const struct vpath *vp, struct stat *st);
int fs_disk_read(struct fh *fh, char *buf, size_t size, off_t off);
int fs_read_buf(const struct sky_buf *b, char *out, size_t size, off_t off);
/* Non-zero when the FUSE request was interrupted or the mount is going. */
int fs_interrupted(void);

extern const struct fuse_operations skyfs_ops;
/* Frees the state of files still open when the daemon stops. */
void fs_free_open_files(void);

#endif
