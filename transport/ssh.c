/* The SSH transport's connections (see ssh.h): one thread per node owning
 * one libssh2 session in non-blocking mode, with every wait bounded by
 * poll; the queue other threads hand executions over by; connecting,
 * verifying the host key, authenticating, the heartbeat that tells a live
 * node from a frozen one, and reconnecting with backoff. The executions
 * themselves are state machines in ssh_exec.c. */
#define LOG_MODULE "ssh"
#include "transport/ssh_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "providers/provider.h"

#define BACKOFF_MIN 1.0
#define BACKOFF_MAX 30.0

int sky_ssh_global_init(void)
{
	return libssh2_init(0) ? -EIO : 0;
}

static void wake(struct sky_ssh_conn *c)
{
	if (write(c->wake[1], "x", 1) < 0) {
		/* the pipe is full: the thread is awake already */
	}
}

static void set_state(struct sky_ssh_conn *c, int up, int rc, const char *msg)
{
	/* a refused host key is not an outage: that is not the machine */
	int report = up ? 1 : rc == -EPERM ? -1 : 0;
	int changed;

	pthread_mutex_lock(&c->lock);
	changed = c->up != up || (report < 0 && c->last_rc != -EPERM);
	c->up = up;
	c->last_rc = rc;
	snprintf(c->last_msg, sizeof(c->last_msg), "%s", msg ? msg : "");
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (changed && c->p.state)
		c->p.state(c->p.state_arg, report, msg);
}

/* ---- connecting ----------------------------------------------------------- */

/* Waits until the socket is ready for what libssh2 waits on, or deadline. */
static int wait_sock(struct sky_ssh_conn *c, double deadline)
{
	struct pollfd pf = { .fd = c->sock, .events = 0 };
	int dir = c->s ? libssh2_session_block_directions(c->s) : LIBSSH2_SESSION_BLOCK_OUTBOUND;
	int left = (int)((deadline - sky_mono()) * 1000);

	if (left <= 0)
		return -ETIMEDOUT;
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pf.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pf.events |= POLLOUT;
	if (!pf.events)
		pf.events = POLLIN;
	if (poll(&pf, 1, left > 200 ? 200 : left) < 0 && errno != EINTR)
		return -errno;
	if (pf.revents & POLLIN)
		c->last_rx = sky_mono();
	return 0;
}

static int tcp_connect(struct sky_ssh_conn *c, double deadline, char *msg, size_t len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai, *a;
	char port[16];
	int rc, fd = -1, err = 0;

	snprintf(port, sizeof(port), "%d", c->p.port ? c->p.port : 22);
	rc = getaddrinfo(c->p.host, port, &hints, &ai);
	if (rc) {
		snprintf(msg, len, "%s: %s", c->p.host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (a = ai; a; a = a->ai_next) {
		struct pollfd pf;
		socklen_t sl = sizeof(err);
		int left;

		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (!connect(fd, a->ai_addr, a->ai_addrlen))
			break;
		err = errno;
		if (err == EINPROGRESS) {
			pf.fd = fd;
			pf.events = POLLOUT;
			left = (int)((deadline - sky_mono()) * 1000);
			err = ETIMEDOUT;
			if (left > 0 && poll(&pf, 1, left) == 1 &&
			    !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) && !err)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(msg, len, "%s:%s: %s", c->p.host, port, strerror(err ? err : EHOSTUNREACH));
		return -(err ? err : EHOSTUNREACH);
	}
	c->sock = fd;
	return 0;
}

static int authenticate(struct sky_ssh_conn *c, double deadline, char *msg, size_t len)
{
	LIBSSH2_AGENT *agent = NULL;
	struct libssh2_agent_publickey *id = NULL;
	int rc;

	if (c->p.identity[0]) {
		while ((rc = libssh2_userauth_publickey_fromfile(c->s, c->p.user, NULL,
								 c->p.identity, NULL)) ==
		       LIBSSH2_ERROR_EAGAIN)
			if ((rc = wait_sock(c, deadline)))
				goto timeout;
		if (rc) {
			snprintf(msg, len, "%s@%s: key %s refused", c->p.user, c->p.host,
				 c->p.identity);
			return -EACCES;
		}
		return 0;
	}
	/* ssh-agent: the agent is local; only the server's answers can wait */
	agent = libssh2_agent_init(c->s);
	if (!agent || libssh2_agent_connect(agent) || libssh2_agent_list_identities(agent)) {
		snprintf(msg, len, "no identity given and no ssh-agent to ask");
		rc = -EACCES;
		goto out;
	}
	rc = -EACCES;
	while (libssh2_agent_get_identity(agent, &id, id) == 0) {
		int r;

		while ((r = libssh2_agent_userauth(agent, c->p.user, id)) == LIBSSH2_ERROR_EAGAIN)
			if (wait_sock(c, deadline))
				break;
		if (!r) {
			rc = 0;
			break;
		}
	}
	if (rc)
		snprintf(msg, len, "%s@%s: no ssh-agent key accepted", c->p.user, c->p.host);
out:
	if (agent) {
		libssh2_agent_disconnect(agent);
		libssh2_agent_free(agent);
	}
	return rc;
timeout:
	snprintf(msg, len, "%s: authentication timed out", c->p.host);
	return -ETIMEDOUT;
}

static void drop_session(struct sky_ssh_conn *c)
{
	if (c->s) {
		/* non-blocking, free() may stop half-way (EAGAIN) and leak the
		 * session: finish it blocking, but bounded, as the peer may be
		 * frozen */
		libssh2_session_set_timeout(c->s, 1000);
		libssh2_session_set_blocking(c->s, 1);
		libssh2_session_disconnect(c->s, "skyfs");
		/* a frozen peer never answers the channel closes free() waits
		 * for: with the socket shut, they fail at once and free() ends */
		if (c->sock >= 0)
			shutdown(c->sock, SHUT_RDWR);
		libssh2_session_free(c->s);
		c->s = NULL;
	}
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}

/* Runs x to its end on this thread (during connect), bounded by deadline. */
static int drive(struct sky_ssh_conn *c, struct sky_exec *x, double deadline)
{
	int rc;

	while ((rc = ssh_exec_step(c, x)) == 0)
		if ((rc = wait_sock(c, deadline)))
			return rc;
	return rc < 0 ? -EIO : 0;
}

static struct sky_exec *exec_new(void)
{
	struct sky_exec *x = calloc(1, sizeof(*x));

	if (x)
		x->payload_fd = x->out_fd = x->err_fd = x->tar_fd = -1;
	return x;
}

/* Makes the node-side base directory and learns its absolute path. */
static int make_base(struct sky_ssh_conn *c, double deadline, char *msg, size_t len)
{
	struct sky_exec *x = exec_new();
	struct sky_buf cmd = { 0 };
	const char *dir = c->p.remote_dir[0] ? c->p.remote_dir : ".skyfs/default";
	int rc = -ENOMEM;

	if (!x)
		return rc;
	sky_buf_printf(&cmd, "mkdir -p ");
	sky_buf_shquote(&cmd, dir);
	sky_buf_printf(&cmd, " && cd ");
	sky_buf_shquote(&cmd, dir);
	sky_buf_printf(&cmd, " && pwd");
	x->command = cmd.data;
	x->capture = &x->cap;
	x->capture_max = sizeof(c->remote_base);
	rc = drive(c, x, deadline);
	if (!rc && (x->status || !x->cap.data)) {
		snprintf(msg, len, "%s: cannot create %s on the node", c->p.host, dir);
		rc = -EIO;
	}
	if (!rc) {
		x->cap.data[strcspn(x->cap.data, "\n")] = '\0';
		pthread_mutex_lock(&c->lock);
		sky_strlcpy(c->remote_base, x->cap.data, sizeof(c->remote_base));
		pthread_mutex_unlock(&c->lock);
	} else if (!msg[0]) {
		snprintf(msg, len, "%s: setting up the node timed out", c->p.host);
	}
	ssh_exec_free(x);
	return rc;
}

/* The heartbeat: a line every few seconds; reading it makes libssh2 process what arrives,
 * its silence tells a frozen node from a busy one, its touch feeds a dead-man switch. */
static int start_heartbeat(struct sky_ssh_conn *c, struct sky_exec **hb)
{
	struct sky_exec *x = exec_new();
	int every = c->p.node_timeout_s / 4;

	if (!x)
		return -ENOMEM;
	if (every < 1)
		every = 1;
	if (asprintf(&x->command, "while echo; do touch '%s/alive' 2>/dev/null; sleep %d; done",
		     c->p.remote_dir[0] ? c->p.remote_dir : ".skyfs/default", every) < 0) {
		free(x);
		return -ENOMEM;
	}
	x->capture = NULL;   /* stdout goes nowhere */
	*hb = x;
	return 0;
}

static int connect_node(struct sky_ssh_conn *c, struct sky_exec **hb, char *msg, size_t len)
{
	double deadline = sky_mono() + (c->p.connect_timeout_s ? c->p.connect_timeout_s : 10);
	int rc;

	msg[0] = '\0';
	if ((rc = tcp_connect(c, deadline, msg, len)))
		return rc;
	c->s = libssh2_session_init();
	if (!c->s)
		return -ENOMEM;
	libssh2_session_set_blocking(c->s, 0);
	/* AES-128 in CTR mode is the fastest of what libssh2 1.10 and OpenSSH
	 * share (AES-NI); the rest stay acceptable so any server still works */
	libssh2_session_method_pref(c->s, LIBSSH2_METHOD_CRYPT_CS,
				    "aes128-ctr,aes256-ctr,aes192-ctr,aes256-cbc,aes128-cbc");
	libssh2_session_method_pref(c->s, LIBSSH2_METHOD_CRYPT_SC,
				    "aes128-ctr,aes256-ctr,aes192-ctr,aes256-cbc,aes128-cbc");
	/* ask for the pinned key's type, or a host that also has (say) an
	 * ECDSA key would show that one instead */
	if (c->p.policy == SKY_HOSTKEY_PINNED && c->p.pinned_key[0]) {
		char type[64];
		snprintf(type, sizeof(type), "%.*s", (int)strcspn(c->p.pinned_key, " "),
			 c->p.pinned_key);
		libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, type);
	}
	while ((rc = libssh2_session_handshake(c->s, c->sock)) == LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_sock(c, deadline)))
			break;
	if (rc) {
		snprintf(msg, len, "%s: SSH handshake %s", c->p.host,
			 rc == -ETIMEDOUT ? "timed out" : "failed");
		return rc == -ETIMEDOUT ? rc : -EPROTO;
	}
	rc = sky_hostkey_check(c->s, c->p.host, c->p.port ? c->p.port : 22,
			       c->p.known_hosts[0] ? c->p.known_hosts : NULL,
			       c->p.record_file[0] ? c->p.record_file : NULL, c->p.policy,
			       c->p.pinned_key[0] ? c->p.pinned_key : NULL, msg, len);
	if (rc)
		return rc;
	if (msg[0])
		log_info("%s", msg);   /* "recorded ..." under accept-new */
	msg[0] = '\0';
	if ((rc = authenticate(c, deadline, msg, len)))
		return rc;
	c->gen++;
	c->last_rx = sky_mono();
	if ((rc = make_base(c, deadline, msg, len)))
		return rc;
	if ((rc = start_heartbeat(c, hb)))
		return rc;
	return 0;
}

/* ---- the thread ------------------------------------------------------------ */

static void fail_all(struct sky_ssh_conn *c, const char *why)
{
	struct sky_exec *x, *next;

	for (x = c->active; x; x = next) {
		next = x->next;
		if (x->ch) {
			libssh2_channel_free(x->ch);
			x->ch = NULL;
		}
		ssh_exec_fail(x, why, SKY_EXEC_NODE_LOST);
		ssh_exec_release(c, x);
	}
	c->active = NULL;
}

/* Moves newly queued executions to the active list, in order. */
static void take_queue(struct sky_ssh_conn *c)
{
	struct sky_exec *q, **tail;

	pthread_mutex_lock(&c->lock);
	q = c->queue;
	c->queue = NULL;
	pthread_mutex_unlock(&c->lock);
	for (tail = &c->active; *tail; tail = &(*tail)->next)
		;
	*tail = q;
}

/* Sends the cancels asked for since the last pass, as commands of their own. */
static void send_cancels(struct sky_ssh_conn *c)
{
	struct sky_exec *x, *k;

	for (x = c->active; x; x = x->next) {
		int sig = __atomic_exchange_n(&x->cancel_sig, 0, __ATOMIC_ACQ_REL);
		struct sky_buf b = { 0 };

		if (!sig || !x->remote_dir || x->phase >= X_CLOSE)
			continue;
		if (x->phase <= X_OPEN) {
			/* nothing runs on the node yet: it never will */
			x->status = (128 + sig) << 8;
			x->phase = X_FINISHED;
			continue;
		}
		k = exec_new();
		if (!k)
			continue;
		/* the pgid file may not be written yet when a cancel comes at once;
		 * no "--" after kill: the login shell may be dash, whose kill
		 * takes none */
		sky_buf_printf(&b, "W=");
		sky_buf_shquote(&b, x->remote_dir);
		sky_buf_printf(&b, "; for i in 1 2 3 4 5 6 7 8 9 10; do [ -s \"$W/pgid\" ] && break; "
			       "sleep 0.2; done; kill -%d -$(cat \"$W/pgid\") 2>/dev/null; true",
			       sig);
		k->command = b.data;
		k->fire_and_forget = 1;
		k->next = x->next;
		x->next = k;
		x = k;
	}
}

static void *conn_main(void *arg)
{
	struct sky_ssh_conn *c = arg;
	struct sky_exec *hb = NULL;
	double backoff = BACKOFF_MIN, retry_at = 0;
	char msg[512];

	for (;;) {
		struct pollfd pf[2];
		struct sky_exec **px, *x;
		int timeout = 200, closing, rc, moved = 0;

		pthread_mutex_lock(&c->lock);
		closing = c->closing;
		pthread_mutex_unlock(&c->lock);
		take_queue(c);
		if (closing)
			break;
		if (!c->s) {
			/* down: nothing can run here; the scheduler runs it elsewhere */
			if (c->active)
				fail_all(c, c->last_msg[0] ? c->last_msg : "node unreachable");
			if (sky_mono() >= retry_at) {
				rc = connect_node(c, &hb, msg, sizeof(msg));
				if (!rc) {
					backoff = BACKOFF_MIN;
					log_info("%s@%s:%d connected", c->p.user, c->p.host,
						 c->p.port ? c->p.port : 22);
					set_state(c, 1, 0, NULL);
					continue;
				}
				if (hb) {
					ssh_exec_free(hb);
					hb = NULL;
				}
				drop_session(c);
				set_state(c, 0, rc, msg);
				retry_at = sky_mono() + backoff;
				backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
			}
		} else {
			int dead = 0;

			send_cancels(c);
			if (hb && ssh_exec_step(c, hb) != 0)
				dead = 1;   /* the heartbeat never ends on a live node */
			moved = 0;
			for (px = &c->active; !dead && (x = *px);) {
				unsigned long before = x->progress;

				rc = ssh_exec_step(c, x);
				moved |= rc != 0 || x->progress != before;
				if (rc < 0) {
					dead = 1;
					break;
				}
				if (rc == 1) {
					*px = x->next;
					ssh_exec_release(c, x);
					continue;
				}
				px = &x->next;
				/* data already inside libssh2 (read from the socket for
				 * another channel) wakes no poll: look again at once */
				if (x->ch && (libssh2_poll_channel_read(x->ch, 0) ||
					      libssh2_poll_channel_read(x->ch, 1)))
					moved = 1;
			}
			if (!dead && sky_mono() - c->last_rx > (c->p.node_timeout_s ?
								 c->p.node_timeout_s : 60)) {
				snprintf(msg, sizeof(msg), "%s: no answer for %d s", c->p.host,
					 c->p.node_timeout_s ? c->p.node_timeout_s : 60);
				dead = 2;
			}
			if (dead) {
				if (dead == 1)
					snprintf(msg, sizeof(msg), "%s: connection lost", c->p.host);
				log_warn("%s", msg);
				if (hb) {
					hb->ch = NULL;   /* freed with the session */
					ssh_exec_free(hb);
					hb = NULL;
				}
				for (x = c->active; x; x = x->next)
					x->ch = NULL;
				drop_session(c);
				set_state(c, 0, -EHOSTDOWN, msg);
				fail_all(c, msg);
				retry_at = sky_mono() + backoff;
				continue;
			}
		}
		pf[0].fd = c->wake[0];
		pf[0].events = POLLIN;
		pf[1].fd = c->sock;
		pf[1].events = POLLIN;
		if (c->s && (libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND))
			pf[1].events |= POLLOUT;
		if (!c->s)
			timeout = (int)((retry_at - sky_mono()) * 1000) + 1;
		if (timeout > 200 || timeout < 0)
			timeout = 200;
		if (c->s && moved)
			timeout = 0;
		else if (c->s && c->active)
			timeout = 20;   /* a packet libssh2 queued that no check saw */
		if (poll(pf, c->s ? 2 : 1, timeout) > 0) {
			if (pf[0].revents & POLLIN) {
				char drainbuf[64];
				while (read(c->wake[0], drainbuf, sizeof(drainbuf)) > 0)
					;
			}
			if (c->s && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
				c->last_rx = sky_mono();
		}
	}
	/* closing: whatever is left ends here */
	if (hb)
		ssh_exec_free(hb);
	fail_all(c, "connection closed");
	drop_session(c);
	return NULL;
}

/* ---- the API (ssh.h) -------------------------------------------------------- */

int sky_ssh_open(const struct sky_ssh_params *p, struct sky_ssh_conn **out)
{
	struct sky_ssh_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->p = *p;
	c->sock = -1;
	c->last_rc = -EAGAIN;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK)) {
		rc = -errno;
		free(c);
		return rc;
	}
	rc = -pthread_create(&c->thread, NULL, conn_main, c);
	if (rc) {
		close(c->wake[0]);
		close(c->wake[1]);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* One bounded wait on c->cond (lock held): callers re-check their
 * condition and their deadline after each. */
static void wait_a_little(struct sky_ssh_conn *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&c->cond, &c->lock, &ts);
}

int sky_ssh_wait_up(struct sky_ssh_conn *c, int timeout_s, char *msg, size_t msglen)
{
	double deadline = sky_mono() + timeout_s;
	int rc;

	pthread_mutex_lock(&c->lock);
	/* the first attempt's outcome: up, or an error other than "trying" */
	while (!c->up && c->last_rc == -EAGAIN && sky_mono() < deadline) {
		wait_a_little(c);
	}
	rc = c->up ? 0 : c->last_rc == -EAGAIN ? -ETIMEDOUT : c->last_rc;
	if (msg && msglen)
		snprintf(msg, msglen, "%s", rc == -ETIMEDOUT && !c->last_msg[0] ?
			 "connection timed out" : c->last_msg);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void enqueue(struct sky_ssh_conn *c, struct sky_exec *x)
{
	struct sky_exec **tail;

	x->c = c;
	pthread_mutex_lock(&c->lock);
	for (tail = &c->queue; *tail; tail = &(*tail)->next)
		;
	*tail = x;
	pthread_mutex_unlock(&c->lock);
	wake(c);
}

/* On the thread; the waiter hears of the end from ssh_exec_release. */
static void run_done(void *arg, int status, const char *err, int flags)
{
	struct sky_exec *x = arg;

	(void)status;
	(void)err;
	x->lost = flags & SKY_EXEC_NODE_LOST;
}

int sky_ssh_run(struct sky_ssh_conn *c, const char *command, int timeout_s,
		struct sky_buf *out, size_t max, int *status)
{
	struct sky_exec *x = exec_new();
	double deadline = sky_mono() + timeout_s;
	int rc = 0;

	if (!x || !(x->command = strdup(command))) {
		free(x);
		return -ENOMEM;
	}
	x->capture = &x->cap;
	x->capture_max = max;
	x->waiter = 1;
	x->done = run_done;
	x->arg = x;
	enqueue(c, x);
	pthread_mutex_lock(&c->lock);
	while (!x->finished && sky_mono() < deadline) {
		wait_a_little(c);
	}
	if (!x->finished) {
		/* the thread frees it when it ends: it no longer has a waiter */
		x->abandoned = 1;
		pthread_mutex_unlock(&c->lock);
		return -ETIMEDOUT;
	}
	pthread_mutex_unlock(&c->lock);
	if (x->lost || x->err[0])
		rc = -EHOSTDOWN;
	else if (status)
		*status = x->status;
	if (!rc && out && x->cap.data)
		sky_buf_append(out, x->cap.data, x->cap.len);
	ssh_exec_free(x);
	return rc;
}

const char *sky_ssh_remote_dir(struct sky_ssh_conn *c)
{
	return c->remote_base;
}

void sky_ssh_close(struct sky_ssh_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->closing = 1;
	pthread_mutex_unlock(&c->lock);
	wake(c);
	pthread_join(c->thread, NULL);
	close(c->wake[0]);
	close(c->wake[1]);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* ---- the transport (transport.h) --------------------------------------------- */

/* The node's own environment provides these; the daemon's would be wrong
 * there (another machine, maybe another user). */
static int node_provides(const char *kv)
{
	static const char *const own[] = { "PATH=", "HOME=", "USER=", "LOGNAME=", "TMPDIR=",
					   "SHELL=", "SKY_OUTPUT=" };
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(own); i++)
		if (!strncmp(kv, own[i], strlen(own[i])))
			return 1;
	return 0;
}

/* The wrapper that runs a job on the node: its directory, the payload from
 * stdin, the environment, the job in a session of its own (so that a
 * cancel reaches its whole process group), the pgid for cancels, then the
 * trailer that tells whether $SKY_OUTPUT has files. Only POSIX sh. */
static char *wrapper(const struct sky_exec_req *req, const char *token, long long size)
{
	struct sky_buf b = { 0 };
	char *const *e;

	sky_buf_printf(&b, "W=");
	sky_buf_shquote(&b, req->workdir);
	sky_buf_printf(&b, "; mkdir -p \"$W/work\" \"$W/out\" || exit 125; ");
	if (req->payload)
		sky_buf_printf(&b, "head -c %lld > \"$W/payload\" || exit 125; ", size);
	sky_buf_printf(&b, "cd \"$W/work\" || exit 125; ");
	for (e = req->envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');

		if (!eq || node_provides(*e))
			continue;
		sky_buf_printf(&b, "export %.*s=", (int)(eq - *e), *e);
		sky_buf_shquote(&b, eq + 1);
		sky_buf_printf(&b, "; ");
	}
	sky_buf_printf(&b, "export SKY_OUTPUT=\"$W/out\"; ");
	if (req->shell_command) {
		sky_buf_printf(&b, "setsid /bin/sh -c ");
		sky_buf_shquote(&b, req->shell_command);
	} else if (req->payload_is_archive) {
		sky_buf_printf(&b, "setsid /bin/sh -c 'tar -xf \"$1\" || exit 126; exec ./run' "
			       "sky-archive \"$W/payload\"");
	} else if (req->payload_has_shebang) {
		sky_buf_printf(&b, "chmod +x \"$W/payload\" || exit 125; setsid \"$W/payload\"");
	} else {
		sky_buf_printf(&b, "setsid /bin/sh \"$W/payload\"");
	}
	/* after the job: builtins only, except a clean-up that runs detached
	 * from the channel, so the end is reported without waiting for it */
	sky_buf_printf(&b, " </dev/null & P=$!; echo $P > \"$W/pgid\"; wait $P; S=$?; "
		       "kill -KILL -$P 2>/dev/null; F=0; "
		       "for f in \"$W\"/out/* \"$W\"/out/.[!.]* \"$W\"/out/..?*; do "
		       "[ -e \"$f\" ] && F=1 && break; done; "
		       "[ $F = 0 ] && (cd / && rm -rf \"$W\" </dev/null >/dev/null 2>&1 &); "
		       "printf '\\n%%s %%s\\n' %s \"$F\" >&2; exit $S", token);
	return b.data;
}

static int ssh_start(const struct sky_instance *inst, const struct sky_exec_req *req,
		     struct sky_exec **out)
{
	struct sky_ssh_conn *c = inst->conn;
	struct sky_exec *x;
	unsigned char rnd[12];
	struct stat st;
	long long size = 0;
	size_t i;
	int rc;

	if (!c)
		return -ENOTCONN;
	x = exec_new();
	if (!x)
		return -ENOMEM;
	x->done = req->done;
	x->arg = req->arg;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rc = -EIO;
		goto fail;
	}
	memcpy(x->token, "skyfs-", 6);
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(x->token + 6 + 2 * i, 3, "%02x", rnd[i]);
	if (req->payload) {
		x->payload_fd = open(req->payload, O_RDONLY | O_CLOEXEC);
		if (x->payload_fd < 0 || fstat(x->payload_fd, &st)) {
			rc = -errno;
			goto fail;
		}
		size = (long long)st.st_size;
	}
	x->out_fd = open(req->stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	x->err_fd = open(req->stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (x->out_fd < 0 || x->err_fd < 0) {
		rc = -errno;
		goto fail;
	}
	x->remote_dir = strdup(req->workdir);
	x->files_dest = req->files_dest ? strdup(req->files_dest) : NULL;
	x->command = wrapper(req, x->token, size);
	if (!x->remote_dir || !x->command || (req->files_dest && !x->files_dest)) {
		rc = -ENOMEM;
		goto fail;
	}
	enqueue(c, x);
	*out = x;
	return 0;
fail:
	ssh_exec_free(x);
	return rc;
}

static int ssh_cancel(struct sky_exec *x, int sig)
{
	__atomic_store_n(&x->cancel_sig, sig, __ATOMIC_RELEASE);
	wake(x->c);
	return 0;
}

static int ssh_shutdown(void)
{
	return 0;   /* connections are closed by their providers */
}

const struct sky_transport_ops sky_transport_ssh = {
	.name = "ssh",
	.shared_fs = 0,
	.start = ssh_start,
	.cancel = ssh_cancel,
	.shutdown = ssh_shutdown,
};
