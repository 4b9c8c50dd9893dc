/* Host-key verification for the SSH transport: is the key a node's sshd
 * presented the one we expect? Known_hosts files are read with libssh2's
 * knownhost parser (plain and hashed entries, OpenSSH's "[host]:port" names
 * for ports other than 22), keys first seen under accept-new are recorded
 * in a file of the pool's state, and keys the daemon put on a node itself
 * are pinned.
 *
 * Every function returns 0 or -errno and fills msg[msglen] (may be NULL)
 * with one line for the pool's events: on refusal it names the host and the
 * SHA256 fingerprint the node presented. No state is kept; the files are
 * read on every call. Call libssh2_init(0) once before any thread uses
 * these (libssh2 would otherwise initialise itself, unsafely, on first
 * use). */
#ifndef SKY_HOSTKEY_H
#define SKY_HOSTKEY_H

#include <stddef.h>

#include <libssh2.h>

enum sky_hostkey_policy {
	/* only keys in known_hosts are accepted */
	SKY_HOSTKEY_STRICT,
	/* an unknown key is recorded on first use, then held to; a changed
	 * key is refused like under STRICT */
	SKY_HOSTKEY_ACCEPT_NEW,
	/* exactly one key, the one the daemon generated for the node
	 * (sky_sshkey_host_keypair); known_hosts is not consulted */
	SKY_HOSTKEY_PINNED,
};

/* The decision itself, over files only, for any key blob (the wire format
 * libssh2_session_hostkey returns). host is looked up as OpenSSH does:
 * "host" on port 22 (or port <= 0), "[host]:port" on any other. All
 * entries of all nfiles files count together, as OpenSSH's do: a key
 * listed for the host anywhere → 0, even if another line lists another key;
 * none listed but another key of the same type is → -EPERM ("changed",
 * naming the file and line); no entry of that key type → -ENOENT; the key
 * on an "@revoked" line of any file → -EPERM whatever else matches. A
 * missing file counts as empty, an unreadable one fails (-errno). Lines
 * that libssh2 cannot parse and "@cert-authority" lines are skipped.
 * -EINVAL for a blob of a key type libssh2 does not know. */
int sky_hostkey_decide(const char *host, int port, const unsigned char *key, size_t keylen,
		       const char *const *files, int nfiles, char *msg, size_t msglen);

/* The policy applied to a key, without a session (what
 * sky_hostkey_check does once it has the key):
 * - STRICT: sky_hostkey_decide over known_hosts; unknown → -EPERM.
 * - ACCEPT_NEW: over known_hosts and record_file; unknown → a line for it
 *   is appended to record_file (created 0600) and 0 with a "recorded" msg;
 *   changed → -EPERM. Callers holding record_file are serialised with
 *   flock, so two connections cannot both record different keys.
 * - PINNED: key must equal pinned_pub_line's key ("ssh-ed25519 AAAA…");
 *   else -EPERM naming both fingerprints; -EINVAL if the line is bad.
 * known_hosts NULL means ~/.ssh/known_hosts ($HOME, else the passwd entry).
 * record_file is needed (else -EINVAL) only for ACCEPT_NEW. */
int sky_hostkey_verify(const char *host, int port, const unsigned char *key, size_t keylen,
		       const char *known_hosts, const char *record_file,
		       enum sky_hostkey_policy policy, const char *pinned_pub_line,
		       char *msg, size_t msglen);

/* sky_hostkey_verify for the key of session s, which has completed its
 * handshake (libssh2_session_handshake) and must not be used further (no
 * authentication) unless this returns 0. -EPROTO if s has no host key. */
int sky_hostkey_check(LIBSSH2_SESSION *s, const char *host, int port,
		      const char *known_hosts, const char *record_file,
		      enum sky_hostkey_policy policy, const char *pinned_pub_line,
		      char *msg, size_t msglen);

#endif
