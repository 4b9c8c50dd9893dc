/* Local transport: a job is a process group on this machine, spawned with
 * posix_spawn, watched through a pidfd in one epoll reaper thread.
 *
 * Why a pidfd: the daemon has other children (libfuse's fusermount3), so a
 * waitpid(-1) reaper could steal them; a pidfd names exactly our child, and
 * the zombie keeps its pid and process group reserved until we reap it,
 * so killing the group of leftovers is safe. Output goes straight into the
 * controller-side files: no copying, no pipes to drain. */
#define LOG_MODULE "local-exec"
#include "transport/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/provider.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct sky_exec {
	pid_t pid;
	int pidfd;
	char *workdir;
	char *output_dir;
	char *files_dest;
	void (*done)(void *arg, int status, const char *err, int flags);
	void *arg;
};

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	int epfd;
	int wake[2];          /* pipe to stop the reaper */
	pthread_t reaper;
	int started;
	int start_err;
} L = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1,
	.wake = { -1, -1 } };

static void exec_free(struct sky_exec *ex)
{
	if (ex->pidfd >= 0)
		close(ex->pidfd);
	free(ex->workdir);
	free(ex->output_dir);
	free(ex->files_dest);
	free(ex);
}

static int siginfo_to_status(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return (si->si_status & 0xff) << 8;
	return si->si_status & 0x7f;   /* killed or dumped: the signal */
}

/* Moves $SKY_OUTPUT's content to its destination. The working directory
 * goes after done(), off the path a waiter waits on. */
static void collect(struct sky_exec *ex)
{
	struct stat st;

	if (ex->files_dest && ex->output_dir && !strcmp(ex->files_dest, ex->output_dir))
		goto work;   /* written in place */
	if (ex->files_dest && ex->output_dir && !stat(ex->output_dir, &st)) {
		sky_rm_rf(ex->files_dest);
		if (rename(ex->output_dir, ex->files_dest))
			log_warn("cannot move %s to %s: %s", ex->output_dir, ex->files_dest,
				 strerror(errno));
	}
	if (ex->output_dir)
		sky_rm_rf(ex->output_dir);
work:
	;
}

static void finish(struct sky_exec *ex)
{
	siginfo_t si;
	int status = 0;

	memset(&si, 0, sizeof(si));
	/* WNOWAIT: keep the zombie so its process group cannot be reused */
	if (syscall(SYS_waitid, P_PIDFD, ex->pidfd, &si, WEXITED | WNOWAIT, NULL) == 0)
		status = siginfo_to_status(&si);
	else
		log_warn("waitid(pid %d): %s", ex->pid, strerror(errno));
	/* whatever the job left running in its group goes with it */
	kill(-ex->pid, SIGKILL);
	collect(ex);
	ex->done(ex->arg, status, NULL, 0);
	/* after done(): nobody waits for this, and the name is never reused */
	if (ex->workdir)
		sky_rm_rf(ex->workdir);
	syscall(SYS_waitid, P_PIDFD, ex->pidfd, &si, WEXITED, NULL);
	epoll_ctl(L.epfd, EPOLL_CTL_DEL, ex->pidfd, NULL);
	exec_free(ex);
}

static void *reaper_main(void *arg)
{
	struct epoll_event evs[64];

	(void)arg;
	for (;;) {
		int n = epoll_wait(L.epfd, evs, 64, -1), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				return NULL;   /* the wake pipe: shutdown */
			finish(evs[i].data.ptr);
		}
	}
	return NULL;
}

static void start_reaper(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	L.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (L.epfd < 0 || pipe2(L.wake, O_CLOEXEC) ||
	    epoll_ctl(L.epfd, EPOLL_CTL_ADD, L.wake[0], &ev)) {
		L.start_err = -errno;
		return;
	}
	L.start_err = -pthread_create(&L.reaper, NULL, reaper_main, NULL);
	L.started = !L.start_err;
}

/* One mkdir in the common case (the parent exists): this is the hot path. */
static int make_dir(const char *path)
{
	if (!mkdir(path, 0755))
		return 0;
	if (errno == ENOENT)
		return sky_mkdir_p(path, 0755);
	return errno == EEXIST ? 0 : -errno;
}

/* argv for the payload, per its kind; strings are static or the payload */
static void build_argv(const struct sky_exec_req *req, const char **argv)
{
	if (req->shell_command) {
		argv[0] = "/bin/sh"; argv[1] = "-c"; argv[2] = req->shell_command; argv[3] = NULL;
	} else if (req->payload_is_archive) {
		argv[0] = "/bin/sh"; argv[1] = "-c";
		argv[2] = "tar -xf \"$1\" || exit 126; exec ./run";
		argv[3] = "sky-archive"; argv[4] = req->payload; argv[5] = NULL;
	} else if (req->payload_has_shebang) {
		argv[0] = req->payload; argv[1] = NULL;
	} else {
		argv[0] = "/bin/sh"; argv[1] = req->payload; argv[2] = NULL;
	}
}

static int local_start(const struct sky_instance *inst, const struct sky_exec_req *req,
		       struct sky_exec **out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	const char *argv[8];
	struct sky_exec *ex = NULL;
	struct epoll_event ev;
	int rc, fa_ok = 0, at_ok = 0;

	(void)inst;
	pthread_once(&L.once, start_reaper);
	if (L.start_err)
		return L.start_err;

	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	ex->pidfd = -1;
	ex->done = req->done;
	ex->arg = req->arg;
	ex->workdir = strdup(req->workdir);
	ex->output_dir = req->output_dir ? strdup(req->output_dir) : NULL;
	ex->files_dest = req->files_dest ? strdup(req->files_dest) : NULL;
	if (!ex->workdir || (req->output_dir && !ex->output_dir) ||
	    (req->files_dest && !ex->files_dest)) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = make_dir(req->workdir)))
		goto out;
	if (req->output_dir) {
		/* a re-run starts from an empty $SKY_OUTPUT; the directory itself
		 * may have been made in advance (see prepare_outputs) */
		if ((rc = make_dir(req->output_dir)) || (rc = sky_empty_dir(req->output_dir)))
			goto out;
	}

	build_argv(req, argv);
	if ((rc = -posix_spawn_file_actions_init(&fa)))
		goto out;
	fa_ok = 1;
	if ((rc = -posix_spawnattr_init(&at)))
		goto out;
	at_ok = 1;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, req->stdout_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, req->stderr_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addchdir_np(&fa, req->workdir);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* libfuse ignores SIGPIPE; ignored signals survive exec, so reset all */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&ex->pid, argv[0], &fa, &at, (char *const *)argv, req->envp);
	if (rc) {
		rc = -rc;
		goto out;
	}
	ex->pidfd = (int)syscall(SYS_pidfd_open, ex->pid, 0);
	if (ex->pidfd < 0) {
		rc = -errno;
		kill(-ex->pid, SIGKILL);
		waitpid(ex->pid, NULL, 0);
		goto out;
	}
	fcntl(ex->pidfd, F_SETFD, FD_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = ex;
	if (epoll_ctl(L.epfd, EPOLL_CTL_ADD, ex->pidfd, &ev)) {
		rc = -errno;
		kill(-ex->pid, SIGKILL);
		waitpid(ex->pid, NULL, 0);
		goto out;
	}
	*out = ex;
	ex = NULL;
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (ex) {
		if (ex->workdir)
			sky_rm_rf(ex->workdir);
		exec_free(ex);
	}
	return rc;
}

static int local_cancel(struct sky_exec *ex, int sig)
{
	return kill(-ex->pid, sig) ? -errno : 0;
}

static int local_shutdown(void)
{
	if (!L.started)
		return 0;
	if (write(L.wake[1], "x", 1) != 1)
		return -errno;
	pthread_join(L.reaper, NULL);
	close(L.wake[0]);
	close(L.wake[1]);
	close(L.epfd);
	L.started = 0;
	return 0;
}

const struct sky_transport_ops sky_transport_local = {
	.name = "local",
	.shared_fs = 1,
	.start = local_start,
	.cancel = local_cancel,
	.shutdown = local_shutdown,
};
