/* Running a helper command on the controller with a deadline and capturing
 * its output (nvidia-smi probes, later ssh-keygen and friends). */
#ifndef SKY_PROC_H
#define SKY_PROC_H

#include <stdint.h>

#include "common/util.h"

/* Runs argv (PATH is searched) with stdin from /dev/null, stdout into out
 * (at most max bytes kept), stderr discarded. Kills it after timeout_ms.
 * Returns 0 with *status set to its wait status, -ETIMEDOUT, or -errno when
 * it could not start (-ENOENT: not installed). */
int sky_run_capture(char *const argv[], int timeout_ms, struct sky_buf *out, size_t max,
		    int *status);
/* The same with the environment envp instead of the daemon's (which may
 * hold credentials the command must not see). */
int sky_run_capture_env(char *const argv[], char *const envp[], int timeout_ms,
			struct sky_buf *out, size_t max, int *status);

/* The job helper (transport/local.c says why it exists): a small process,
 * this binary re-exec'd with argv[0] SKY_JOB_HELPER, that forks a
 * supervisor for each local job. The supervisor is a child subreaper: it
 * spawns the job in a process group of its own, waits for it, kills its
 * group and every descendant the job left (setsid() daemons included:
 * orphans are re-parented to it), and exits with the job's status.
 *
 * On SKY_JOB_HELPER_REQ_FD (a stream socket, daemon to helper) the daemon
 * sends a struct sky_job_req followed by its strings. On
 * SKY_JOB_HELPER_EV_FD (SOCK_SEQPACKET, to the daemon) each job's
 * supervisor sends a struct sky_job_msg when the job started (or could not)
 * and another when it ended; the helper sends them for a supervisor it
 * could not fork, or that died before it could (an end may then come
 * twice). The helper exits when the daemon closes the request socket. */
#define SKY_JOB_HELPER "skyfs-job-helper"
#define SKY_JOB_HELPER_REQ_FD 3
#define SKY_JOB_HELPER_EV_FD 4

/* A start: followed by len bytes of NUL-terminated strings: the program,
 * the working directory, the stdout and stderr paths (opened by the job,
 * truncated), nargv arguments and nenv environment entries. */
struct sky_job_req {
	uint64_t id;
	uint32_t len, nargv, nenv, pad;
};
enum sky_job_msg_kind {
	SKY_JOB_STARTED,             /* value: the job's pid (and process group) */
	SKY_JOB_NOT_STARTED,         /* value: errno */
	SKY_JOB_ENDED,               /* value: the job's wait(2) status */
};
struct sky_job_msg {
	uint64_t id;                 /* the request's */
	int32_t kind;
	int32_t value;
};

/* The helper's main (from main(), before anything else); its exit status. */
int sky_job_helper_main(void);

/* read(2) and send(2) (MSG_NOSIGNAL) of exactly n bytes, EINTR retried;
 * -EPIPE when the other end closed first. */
int sky_read_all(int fd, void *buf, size_t n);
int sky_send_all(int fd, const void *buf, size_t n);

#endif
