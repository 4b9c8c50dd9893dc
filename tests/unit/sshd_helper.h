/* Test fixture shared by the SSH unit tests: a real OpenSSH sshd on
 * 127.0.0.1 (a free port, its own config, host key, log and pid file in a
 * directory the test owns), a blocking libssh2 connection to it, and a
 * shell-command runner for checking files with ssh-keygen.
 *
 * The sshd dies with the test process (PR_SET_PDEATHSIG), so a crashed test
 * leaves no daemon behind; a test still stops it in its cmocka teardown. */
#ifndef SKY_TEST_SSHD_HELPER_H
#define SKY_TEST_SSHD_HELPER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include <libssh2.h>

struct test_sshd {
	char dir[PATH_MAX];        /* the caller's directory, holding everything */
	char host_key[PATH_MAX];   /* sshd's private host key; its ".pub" beside it */
	int port;
	pid_t pid;                 /* 0 when not running */
};

/* Starts "sshd -D" in dir (which exists) with a new ed25519 host key made
 * by ssh-keygen, letting the current user in with the keys listed in the
 * file authorized_keys (may be missing: then nobody gets in). Returns 0 once
 * it accepts connections, else prints why (with sshd's log) and returns -1. */
int test_sshd_start(struct test_sshd *d, const char *dir, const char *authorized_keys);
/* Stops it if running (SIGTERM, SIGKILL after 2 s) and reaps it. */
void test_sshd_stop(struct test_sshd *d);

/* Connects to 127.0.0.1:port and completes the SSH handshake, blocking,
 * with a 10 s timeout. NULL (and a printed reason) on failure. */
LIBSSH2_SESSION *test_ssh_connect(int port, int *sock);
void test_ssh_close(LIBSSH2_SESSION *s, int sock);
/* Runs `exec` on s and collects its stdout in out[outlen]; returns the
 * command's exit status, or -1. */
int test_ssh_exec(LIBSSH2_SESSION *s, const char *cmd, char *out, size_t outlen);

/* Runs a shell command (formatted) and puts its stdout, without the final
 * newline, in out[outlen] (out may be NULL). Returns its exit status, or -1. */
int test_sh(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The name of the user the test runs as. */
const char *test_user(void);

#endif
