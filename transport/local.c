/* Local transport: a job is a process group on this machine. Output goes
 * straight into the controller-side files: no copying, no pipes to drain.
 *
 * Leftovers. A job may leave processes behind that are not in its process
 * group (a daemon that called setsid(), a double fork), so killing the
 * group is not enough. Each job therefore runs under a supervisor process
 * that is a child subreaper (PR_SET_CHILD_SUBREAPER): every descendant of
 * the job that loses its parent is re-parented to the supervisor, never to
 * init. The supervisor spawns the job in a process group of its own, waits
 * for it, kills its group and then every descendant left, and exits with
 * the job's status.
 *
 * The helper. Forking the daemon for each supervisor is slow (a large,
 * multi-threaded process: its page tables, and copy-on-write faults in the
 * daemon afterwards; it cut job throughput by three), and exec'ing a
 * supervisor binary costs tens of milliseconds of dynamic linking per job.
 * So the daemon starts one small helper process once (itself, re-exec'd
 * with argv[0] SKY_JOB_HELPER; the helper and the supervisors are in
 * common/proc.c), and the helper forks a supervisor per job: a small,
 * single-threaded process forks in well under a millisecond. A start is a
 * request on a stream socket (the job's argv, environment, directory and
 * output files) and returns at once: the dispatcher never waits for a
 * fork or an exec. What happens next comes back as messages on a second
 * socket that the reaper thread reads, sent by the supervisor itself (the
 * helper is not on the way): started (the job's pid, for cancels; a cancel
 * that came earlier is sent then), could not start (the errno), ended (its
 * status). The helper reaps the supervisors (the daemon never calls
 * waitpid(-1), which could steal libfuse's fusermount3); if it dies, the
 * jobs it started are killed and fail, and the next start makes another.
 *
 * The output limit (the pool's max_output) is checked by the reaper thread:
 * every LIMIT_POLL_MS it stats each running job's stdout and stderr, and a
 * job whose file passed the limit is killed; the file is cut back to the
 * limit when the job has ended, and the job fails saying why. Not
 * RLIMIT_FSIZE: it would limit every file the job writes (its $SKY_OUTPUT,
 * an unpacked archive, a checkpoint), a job running as root can raise it,
 * and a job that ignores SIGXFSZ only gets EFBIG and may end "succeeded"
 * with its output silently cut. A file may pass the limit by what a job
 * writes in one poll interval; the truncation takes that back. */
#define LOG_MODULE "local-exec"
#include "transport/local.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "providers/provider.h"

#define LIMIT_POLL_MS 50
/* A launcher's kill (wrap->force_sig set) is a ladder: term_sig first when
 * none went yet (the step's shell takes kill_sig as a kill only after a
 * term: a signal of the user's own is not one), kill_sig KILL_AFTER_TERM_MS
 * later, the launcher's own kill (force_sig) when the job has not ended
 * FORCE_AFTER_MS after that, and SIGKILL to the launcher LAST_RESORT_MS
 * after that. */
#define KILL_AFTER_TERM_MS 100
#define FORCE_AFTER_MS 2000
#define LAST_RESORT_MS 15000
#define HELPER_TIMEOUT_MS 10000   /* a helper that takes no request this long is dead */

extern char **environ;

/* ---- the daemon's side --------------------------------------------------------- */

struct sky_exec {
	uint64_t id;               /* the helper's name for it */
	pid_t job;                 /* the job: its process group's id, once started
				    * (written by the reaper under L.lock) */
	int pending_sig;           /* a cancel that came before it started */
	int signalled;             /* a cancel came (under L.lock) */
	int killed;                /* a kill was asked for (under L.lock) */
	long long term_at;         /* when term_sig went, monotonic ms, or 0 (L.lock) */
	int rung;                  /* the kill ladder's next step: RUNG_* (L.lock) */
	long long due;             /* ...and when it is due, monotonic ms (L.lock) */
	char *workdir;
	char *output_dir;
	char *files_dest;
	char *out_path, *err_path; /* the job's stdout and stderr files */
	char *diag_path;           /* wrapped: the launcher's own stderr (else NULL) */
	sky_local_translate_fn translate;   /* wrapped: the launcher's status to the job's */
	int term_sig, kill_sig;    /* what SIGTERM and SIGKILL are sent as */
	int force_sig;             /* the launcher's own kill, or 0 (see the ladder) */
	long long limit;           /* max_output: -1 until asked, 0 for none */
	const char *over;          /* "stdout" or "stderr" once one passed it */
	struct sky_exec *next;     /* in L.fresh (under L.lock), then the reaper's list */
	void (*done)(void *arg, int status, const char *err, int flags);
	void *arg;
};

enum { TAG_WAKE, TAG_EVENTS, TAG_HELPER };
enum { RUNG_NONE, RUNG_KILL, RUNG_FORCE, RUNG_LAST, RUNG_DONE };

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;      /* the helper's request socket, fresh, job and
				    * pending_sig of every execution */
	int epfd;
	int wake[2];               /* pipe: new executions to watch, or stop */
	int stopping;
	struct sky_exec *fresh;    /* started, not yet seen by the reaper */
	pthread_t reaper;
	int started;
	int start_err;
	pid_t helper;
	int helper_fd;             /* its pidfd: the reaper learns that it died */
	int req_fd, ev_fd;         /* ev_fd: the reaper closes it when the helper died */
	uint64_t next_id;
} L = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1,
	.wake = { -1, -1 }, .helper_fd = -1, .req_fd = -1, .ev_fd = -1 };

static void exec_free(struct sky_exec *ex)
{
	free(ex->workdir);
	free(ex->output_dir);
	free(ex->files_dest);
	free(ex->out_path);
	free(ex->err_path);
	free(ex->diag_path);
	free(ex);
}

/* The helper's environment: none of the daemon's (its credentials), only
 * what the sanitizers of a checked build read. Jobs get their own. */
static void helper_env(char **env, size_t max)
{
	static const char *const keep[] = { "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
					    "LSAN_OPTIONS=", "PATH=" };
	size_t n = 0, i;
	char **e;

	for (e = environ; *e && n + 1 < max; e++)
		for (i = 0; i < SKY_ARRAY_SIZE(keep); i++)
			if (!strncmp(*e, keep[i], strlen(keep[i]))) {
				env[n++] = *e;
				break;
			}
	env[n] = NULL;
}

/* Starts the helper (L.lock held). */
static int helper_spawn(void)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *argv[] = { SKY_JOB_HELPER, NULL }, *env[8];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = TAG_EVENTS };
	struct epoll_event hev = { .events = EPOLLIN, .data.u32 = TAG_HELPER };
	int rq[2] = { -1, -1 }, evs[2] = { -1, -1 }, rc;
	sigset_t none;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rq) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, evs)) {
		rc = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, rq[1], SKY_JOB_HELPER_REQ_FD);
	posix_spawn_file_actions_adddup2(&fa, evs[1], SKY_JOB_HELPER_EV_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, SKY_JOB_HELPER_EV_FD + 1);
	/* it pins no directory (a mountpoint, the state directory) */
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	/* its own group: what is sent to the daemon's group is not for it */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	helper_env(env, SKY_ARRAY_SIZE(env));
	rc = -posix_spawn(&L.helper, "/proc/self/exe", &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc)
		goto out;
	L.helper_fd = (int)syscall(SYS_pidfd_open, L.helper, 0);
	if (L.helper_fd < 0 || epoll_ctl(L.epfd, EPOLL_CTL_ADD, evs[0], &ev) ||
	    epoll_ctl(L.epfd, EPOLL_CTL_ADD, L.helper_fd, &hev)) {
		rc = -errno;
		epoll_ctl(L.epfd, EPOLL_CTL_DEL, evs[0], NULL);
		if (L.helper_fd >= 0)
			close(L.helper_fd);
		L.helper_fd = -1;
		kill(L.helper, SIGKILL);
		waitpid(L.helper, NULL, 0);
		goto out;
	}
	fcntl(L.helper_fd, F_SETFD, FD_CLOEXEC);
	/* a helper that stopped reading must not hang the dispatcher */
	setsockopt(rq[0], SOL_SOCKET, SO_SNDTIMEO,
		   &(struct timeval){ HELPER_TIMEOUT_MS / 1000, 0 }, sizeof(struct timeval));
	L.req_fd = rq[0];
	/* the reaper reads it without the lock */
	__atomic_store_n(&L.ev_fd, evs[0], __ATOMIC_RELEASE);
	rq[0] = evs[0] = -1;
out:
	if (rc)
		log_error("cannot start the job helper: %s", strerror(-rc));
	for (int i = 0; i < 2; i++) {
		if (rq[i] >= 0)
			close(rq[i]);
		if (evs[i] >= 0)
			close(evs[i]);
	}
	return rc;
}

/* Sends one start request (L.lock held); the answer comes to the reaper. */
static int helper_request(struct sky_exec *ex, const char *path, const char *const *argv,
			  char *const *envp)
{
	struct sky_job_req h = { 0, 0, 0, 0, 0 };
	struct sky_buf b = { 0 };
	/* a launcher writes the job's files itself; its own words go apart */
	const char *fixed[4] = { path, ex->workdir, ex->diag_path ? "/dev/null" : ex->out_path,
				 ex->diag_path ? ex->diag_path : ex->err_path };
	size_t i;
	int rc = 0;

	if (L.req_fd < 0) {
		/* a helper that died is replaced once the reaper has seen it go */
		if (__atomic_load_n(&L.ev_fd, __ATOMIC_ACQUIRE) >= 0)
			return -EAGAIN;
		if ((rc = helper_spawn()))
			return rc;
	}
	for (i = 0; i < 4; i++)
		sky_buf_append(&b, fixed[i], strlen(fixed[i]) + 1);
	for (i = 0; argv[i]; i++, h.nargv++)
		sky_buf_append(&b, argv[i], strlen(argv[i]) + 1);
	for (i = 0; envp && envp[i]; i++, h.nenv++)
		sky_buf_append(&b, envp[i], strlen(envp[i]) + 1);
	if (!b.data || b.len > UINT32_MAX) {
		rc = b.data ? -E2BIG : -ENOMEM;
		goto out;
	}
	h.id = ex->id = ++L.next_id;
	h.len = (uint32_t)b.len;
	if ((rc = sky_send_all(L.req_fd, &h, sizeof(h))) ||
	    (rc = sky_send_all(L.req_fd, b.data, b.len))) {
		/* the reaper sees its message socket end and fails what it ran */
		log_error("the job helper (pid %d) does not take requests: %s", (int)L.helper,
			  strerror(-rc));
		kill(L.helper, SIGKILL);
		close(L.req_fd);
		L.req_fd = -1;
	}
out:
	sky_buf_free(&b);
	return rc;
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

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (long long)st.st_size;
}

/* Cuts a file back to limit bytes (never longer: truncate(2) would grow it). */
static void cut(const char *path, long long limit)
{
	if (file_size(path) > limit && truncate(path, limit))
		log_warn("truncate %s: %s", path, strerror(errno));
}

/* Whether ex passed its limit now (first asking what it is); reaper only. */
static int passed_limit(struct sky_exec *ex)
{
	if (ex->over)
		return 1;
	if (ex->limit < 0)
		ex->limit = sky_output_limit(ex->out_path);
	if (ex->limit <= 0)
		return 0;
	if (file_size(ex->out_path) > ex->limit)
		ex->over = "stdout";
	else if (file_size(ex->err_path) > ex->limit)
		ex->over = "stderr";
	return ex->over != NULL;
}

static long long now_ms(void)
{
	return (long long)(sky_mono() * 1000.0);
}

/* Sends sig to ex's process group, or keeps it for its start, where a
 * kill kept is not replaced by a lesser signal (L.lock held). */
static int send_locked(struct sky_exec *ex, int sig)
{
	long long now = now_ms();

	if (!ex->job) {
		if (ex->pending_sig != ex->kill_sig)
			ex->pending_sig = sig;
		return 0;
	}
	if (sig == ex->term_sig) {
		ex->term_at = now;
		/* the kill must not overtake it */
		if (ex->rung == RUNG_KILL && ex->due < now + KILL_AFTER_TERM_MS)
			ex->due = now + KILL_AFTER_TERM_MS;
	}
	return kill(-ex->job, sig) ? -errno : 0;
}

/* Kills ex: at once, or by the ladder's first rung (L.lock held). */
static int kill_locked(struct sky_exec *ex)
{
	long long now = now_ms();

	if (!ex->force_sig) {
		ex->killed = 1;
		return send_locked(ex, ex->kill_sig);
	}
	if (ex->killed)
		return 0;
	ex->killed = 1;
	ex->rung = RUNG_KILL;
	ex->due = ex->term_at ? ex->term_at + KILL_AFTER_TERM_MS : now;
	return ex->term_at ? 0 : send_locked(ex, ex->term_sig);
}

/* Takes the kill ladders' steps that are due; the milliseconds until the
 * next one, or -1. Reaper only. */
static int climb(struct sky_exec *live)
{
	long long now = now_ms(), next = -1;
	struct sky_exec *ex;

	pthread_mutex_lock(&L.lock);
	for (ex = live; ex; ex = ex->next) {
		if (ex->rung == RUNG_NONE || ex->rung == RUNG_DONE || !ex->job)
			continue;
		if (now >= ex->due) {
			if (ex->rung == RUNG_KILL) {
				kill(-ex->job, ex->kill_sig);
				ex->due = now + FORCE_AFTER_MS;
			} else if (ex->rung == RUNG_FORCE) {
				log_info("job process %d: still there %d ms after its kill: "
					 "the launcher's own kill (signal %d)", (int)ex->job,
					 FORCE_AFTER_MS, ex->force_sig);
				kill(-ex->job, ex->force_sig);
				ex->due = now + LAST_RESORT_MS;
			} else {
				log_warn("job process %d: still there %d ms after the launcher's "
					 "kill: SIGKILL", (int)ex->job, LAST_RESORT_MS);
				kill(-ex->job, SIGKILL);
			}
			ex->rung++;
		}
		if (ex->rung != RUNG_DONE && (next < 0 || ex->due - now < next))
			next = ex->due > now ? ex->due - now : 0;
	}
	pthread_mutex_unlock(&L.lock);
	return (int)next;
}

static void check_limits(struct sky_exec *live)
{
	for (; live; live = live->next)
		if (live->job && !live->over && passed_limit(live)) {
			log_info("job process %d: %s passed max_output (%lld bytes): killed",
				 (int)live->job, live->over, live->limit);
			pthread_mutex_lock(&L.lock);
			kill_locked(live);
			pthread_mutex_unlock(&L.lock);
		}
}

/* Whether some execution still needs its limit looked at. */
static int watching(const struct sky_exec *live)
{
	for (; live; live = live->next)
		if (live->limit && !live->over)
			return 1;
	return 0;
}

/* The end of ex (its supervisor's status, or err when it was lost). */
static void finish(struct sky_exec **live, struct sky_exec *ex, int status, const char *err)
{
	struct sky_exec **pp;
	char why[512] = "", size[32];
	int flags = 0;

	for (pp = live; *pp && *pp != ex; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ex->next;
	why[0] = '\0';
	if (ex->translate && !err) {
		struct sky_local_end *end = calloc(1, sizeof(*end));

		if (end) {
			end->diag_path = ex->diag_path;
			end->err_path = ex->err_path;
			pthread_mutex_lock(&L.lock);
			end->cancelled = ex->signalled;
			end->killed = ex->killed;
			pthread_mutex_unlock(&L.lock);
			end->status = status;
			ex->translate(end);
			status = end->status;
			flags = end->flags;
			if (end->err)
				err = strncpy(why, end->err, sizeof(why) - 1);
			free(end);
		}
	}
	if (passed_limit(ex)) {
		/* what was written past the limit in the last poll goes; the
		 * kill's end is the job's, not its node's */
		cut(ex->out_path, ex->limit);
		cut(ex->err_path, ex->limit);
		sky_fmt_size(ex->limit, size, sizeof(size));
		snprintf(why, sizeof(why), "%s exceeded max_output (%s)", ex->over, size);
		err = why;
		flags = 0;
	}
	collect(ex);
	ex->done(ex->arg, status, err, flags);
	if (ex->diag_path)
		unlink(ex->diag_path);
	/* after done(): nobody waits for this, and the name is never reused */
	if (ex->workdir)
		sky_rm_rf(ex->workdir);
	exec_free(ex);
}

/* Takes the executions started since the last look into live. A start
 * puts its execution on fresh before it sends the request, both under
 * L.lock, so a message about it that was read before this call finds it
 * after. (The helper never blocks on sending to us, so a start never
 * waits for this thread while it holds L.lock.) */
static void take_fresh(struct sky_exec **live)
{
	struct sky_exec *f, *next;
	char drain[64];

	while (read(L.wake[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&L.lock);
	f = L.fresh;
	L.fresh = NULL;
	pthread_mutex_unlock(&L.lock);
	for (; f; f = next) {
		next = f->next;
		f->next = *live;
		*live = f;
	}
}

/* The helper died: what it supervised is lost; the next start replaces it. */
static void helper_gone(struct sky_exec **live)
{
	int status = 0;

	while (*live) {
		if ((*live)->job)
			kill(-(*live)->job, SIGKILL);
		finish(live, *live, SIGKILL, "the job's supervisor process died");
	}
	pthread_mutex_lock(&L.lock);
	epoll_ctl(L.epfd, EPOLL_CTL_DEL, L.ev_fd, NULL);
	epoll_ctl(L.epfd, EPOLL_CTL_DEL, L.helper_fd, NULL);
	close(L.ev_fd);
	close(L.helper_fd);
	L.helper_fd = -1;
	/* supervisors still running find the socket closed, and go */
	__atomic_store_n(&L.ev_fd, -1, __ATOMIC_RELEASE);
	if (L.req_fd >= 0) {
		close(L.req_fd);
		L.req_fd = -1;
	}
	if (L.helper > 0 && waitpid(L.helper, &status, 0) > 0)
		log_error("the job helper (pid %d) ended (status 0x%x)", (int)L.helper, status);
	L.helper = 0;
	pthread_mutex_unlock(&L.lock);
}

/* One message from the helper about ex. */
static void handle(struct sky_exec **live, struct sky_exec *ex, const struct sky_job_msg *m)
{
	char why[128];
	int sig;

	switch (m->kind) {
	case SKY_JOB_STARTED:
		pthread_mutex_lock(&L.lock);
		ex->job = m->value;
		sig = ex->pending_sig;
		if (sig)
			send_locked(ex, sig);
		pthread_mutex_unlock(&L.lock);
		break;
	case SKY_JOB_NOT_STARTED:
		snprintf(why, sizeof(why), "cannot start the payload: %s", strerror(m->value));
		finish(live, ex, 0, why);
		break;
	default:
		finish(live, ex, m->value, NULL);
		break;
	}
}

static void *reaper_main(void *arg)
{
	struct epoll_event evs[8];
	struct sky_job_msg msgs[256];
	struct sky_exec *live = NULL;
	int timeout = -1;

	(void)arg;
	for (;;) {
		int n = epoll_wait(L.epfd, evs, 8, timeout), i, k = 0;
		int gone = 0, evfd = __atomic_load_n(&L.ev_fd, __ATOMIC_ACQUIRE);
		ssize_t r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++)
			if (evs[i].data.u32 == TAG_HELPER)
				gone = 1;
		/* the messages first, then what started (see take_fresh) */
		while (evfd >= 0 && k < (int)SKY_ARRAY_SIZE(msgs)) {
			r = recv(evfd, &msgs[k], sizeof(msgs[k]), MSG_DONTWAIT);
			if (r == (ssize_t)sizeof(msgs[k]))
				k++;
			else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				gone = 1;
			if (r <= 0)
				break;
		}
		take_fresh(&live);
		if (__atomic_load_n(&L.stopping, __ATOMIC_ACQUIRE))
			return NULL;
		for (i = 0; i < k; i++) {
			struct sky_exec *ex;

			for (ex = live; ex && ex->id != msgs[i].id; ex = ex->next)
				;
			/* none: the second report of an end (a supervisor killed
			 * after it reported, see common/proc.c) */
			if (ex)
				handle(&live, ex, &msgs[i]);
		}
		if (gone)
			helper_gone(&live);
		check_limits(live);
		timeout = climb(live);
		if (watching(live) && (timeout < 0 || timeout > LIMIT_POLL_MS))
			timeout = LIMIT_POLL_MS;
	}
	return NULL;
}

static void start_reaper(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = TAG_WAKE };

	L.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (L.epfd < 0 || pipe2(L.wake, O_CLOEXEC | O_NONBLOCK) ||
	    epoll_ctl(L.epfd, EPOLL_CTL_ADD, L.wake[0], &ev)) {
		L.start_err = -errno;
		return;
	}
	L.start_err = -pthread_create(&L.reaper, NULL, reaper_main, NULL);
	L.started = !L.start_err;
}

/* ---- the transport's operations ------------------------------------------------ */

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

int sky_local_start(const struct sky_exec_req *req, const struct sky_local_wrap *wrap,
		    struct sky_exec **out)
{
	const char *own[8], **argv = own;
	struct sky_exec *ex = NULL;
	size_t n = 0;
	int rc, first;

	pthread_once(&L.once, start_reaper);
	if (L.start_err)
		return L.start_err;

	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	ex->limit = -1;
	ex->term_sig = wrap && wrap->term_sig ? wrap->term_sig : SIGTERM;
	ex->kill_sig = wrap && wrap->kill_sig ? wrap->kill_sig : SIGKILL;
	ex->force_sig = wrap ? wrap->force_sig : 0;
	ex->done = req->done;
	ex->arg = req->arg;
	ex->workdir = strdup(req->workdir);
	ex->output_dir = req->output_dir ? strdup(req->output_dir) : NULL;
	ex->files_dest = req->files_dest ? strdup(req->files_dest) : NULL;
	ex->out_path = strdup(req->stdout_path);
	ex->err_path = strdup(req->stderr_path);
	if (wrap) {
		ex->diag_path = strdup(wrap->diag_path);
		ex->translate = wrap->translate;
		while (wrap->argv[n])
			n++;
		argv = calloc(n + SKY_ARRAY_SIZE(own), sizeof(*argv));
	}
	if (!ex->workdir || (req->output_dir && !ex->output_dir) ||
	    (req->files_dest && !ex->files_dest) || !ex->out_path || !ex->err_path ||
	    (wrap && (!ex->diag_path || !argv))) {
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
	if (wrap)
		memcpy(argv, wrap->argv, n * sizeof(*argv));
	build_argv(req, argv + n);
	/* on fresh before the request goes, both under L.lock: the reaper
	 * takes fresh (under L.lock) after reading the answer */
	pthread_mutex_lock(&L.lock);
	first = !L.fresh;
	ex->next = L.fresh;
	L.fresh = ex;
	rc = helper_request(ex, argv[0], argv, req->envp);
	if (rc)
		L.fresh = ex->next;
	else if (first && write(L.wake[1], "n", 1) < 0 && errno != EAGAIN)
		log_warn("cannot wake the reaper: %s", strerror(errno));
	pthread_mutex_unlock(&L.lock);
	if (rc)
		goto out;
	*out = ex;
	ex = NULL;
out:
	if (argv != own)
		free(argv);
	if (ex) {
		if (ex->workdir)
			sky_rm_rf(ex->workdir);
		exec_free(ex);
	}
	return rc;
}

static int local_start(const struct sky_instance *inst, const struct sky_exec_req *req,
		       struct sky_exec **out)
{
	(void)inst;
	return sky_local_start(req, NULL, out);
}

/* A cancel before the job started is sent when it does (SIGKILL wins). */
int sky_local_cancel(struct sky_exec *ex, int sig)
{
	int rc, ladder;

	pthread_mutex_lock(&L.lock);
	ex->signalled = 1;
	if (sig == SIGKILL)
		rc = kill_locked(ex);
	else
		rc = send_locked(ex, sig == SIGTERM ? ex->term_sig : sig);
	ladder = ex->rung != RUNG_NONE;
	pthread_mutex_unlock(&L.lock);
	/* the reaper times the ladder's steps */
	if (ladder && write(L.wake[1], "k", 1) < 0 && errno != EAGAIN)
		log_warn("cannot wake the reaper: %s", strerror(errno));
	return rc;
}

static int local_shutdown(void)
{
	if (!L.started)
		return 0;
	__atomic_store_n(&L.stopping, 1, __ATOMIC_RELEASE);
	if (write(L.wake[1], "x", 1) != 1 && errno != EAGAIN)
		return -errno;
	pthread_join(L.reaper, NULL);
	/* the helper goes when its request socket closes */
	if (L.req_fd >= 0)
		close(L.req_fd);
	if (L.ev_fd >= 0)
		close(L.ev_fd);
	if (L.helper_fd >= 0)
		close(L.helper_fd);
	if (L.helper > 0)
		waitpid(L.helper, NULL, 0);
	L.req_fd = L.ev_fd = L.helper_fd = -1;
	L.helper = 0;
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
	.cancel = sky_local_cancel,
	.shutdown = local_shutdown,
};
