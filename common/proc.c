/* Bounded helper commands, and the local transport's job helper with its
 * supervisors (see proc.h). */
#include "common/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int sky_run_capture(char *const argv[], int timeout_ms, struct sky_buf *out, size_t max,
		    int *status)
{
	return sky_run_capture_env(argv, environ, timeout_ms, out, max, status);
}

int sky_run_capture_env(char *const argv[], char *const envp[], int timeout_ms,
			struct sky_buf *out, size_t max, int *status)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all;
	int pfd[2] = { -1, -1 }, rc;
	pid_t pid = -1;
	double deadline = sky_mono() + timeout_ms / 1000.0;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	sigfillset(&all);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = -posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(pfd[1]);
	if (rc)
		goto out;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int left = (int)((deadline - sky_mono()) * 1000);
		char chunk[4096];
		ssize_t r;

		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (!p.revents)
			continue;
		r = read(pfd[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out->len + (size_t)r <= max && (rc = sky_buf_append(out, chunk, (size_t)r)))
			break;
	}
	if (rc)
		kill(-pid, SIGKILL);
	if (waitpid(pid, status, 0) < 0 && !rc)
		rc = -errno;
out:
	close(pfd[0]);
	return rc;
}

int sky_read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r ? -errno : -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int sky_send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- the supervisor (a fork of the helper) ---------------------------------- */

/* SIGKILLs every child of ours (orphans the subreaper inherited); returns
 * how many. */
static int kill_children(void)
{
	char path[64], stat[512], *p;
	pid_t self = getpid();
	struct dirent *de;
	DIR *d = opendir("/proc");
	int n = 0, fd;
	ssize_t r;
	long ppid;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		if (r <= 0)
			continue;
		stat[r] = '\0';
		/* "pid (comm) S ppid ...": comm may hold anything, even ") " */
		p = strrchr(stat, ')');
		if (p && sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == self &&
		    !kill((pid_t)pid, SIGKILL))
			n++;
	}
	closedir(d);
	return n;
}

/* Kills what the job left until nothing is left: killing a process
 * re-parents its children to us, so this goes one generation a round. */
static void kill_leftovers(void)
{
	for (;;) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG))
			return;             /* ECHILD: nothing left */
		if (si.si_pid)
			continue;           /* reaped one that was dead already */
		if (!kill_children())
			return;             /* children, yet none seen: no /proc */
		memset(&si, 0, sizeof(si));
		waitid(P_ALL, 0, &si, WEXITED);
	}
}

struct job_spec {
	const char *path, *workdir, *out, *err;
	char **argv, **envp;
};

/* Spawns the job; returns its pid or -errno. */
static pid_t spawn_job(const struct job_spec *js)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	pid_t pid = 0;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, js->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, js->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addchdir_np(&fa, js->workdir);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* the supervisor blocks every signal and the daemon ignores SIGPIPE;
	 * the mask and ignored signals survive exec, so reset all */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, js->path, &fa, &at, js->argv, js->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc ? -rc : pid;
}

/* Tells the daemon about job id (on the helper's message socket, which
 * the supervisor shares: messages of a SOCK_SEQPACKET socket never mix). */
static int report(uint64_t id, int kind, int value)
{
	struct sky_job_msg m = { id, kind, value };

	while (send(SKY_JOB_HELPER_EV_FD, &m, sizeof(m), MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* The supervisor of job id: spawns it, reports it started (or why not),
 * waits for it, takes down what it left, reports its status, exits 0 (the
 * helper reports for a supervisor that ended otherwise). */
static void __attribute__((noreturn)) supervise(const struct job_spec *js, uint64_t id)
{
	sigset_t all, wake;
	siginfo_t si;
	struct timespec poll_s = { 1, 0 };
	pid_t job, helper = getppid();

	/* immune to the signals meant for the job: those go to its group */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	/* the helper's death (kill -9, the OOM killer) must not leave the job
	 * running with nobody to report or cancel it: SIGUSR1 then (and a
	 * look at the parent every second, for a death before this call) */
	prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
	sigemptyset(&wake);
	sigaddset(&wake, SIGCHLD);
	sigaddset(&wake, SIGUSR1);
	/* of the helper's descriptors, only the message socket stays */
	syscall(SYS_close_range, 3, SKY_JOB_HELPER_EV_FD - 1, 0);
	syscall(SYS_close_range, SKY_JOB_HELPER_EV_FD + 1, ~0U, 0);
	prctl(PR_SET_NAME, "skyfs-job", 0, 0, 0);
	setpgid(0, 0);
	job = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ? -errno : spawn_job(js);
	if (job < 0)
		_exit(report(id, SKY_JOB_NOT_STARTED, -job) ? 1 : 0);
	report(id, SKY_JOB_STARTED, job);
	for (;;) {
		memset(&si, 0, sizeof(si));
		/* WNOWAIT first: the job's zombie keeps its process group id
		 * reserved while the group is killed */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | WNOHANG)) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (si.si_pid == job)
			break;
		if (si.si_pid) {
			waitpid(si.si_pid, NULL, 0);   /* an orphan that ended on its own */
			continue;
		}
		if (getppid() != helper)
			kill(-job, SIGKILL);   /* orphaned: the job ends, and so do we */
		sigtimedwait(&wake, NULL, &poll_s);
	}
	kill(-job, SIGKILL);
	waitpid(job, NULL, 0);
	kill_leftovers();
	_exit(report(id, SKY_JOB_ENDED, si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 :
		     si.si_status & 0x7f) ? 1 : 0);
}

/* ---- the helper process ------------------------------------------------------- */

struct sup {
	pid_t pid;
	uint64_t id;
};

static struct {
	struct sup *v;
	size_t n, cap;
} H;

/* Parses a start request's strings into js (pointers into body). */
static int parse_request(const struct sky_job_req *h, char *body, struct job_spec *js)
{
	char **ptrs, *p = body, *end = body + h->len;
	size_t want = 4 + (size_t)h->nargv + 1 + h->nenv + 1, i;

	if (h->len && end[-1] != '\0')
		return -EINVAL;
	ptrs = calloc(want, sizeof(*ptrs));
	if (!ptrs)
		return -ENOMEM;
	for (i = 0; i < want; i++) {
		if (i == 4 + h->nargv || i == want - 1)
			continue;           /* the NULLs ending argv and envp */
		if (p >= end) {
			free(ptrs);
			return -EINVAL;
		}
		ptrs[i] = p;
		p += strlen(p) + 1;
	}
	js->path = ptrs[0];
	js->workdir = ptrs[1];
	js->out = ptrs[2];
	js->err = ptrs[3];
	js->argv = ptrs + 4;
	js->envp = ptrs + 4 + h->nargv + 1;
	return 0;
}

/* Forks a supervisor for one request. Returns 0, or -errno when there is
 * none (the caller reports the job as not started). */
static int helper_start_one(const struct sky_job_req *h, char *body)
{
	struct job_spec js;
	pid_t pid;
	int rc;

	if ((rc = parse_request(h, body, &js)))
		return rc;
	if (H.n == H.cap) {
		size_t cap = H.cap ? H.cap * 2 : 64;
		struct sup *v = realloc(H.v, cap * sizeof(*v));

		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		H.v = v;
		H.cap = cap;
	}
	pid = fork();
	if (pid == 0)
		supervise(&js, h->id);
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	H.v[H.n].pid = pid;
	H.v[H.n].id = h->id;
	H.n++;
out:
	free(js.argv - 4);
	return rc;
}

/* The helper's own messages for the daemon, not sent yet. The helper never
 * blocks on the daemon: the daemon may be sending a request (under the lock
 * its reader also takes) while its reader is not reading, and the helper
 * must go on reading requests meanwhile. (Supervisors may block: nothing
 * waits for them.) */
static struct {
	struct sky_job_msg *v;
	size_t n, cap;
} O;

static int outbox_push(const struct sky_job_msg *m)
{
	if (O.n == O.cap) {
		size_t cap = O.cap ? O.cap * 2 : 64;
		struct sky_job_msg *v = realloc(O.v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		O.v = v;
		O.cap = cap;
	}
	O.v[O.n++] = *m;
	return 0;
}

/* Sends what the socket takes now; -EPIPE when the daemon is gone. */
static int outbox_flush(void)
{
	size_t i = 0;
	int rc = 0;

	while (i < O.n) {
		if (send(SKY_JOB_HELPER_EV_FD, &O.v[i], sizeof(O.v[i]),
			 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				rc = -EPIPE;
			break;
		}
		i++;
	}
	if (i) {
		memmove(O.v, O.v + i, (O.n - i) * sizeof(*O.v));
		O.n -= i;
	}
	return rc;
}

/* Reaps the supervisors that ended. One that did not exit 0 may not have
 * reported its job's end (it was killed): that is reported for it, with
 * its own status (a duplicate of a report it did send is ignored). */
static int helper_reap(void)
{
	struct sky_job_msg ev = { 0, SKY_JOB_ENDED, 0 };
	int status, rc = 0;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < H.n; i++)
			if (H.v[i].pid == pid) {
				ev.id = H.v[i].id;
				ev.value = WIFEXITED(status) ? 127 << 8 : status;
				H.v[i] = H.v[--H.n];
				if (!(WIFEXITED(status) && !WEXITSTATUS(status)))
					rc = rc ? rc : outbox_push(&ev);
				break;
			}
	return rc;
}

/* The helper's main loop: until the daemon closes its end. */
int sky_job_helper_main(void)
{
	struct pollfd pf[3];
	struct sky_job_req h;
	sigset_t chld;
	char *body;
	int rc = 0;

	prctl(PR_SET_NAME, "skyfs-helper", 0, 0, 0);
	/* a terminal's ^C or a kill of the daemon's group is not for us: the
	 * daemon cancels its jobs itself, and we go when it closes the socket */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	pf[0].fd = SKY_JOB_HELPER_REQ_FD;
	pf[0].events = POLLIN;
	pf[1].fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	pf[1].events = POLLIN;
	pf[2].fd = SKY_JOB_HELPER_EV_FD;
	if (pf[1].fd < 0)
		return 1;
	for (;;) {
		struct signalfd_siginfo ssi;
		struct sky_job_msg rep = { 0, 0, 0 };

		pf[2].events = O.n ? POLLOUT : 0;
		if (poll(pf, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents) {
			while (read(pf[1].fd, &ssi, sizeof(ssi)) > 0)
				;
			if (helper_reap())
				break;
		}
		if (pf[0].revents) {
			if (sky_read_all(SKY_JOB_HELPER_REQ_FD, &h, sizeof(h)))
				break;                  /* the daemon is gone */
			body = malloc((size_t)h.len + 1);
			if (!body || sky_read_all(SKY_JOB_HELPER_REQ_FD, body, h.len)) {
				free(body);
				rc = 1;
				break;
			}
			rep.id = h.id;
			rep.kind = SKY_JOB_NOT_STARTED;
			rep.value = -helper_start_one(&h, body);
			free(body);
			if (rep.value && outbox_push(&rep))
				break;
		}
		if (outbox_flush())
			break;                          /* the daemon is gone */
	}
	close(pf[1].fd);
	free(H.v);
	free(O.v);
	return rc;
}
