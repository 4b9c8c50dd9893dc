/* skyfs: the daemon's entry point. Parses the options (libfuse conventions
 * plus -o state=DIR), takes the state directory's lock before mounting so a
 * second mount fails early with a clear message, then runs the FUSE loop.
 * The scheduler's threads start in init (after libfuse daemonized) and
 * every pool is torn down in destroy (unmount, SIGTERM, SIGINT). */
#define LOG_MODULE "main"
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/tree.h"
#include "catalog/catalog.h"
#include "providers/http.h"
#include "transport/ssh.h"
#include "common/log.h"
#include "common/proc.h"
#include "scheduler/config.h"
#include "scheduler/sched.h"

struct options {
	char *state;
	char *config;
	char *catalog_max_age;
	char *api_timeout;
	char *recover;
	char *sweep_interval;
	char *nonopt[2];        /* [SOURCE] MOUNTPOINT: mount(8)'s helper gives both */
	int n_nonopt;
	int show_help;
	int show_version;
	int foreground;
	int debug;
};

static struct options opts;
static int destroyed;

enum { KEY_HELP, KEY_VERSION, KEY_FOREGROUND, KEY_DEBUG };

#define OPT(t, p) { t, offsetof(struct options, p), 1 }
static const struct fuse_opt option_spec[] = {
	OPT("state=%s", state),
	OPT("config=%s", config),
	OPT("catalog_max_age=%s", catalog_max_age),
	OPT("api_timeout=%s", api_timeout),
	OPT("recover=%s", recover),
	OPT("sweep_interval=%s", sweep_interval),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_END
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct options *o = data;

	(void)out;
	switch (key) {
	case KEY_HELP: o->show_help = 1; return 0;
	case KEY_VERSION: o->show_version = 1; return 0;
	case KEY_FOREGROUND: o->foreground = 1; return 1;
	case KEY_DEBUG: o->debug = o->foreground = 1; return 1;
	case FUSE_OPT_KEY_NONOPT:
		/* `mount -t fuse.skyfs SOURCE DIR` runs "skyfs SOURCE DIR -o ...":
		 * the source names nothing (fstab's first field); the last one is
		 * the mountpoint */
		if (o->n_nonopt == 2) {
			fprintf(stderr, "skyfs: too many arguments: %s\n", arg);
			return -1;
		}
		if (!(o->nonopt[o->n_nonopt++] = strdup(arg)))
			return -1;
		return 0;
	default: return 1;
	}
}

static void usage(const char *prog)
{
	printf("usage: %s [options] [SOURCE] MOUNTPOINT\n"
	       "\n"
	       "Compute pools as directories: mkdir MOUNTPOINT/pools/NAME, write its spec,\n"
	       "copy jobs into jobs/ or broadcast/, read results/. See the README.\n"
	       "\n"
	       "skyfs options:\n"
	       "    -o state=DIR    state directory (default $XDG_STATE_HOME/skyfs,\n"
	       "                    else ~/.local/state/skyfs); one mount at a time\n"
	       "    -o config=FILE  defaults (state, provider, region, orphan_timeout,\n"
	       "                    aws_profile, runpod_profile); default\n"
	       "                    $XDG_CONFIG_HOME/skyfs/config,\n"
	       "                    else ~/.config/skyfs/config, if there is one\n"
	       "    -o catalog_max_age=DURATION\n"
	       "                    flag shipped offer snapshots older than this as\n"
	       "                    stale (default 30d)\n"
	       "    -o api_timeout=DURATION\n"
	       "                    each cloud API request's time limit (default 20s;\n"
	       "                    failed requests are retried with backoff)\n"
	       "    -o recover=resume|teardown\n"
	       "                    pools a crashed daemon left live: adopt their\n"
	       "                    machines and go on (default, or each spec's\n"
	       "                    recover key), or tear every one of them down\n"
	       "    -o sweep_interval=DURATION\n"
	       "                    how often to terminate cloud machines of this\n"
	       "                    state directory that no pool owns (default 5m;\n"
	       "                    0: at mount only)\n"
	       "    -f              stay in the foreground, log to stderr too\n"
	       "    -d              debug: foreground, FUSE and skyfs debug logging\n"
	       "    -h, --help      this text, then libfuse's options\n"
	       "    -V, --version   print the version\n"
	       "\n"
	       "SOURCE (ignored) lets mount(8) and /etc/fstab start skyfs: a line\n"
	       "  skyfs /mnt/sky fuse.skyfs state=/var/lib/skyfs,noauto 0 0\n"
	       "mounts with `mount /mnt/sky` (see skyfs(1)).\n"
	       "The mount always uses auto_unmount, so a crash leaves no dead mount.\n"
	       "Logs go to STATE/skyfs.log. Exit status: 0 after a clean unmount or\n"
	       "SIGTERM/SIGINT (every pool torn down), 1 on a usage or mount error,\n"
	       "2 when the state directory is unusable or locked by another mount.\n\n",
	       prog);
}

static int parse_recovery(void)
{
	long secs = 300;
	int teardown = 0;

	if (opts.recover && strcmp(opts.recover, "resume") &&
	    !(teardown = !strcmp(opts.recover, "teardown"))) {
		fprintf(stderr, "skyfs: recover: \"%s\" is neither resume nor teardown\n",
			opts.recover);
		return -1;
	}
	if (opts.sweep_interval && (sky_parse_duration(opts.sweep_interval, &secs) ||
				    secs > 86400)) {
		fprintf(stderr, "skyfs: sweep_interval: invalid duration \"%s\" (0 to 1d)\n",
			opts.sweep_interval);
		return -1;
	}
	sky_sched_set_recovery(teardown, (double)secs);
	return 0;
}

static int default_state_dir(char *out, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && *xdg == '/')
		n = snprintf(out, len, "%s/skyfs", xdg);
	else if (home && *home)
		n = snprintf(out, len, "%s/.local/state/skyfs", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void *skyfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	int rc;

	(void)conn;
	/* everything changes behind the kernel's back: no attribute caching */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	/* unlink of an open job file is a cancel, never a rename to .fuse_hidden */
	cfg->hard_remove = 1;
	/* reads through an open file take no path lock, so a reader blocked on
	 * wait never holds up rmdir of its pool */
	cfg->nullpath_ok = 1;
	rc = sky_sched_start();
	if (rc)
		log_error("cannot start the scheduler: %s", strerror(-rc));
	log_info("skyfs %s mounted, state in %s", SKYFS_VERSION, sky_sched_state_dir());
	return NULL;
}

void skyfs_destroy(void *data)
{
	(void)data;
	log_info("unmounting: tearing down every pool");
	sky_sched_close();
	fs_free_open_files();
	destroyed = 1;
}

static void free_options(struct fuse_args *args)
{
	fuse_opt_free_args(args);
	free(opts.state);
	free(opts.config);
	free(opts.catalog_max_age);
	free(opts.api_timeout);
	free(opts.recover);
	free(opts.sweep_interval);
	free(opts.nonopt[0]);
	free(opts.nonopt[1]);
	memset(&opts, 0, sizeof(opts));
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	char state[PATH_MAX], logpath[PATH_MAX + 16], err[1024];
	int rc;

	/* the local transport's job helper is this binary (common/proc.h) */
	if (argc > 0 && !strcmp(argv[0], SKY_JOB_HELPER))
		return sky_job_helper_main();

	if (fuse_opt_parse(&args, &opts, option_spec, opt_proc) == -1)
		return 1;
	if (opts.n_nonopt && fuse_opt_add_arg(&args, opts.nonopt[opts.n_nonopt - 1]))
		return 1;
	if (opts.show_version) {
		printf("skyfs %s\n", SKYFS_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		fuse_opt_free_args(&args);
		return 0;
	}
	if (opts.show_help) {
		usage(argv[0]);
		fuse_opt_add_arg(&args, "--help");
		args.argv[0][0] = '\0';
		rc = fuse_main(args.argc, args.argv, &skyfs_ops, NULL);
		fuse_opt_free_args(&args);
		return rc ? 1 : 0;
	}
	if (sky_config_load(opts.config, err, sizeof(err))) {
		fprintf(stderr, "skyfs: config: %s\n", err);
		free_options(&args);
		return 1;
	}
	if (!opts.state && sky_config_state())
		opts.state = strdup(sky_config_state());
	if (opts.state) {
		if (snprintf(state, sizeof(state), "%s", opts.state) >= (int)sizeof(state)) {
			fprintf(stderr, "skyfs: state directory path too long\n");
			return 2;
		}
	} else if (default_state_dir(state, sizeof(state))) {
		fprintf(stderr, "skyfs: no state directory: set -o state=DIR or HOME\n");
		return 2;
	}
	if (state[0] != '/') {
		char cwd[PATH_MAX], abs[PATH_MAX * 2];
		if (!getcwd(cwd, sizeof(cwd)))
			return 2;
		snprintf(abs, sizeof(abs), "%s/%s", cwd, state);
		snprintf(state, sizeof(state), "%s", abs);
	}
	sky_log_set_level(opts.debug ? SKY_LOG_DEBUG : SKY_LOG_INFO);
	if (sky_ssh_global_init()) {
		fprintf(stderr, "skyfs: cannot initialise libssh2\n");
		return 2;
	}
	if (sky_http_global_init()) {
		fprintf(stderr, "skyfs: cannot initialise libcurl\n");
		return 2;
	}
	if (opts.api_timeout) {
		long secs;
		if (sky_parse_duration(opts.api_timeout, &secs) || secs < 1 || secs > 3600) {
			fprintf(stderr, "skyfs: api_timeout: invalid duration \"%s\" "
				"(1s to 1h)\n", opts.api_timeout);
			return 1;
		}
		sky_http_set_default_timeout_ms((int)(secs * 1000));
	}
	if (parse_recovery())
		return 1;
	if (sky_catalog_init(err, sizeof(err))) {
		fprintf(stderr, "skyfs: catalog: %s\n", err);
		return 2;
	}
	if (opts.catalog_max_age) {
		long secs;
		if (sky_parse_duration(opts.catalog_max_age, &secs)) {
			fprintf(stderr, "skyfs: catalog_max_age: invalid duration \"%s\"\n",
				opts.catalog_max_age);
			return 1;
		}
		sky_catalog_set_max_age(secs);
	}
	if ((rc = sky_sched_open(state, err, sizeof(err)))) {
		fprintf(stderr, "skyfs: %s\n", err);
		fuse_opt_free_args(&args);
		return 2;
	}
	snprintf(logpath, sizeof(logpath), "%s/skyfs.log", state);
	if ((rc = sky_log_open(logpath, opts.foreground)))
		fprintf(stderr, "skyfs: cannot open %s: %s\n", logpath, strerror(-rc));
	fuse_opt_add_arg(&args, "-oauto_unmount");
	fuse_opt_add_arg(&args, "-ofsname=skyfs");
	fuse_opt_add_arg(&args, "-osubtype=skyfs");
	/* a reader blocked in results/<job>/wait holds a FUSE worker until its
	 * job ends; libfuse's default of 10 workers would let ten such readers
	 * stall every other operation on the mount (first, so that the user's
	 * own -o max_threads still wins). Idle workers are kept up to the
	 * same number: left unset, libfuse 3.14 reads it as UINT_MAX and logs
	 * "Ignoring invalid max threads value" at every mount (libfuse #1003) */
	fuse_opt_insert_arg(&args, 1, "-omax_threads=1024");
	fuse_opt_insert_arg(&args, 1, "-omax_idle_threads=1024");
	rc = fuse_main(args.argc, args.argv, &skyfs_ops, NULL);
	if (!destroyed)
		sky_sched_close();   /* the mount never came up */
	free_options(&args);
	sky_catalog_fini();
	sky_log_close();
	return destroyed ? 0 : rc ? 1 : 0;
}
