/* One execution over SSH, as a state machine the connection's thread
 * advances without ever blocking: open a channel, send the command, stream
 * the payload into its stdin, copy stdout and stderr into the result files
 * as they arrive, take the exit status, and, when the job left files in
 * $SKY_OUTPUT, bring them back as a tar stream on a second channel.
 * Each of stdout and stderr is written up to the pool's max_output
 * (put_file); past it the job is killed and fails saying why.
 *
 * The remote wrapper (built in ssh.c) ends stderr with a trailer line
 * "<token> <0|1>" (a random token per execution) saying whether $SKY_OUTPUT
 * has files; it is held back and cut off here, so a job's stderr arrives
 * intact and no second channel is opened for jobs that wrote no files. */
#define LOG_MODULE "ssh"
#include "transport/ssh_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

extern char **environ;

void ssh_exec_free(struct sky_exec *x)
{
	if (x->ch) {
		libssh2_channel_free(x->ch);
		x->ch = NULL;
	}
	if (x->payload_fd >= 0)
		close(x->payload_fd);
	if (x->out_fd >= 0)
		close(x->out_fd);
	if (x->err_fd >= 0)
		close(x->err_fd);
	if (x->tar_fd >= 0)
		close(x->tar_fd);
	if (x->tar_pid > 0) {
		kill(x->tar_pid, SIGKILL);
		waitpid(x->tar_pid, NULL, 0);
	}
	free(x->command);
	free(x->remote_dir);
	free(x->files_dest);
	sky_buf_free(&x->cap);
	free(x);
}

void ssh_exec_release(struct sky_ssh_conn *c, struct sky_exec *x)
{
	int keep;

	/* x is off every list of the thread's by now: only here may a waiter
	 * learn that it finished (and free it) */
	pthread_mutex_lock(&c->lock);
	keep = x->waiter && !x->abandoned;
	if (keep) {
		x->finished = 1;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	if (!keep)
		ssh_exec_free(x);
}

static void finish(struct sky_exec *x, const char *err, int flags)
{
	x->phase = X_FINISHED;
	if (x->done)
		x->done(x->arg, x->status, err, flags);
}

void ssh_exec_fail(struct sky_exec *x, const char *why, int flags)
{
	snprintf(x->err, sizeof(x->err), "%s", why);
	finish(x, x->err, flags);
}

/* The pool's output limit for x's files, asked by the path of one of them
 * (the scheduler knows pools by their directories). On this thread, which
 * the scheduler never waits for while holding its lock. */
static void learn_limit(struct sky_exec *x)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	x->limit_known = 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", x->out_fd >= 0 ? x->out_fd : x->err_fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	x->limit = sky_output_limit(path);
}

/* Writes a stream's bytes to its file up to max_output. The first byte
 * past it kills the job (its process group on the node, through the cancel
 * path) and makes it fail saying why; the rest of that stream is dropped,
 * so a job cannot fill this machine's disk from a remote node. */
static void put_file(struct sky_exec *x, int fd, long long *written, const char *which,
		     const char *p, size_t n)
{
	char size[32];

	if (fd < 0)
		return;
	if (!x->limit_known)
		learn_limit(x);
	if (x->limit > 0 && *written + (long long)n > x->limit) {
		if (*written < x->limit)
			sky_write_all(fd, p, (size_t)(x->limit - *written));
		*written = x->limit;
		if (x->over)
			return;
		x->over = which;
		sky_fmt_size(x->limit, size, sizeof(size));
		snprintf(x->err, sizeof(x->err), "%s exceeded max_output (%s)", which, size);
		log_info("%s: %s", x->remote_dir ? x->remote_dir : "exec", x->err);
		__atomic_store_n(&x->cancel_sig, SIGKILL, __ATOMIC_RELEASE);
		return;
	}
	sky_write_all(fd, p, n);
	*written += (long long)n;
}

static void put_stdout(struct sky_exec *x, const char *p, size_t n)
{
	if (x->capture) {
		if (x->capture->len + n <= x->capture_max)
			sky_buf_append(x->capture, p, n);
	} else {
		put_file(x, x->out_fd, &x->out_bytes, "stdout", p, n);
	}
}

static void err_file(struct sky_exec *x, const char *p, size_t n)
{
	put_file(x, x->err_fd, &x->err_bytes, "stderr", p, n);
}

/* stderr, minus the trailer: the last sizeof(tail)/2 bytes stay held back
 * until the stream ends. */
static void put_stderr(struct sky_exec *x, const char *p, size_t n)
{
	size_t keep = sizeof(x->tail) / 2;

	if (!x->token[0]) {
		err_file(x, p, n);
		return;
	}
	while (n > 0) {
		size_t room = sizeof(x->tail) - x->tail_len, k = n < room ? n : room;

		memcpy(x->tail + x->tail_len, p, k);
		x->tail_len += k;
		p += k;
		n -= k;
		if (x->tail_len > keep) {
			size_t out = x->tail_len - keep;
			err_file(x, x->tail, out);
			memmove(x->tail, x->tail + out, keep);
			x->tail_len = keep;
		}
	}
}

/* At the end of stderr: cut "\n<token> N\n" off what was held back. */
static void end_stderr(struct sky_exec *x)
{
	char trailer[64];
	size_t tl;
	int i;

	if (!x->token[0])
		return;
	for (i = 0; i <= 1; i++) {
		tl = (size_t)snprintf(trailer, sizeof(trailer), "\n%s %d\n", x->token, i);
		if (x->tail_len >= tl && !memcmp(x->tail + x->tail_len - tl, trailer, tl)) {
			x->has_output = i;
			x->tail_len -= tl;
			break;
		}
	}
	if (x->tail_len)
		err_file(x, x->tail, x->tail_len);
	x->tail_len = 0;
}

/* How many reads of each stream one step may do: a job that writes as
 * fast as the link goes must not keep its connection's thread here, away
 * from the other executions and from the cancels it sends (the kill of a
 * job past max_output among them). The thread comes back at once: data
 * already read by libssh2 counts as progress (ssh.c). */
#define DRAIN_ROUNDS 32

/* Reads what is there on both streams. 1 at EOF, 0 when waiting (or when
 * there is more than one step takes), <0 on a session error. */
static int drain(struct sky_exec *x, LIBSSH2_SESSION *s)
{
	char buf[131072];
	ssize_t n;
	int more, rounds = 0;

	do {
		more = 0;
		n = libssh2_channel_read(x->ch, buf, sizeof(buf));
		if (n > 0) {
			put_stdout(x, buf, (size_t)n);
			x->progress++;
			more = 1;
		} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			return (int)n;
		}
		n = libssh2_channel_read_stderr(x->ch, buf, sizeof(buf));
		if (n > 0) {
			put_stderr(x, buf, (size_t)n);
			x->progress++;
			more = 1;
		} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			return (int)n;
		}
	} while (more && ++rounds < DRAIN_ROUNDS);
	(void)s;
	return !more && libssh2_channel_eof(x->ch) ? 1 : 0;
}

static int signal_number(const char *name)
{
	static const struct { const char *n; int s; } sigs[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
		{ "ABRT", SIGABRT }, { "FPE", SIGFPE }, { "KILL", SIGKILL }, { "SEGV", SIGSEGV },
		{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 }, { "BUS", SIGBUS },
	};
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(sigs); i++)
		if (!strcmp(name, sigs[i].n))
			return sigs[i].s;
	return SIGTERM;
}

/* The fetch's local side: tar -x into files_dest, fed through a pipe. */
static int start_untar(struct sky_exec *x)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { "tar", "-xf", "-", "-C", x->files_dest, NULL };
	int p[2], rc;

	if ((rc = sky_mkdir_p(x->files_dest, 0755)))
		return rc;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = -posix_spawnp(&x->tar_pid, "tar", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (rc) {
		close(p[1]);
		x->tar_pid = 0;
		return rc;
	}
	x->tar_fd = p[1];
	return 0;
}

/* A window of 16 MiB lets a job's output stream without waiting for
 * window adjustments every 2 MiB (the default). */
#define WINDOW (16 * 1024 * 1024)

static int open_channel(struct sky_exec *x, LIBSSH2_SESSION *s)
{
	x->ch = libssh2_channel_open_ex(s, "session", sizeof("session") - 1, WINDOW,
					LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
	if (x->ch)
		return 1;
	return libssh2_session_last_errno(s) == LIBSSH2_ERROR_EAGAIN ? 0 : -1;
}

int ssh_exec_step(struct sky_ssh_conn *c, struct sky_exec *x)
{
	LIBSSH2_SESSION *s = c->s;
	char *msg = NULL;
	int rc;

	/* a handle from an older session is stale: its channel died with it */
	if (x->phase != X_QUEUED && x->phase != X_FINISHED && x->gen != c->gen) {
		x->ch = NULL;
		ssh_exec_fail(x, "the session it ran on was lost", SKY_EXEC_NODE_LOST);
		return 1;
	}
	for (;; x->progress++) {
		switch (x->phase) {
		case X_QUEUED:
			x->gen = c->gen;
			x->phase = X_OPEN;
			/* fall through */
		case X_OPEN:
			rc = open_channel(x, s);
			if (rc <= 0)
				return rc;
			x->phase = X_EXEC;
			/* fall through */
		case X_EXEC:
			rc = libssh2_channel_exec(x->ch, x->command);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return 0;
			if (rc) {
				libssh2_session_last_error(s, &msg, NULL, 0);
				ssh_exec_fail(x, msg ? msg : "exec refused", SKY_EXEC_NODE_LOST);
				return 1;
			}
			x->phase = X_SEND;
			/* fall through */
		case X_SEND:
			while (!x->stdin_done) {
				ssize_t w;

				if (x->buf_off == x->buf_len && x->payload_fd >= 0) {
					ssize_t r = read(x->payload_fd, x->buf, sizeof(x->buf));
					if (r < 0 && errno == EINTR)
						continue;
					if (r <= 0) {
						close(x->payload_fd);
						x->payload_fd = -1;
					} else {
						x->buf_len = (size_t)r;
						x->buf_off = 0;
					}
				}
				if (x->buf_off == x->buf_len) {
					rc = libssh2_channel_send_eof(x->ch);
					if (rc == LIBSSH2_ERROR_EAGAIN)
						goto wait_send;
					if (rc < 0)
						return -1;
					x->stdin_done = 1;
					break;
				}
				w = libssh2_channel_write(x->ch, x->buf + x->buf_off,
							  x->buf_len - x->buf_off);
				if (w == LIBSSH2_ERROR_EAGAIN)
					goto wait_send;
				if (w < 0)
					return -1;
				x->buf_off += (size_t)w;
			}
			x->phase = X_RUN;
			/* fall through */
		case X_RUN:
			rc = drain(x, s);
			if (rc < 0)
				return -1;
			if (!rc)
				return 0;
			end_stderr(x);
			x->phase = X_CLOSE;
			/* fall through */
		case X_CLOSE: {
			char *sig = NULL;

			rc = libssh2_channel_close(x->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return 0;
			rc = libssh2_channel_wait_closed(x->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return 0;
			x->status = (libssh2_channel_get_exit_status(x->ch) & 0xff) << 8;
			if (libssh2_channel_get_exit_signal(x->ch, &sig, NULL, NULL, NULL, NULL,
							    NULL) == 0 && sig) {
				x->status = signal_number(sig);
				libssh2_free(s, sig);
			}
			libssh2_channel_free(x->ch);
			x->ch = NULL;
			if (!(x->has_output && x->files_dest)) {
				x->phase = X_FINISHED;
				break;
			}
			free(x->command);
			x->command = NULL;
			{
				struct sky_buf b = { 0 };
				sky_buf_printf(&b, "cd ");
				sky_buf_shquote(&b, x->remote_dir);
				sky_buf_printf(&b, "/out && tar -cf - . ; cd / && rm -rf ");
				sky_buf_shquote(&b, x->remote_dir);
				x->command = b.data;
			}
			if (!x->command || start_untar(x)) {
				snprintf(x->err, sizeof(x->err), "cannot bring $SKY_OUTPUT back");
				x->phase = X_FINISHED;
				break;
			}
			x->phase = X_FETCH_OPEN;
		}
			/* fall through */
		case X_FETCH_OPEN:
			rc = open_channel(x, s);
			if (rc <= 0)
				return rc;
			x->phase = X_FETCH_EXEC;
			/* fall through */
		case X_FETCH_EXEC:
			rc = libssh2_channel_exec(x->ch, x->command);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return 0;
			if (rc)
				return -1;
			x->phase = X_FETCH;
			/* fall through */
		case X_FETCH: {
			char buf[32768];
			ssize_t n;

			while ((n = libssh2_channel_read(x->ch, buf, sizeof(buf))) > 0)
				if (x->tar_fd >= 0 && sky_write_all(x->tar_fd, buf, (size_t)n)) {
					close(x->tar_fd);
					x->tar_fd = -1;
				}
			if (n == LIBSSH2_ERROR_EAGAIN && !libssh2_channel_eof(x->ch))
				return 0;
			if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
				return -1;
			if (x->tar_fd >= 0)
				close(x->tar_fd);
			x->tar_fd = -1;
			if (x->tar_pid > 0) {
				waitpid(x->tar_pid, NULL, 0);
				x->tar_pid = 0;
			}
			x->phase = X_FETCH_CLOSE;
		}
			/* fall through */
		case X_FETCH_CLOSE:
			rc = libssh2_channel_close(x->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return 0;
			libssh2_channel_free(x->ch);
			x->ch = NULL;
			x->phase = X_FINISHED;
			/* fall through */
		case X_FINISHED:
			finish(x, x->err[0] ? x->err : NULL, 0);
			return 1;
		}
	}
wait_send:
	/* the window is full: read what came back meanwhile, so neither side
	 * waits for the other */
	return drain(x, s) < 0 ? -1 : 0;
}
