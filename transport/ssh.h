/* The SSH transport: jobs on nodes reached over SSH (libssh2), the path every
 * cloud node and the `ssh` provider use.
 *
 * One connection per node (struct sky_ssh_conn), owned by the provider that
 * provisioned the node and reachable from its instance (inst->conn). Each
 * connection has its own thread, which owns the libssh2 session (in
 * non-blocking mode, every wait bounded by poll) and runs every channel of
 * that node: a job is a channel on the one authenticated session, not a new
 * connection. Requests (start, cancel, run) are queued to that thread, so
 * none of the calls below blocks on the network, except sky_ssh_run(),
 * which waits for its command with a deadline.
 *
 * Liveness: keepalives every few seconds; a session that hears nothing for
 * node_timeout is dead: its in-flight executions end with done(…, err) and
 * SKY_EXEC_NODE_LOST (see transport.h), the state callback reports the node
 * down, and the thread reconnects with bounded backoff (1 s doubling to
 * 30 s), reporting it up again on success. A generation number, bumped on
 * every new session, keeps a late reply of an old session from touching a
 * new one's executions.
 *
 * Host keys are verified (transport/hostkey.h) before authentication;
 * authentication is by key file (identity) or ssh-agent. */
#ifndef SKY_SSH_H
#define SKY_SSH_H

#include <stddef.h>

#include "transport/hostkey.h"
#include "transport/transport.h"

struct sky_ssh_conn;

struct sky_ssh_params {
	char user[64];
	char host[256];
	int port;                        /* 22 when 0 */
	char identity[4096];             /* private key file; "" = ssh-agent */
	char known_hosts[4096];          /* "" = ~/.ssh/known_hosts */
	char record_file[4096];          /* accept-new records (the pool's state) */
	enum sky_hostkey_policy policy;
	char pinned_key[1024];           /* PINNED: "ssh-ed25519 AAAA..." */
	int connect_timeout_s;           /* TCP connect, handshake, auth; 10 when 0 */
	int node_timeout_s;              /* silence that kills a session; 60 when 0 */
	char remote_dir[1024];           /* node-side base for job directories;
					  * "" = ~/.skyfs/<pool> (made on connect) */
	/* Connection state changes (up = 1 after connect + auth, 0 when lost,
	 * -1 when a reconnection met a host key that the policy refuses: not
	 * the machine it was, reported once per refusal streak), called from
	 * the connection's thread without any lock held; why is the reason
	 * when down. May be NULL. */
	void (*state)(void *arg, int up, const char *why);
	void *state_arg;
};

/* Starts the connection's thread, which connects at once. Returns 0 and
 * *out, or -errno. The first connection's outcome arrives through state()
 * and sky_ssh_wait_up(). */
int sky_ssh_open(const struct sky_ssh_params *p, struct sky_ssh_conn **out);
/* Waits (at most timeout_s) until the connection is up: 0, or the last
 * error (-ETIMEDOUT, -EPERM for a refused host key with msg, ...). */
int sky_ssh_wait_up(struct sky_ssh_conn *c, int timeout_s, char *msg, size_t msglen);
/* Runs a shell command on the node and collects its stdout (max bytes) and
 * exit status, waiting at most timeout_s. For probes (nvidia-smi) and
 * clean-up. */
int sky_ssh_run(struct sky_ssh_conn *c, const char *command, int timeout_s,
		struct sky_buf *out, size_t max, int *status);
/* Ends every execution (their done() is called with an error), kills what
 * they left on the node when it is reachable, stops the thread and frees c. */
void sky_ssh_close(struct sky_ssh_conn *c);
/* The node-side base directory the connection uses (valid once up). */
const char *sky_ssh_remote_dir(struct sky_ssh_conn *c);

/* libssh2_init, once, before any thread (the daemon's start-up). */
int sky_ssh_global_init(void);

extern const struct sky_transport_ops sky_transport_ssh;

#endif
