/* Handlers for MNT/catalog (the accelerator table and every known offer)
 * and MNT/providers/<name>/status. All read-only, generated at open. */
#include <errno.h>
#include <sys/stat.h>

#include "fs/tree.h"
#include "catalog/catalog.h"
#include "providers/provider.h"

static int dir_getattr(const struct vpath *vp, struct stat *st)
{
	(void)vp;
	fs_stat_dir(st);
	return 0;
}

static int catalog_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	(void)vp;
	fs_fill(buf, fill, "accelerators");
	fs_fill(buf, fill, "offers");
	return 0;
}

const struct vnode_ops vn_catalog = { .name = "catalog", .getattr = dir_getattr,
				      .readdir = catalog_readdir };

static int render_accels(const char *pool, const char *name, struct sky_buf *out)
{
	(void)pool;
	(void)name;
	return sky_catalog_render_accels(out);
}

static int render_offers(const char *pool, const char *name, struct sky_buf *out)
{
	(void)pool;
	(void)name;
	return sky_catalog_render_offers(out);
}

/* providers/<name>: the name is the row's first capture (vp->pool) */
static int render_provider(const char *name, const char *unused, struct sky_buf *out)
{
	(void)unused;
	return sky_provider_render_status(name, out);
}

FS_TEXT_FILE(catalog_accels, render_accels);
FS_TEXT_FILE(catalog_offers, render_offers);
FS_TEXT_FILE(provider_status, render_provider);

static int providers_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	struct fs_fill_arg fa = { buf, fill };

	(void)vp;
	return sky_provider_each(fs_fill_cb, &fa);
}

const struct vnode_ops vn_providers = { .name = "providers", .getattr = dir_getattr,
					.readdir = providers_readdir };

static int provider_getattr(const struct vpath *vp, struct stat *st)
{
	if (!sky_provider_known(vp->pool))
		return -ENOENT;
	fs_stat_dir(st);
	return 0;
}

static int provider_readdir(const struct vpath *vp, void *buf, fuse_fill_dir_t fill)
{
	(void)vp;
	fs_fill(buf, fill, "status");
	return 0;
}

const struct vnode_ops vn_provider = { .name = "provider", .getattr = provider_getattr,
				       .readdir = provider_readdir };
