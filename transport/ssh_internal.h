/* Private to the SSH transport (ssh.c: the connection and its thread;
 * ssh_exec.c: one execution's channel state machine). */
#ifndef SKY_SSH_INTERNAL_H
#define SKY_SSH_INTERNAL_H

#include <libssh2.h>
#include <pthread.h>
#include <sys/types.h>

#include "common/util.h"
#include "transport/ssh.h"

enum xphase {
	X_QUEUED,      /* waiting for the connection's thread */
	X_OPEN,        /* opening the channel */
	X_EXEC,        /* sending the command */
	X_SEND,        /* streaming the payload to the command's stdin */
	X_RUN,         /* reading stdout/stderr until EOF */
	X_CLOSE,       /* closing, then the exit status */
	X_FETCH_OPEN,  /* a second channel brings $SKY_OUTPUT back as tar */
	X_FETCH_EXEC,
	X_FETCH,
	X_FETCH_CLOSE,
	X_FINISHED,
};

/* One execution: a job, a setup command, a probe (sky_ssh_run) or a
 * fire-and-forget command (cancel, clean-up). Owned by its connection's
 * thread from the moment it is queued until done() returned. */
struct sky_exec {
	struct sky_exec *next;          /* in the connection's list */
	struct sky_ssh_conn *c;
	unsigned gen;                   /* the session it runs on */
	enum xphase phase;
	LIBSSH2_CHANNEL *ch;
	char *command;                  /* the remote command */
	char *remote_dir;               /* the job's directory on the node, or NULL */
	/* payload: a local file streamed to the command's stdin */
	int payload_fd;
	char buf[32768];
	size_t buf_len, buf_off;
	int stdin_done;
	/* where the streams go: local files, or capture (run) */
	int out_fd, err_fd;
	/* the pool's max_output for the files (ssh_exec.c asks once, at the
	 * first byte): bytes written so far, and the stream that passed it */
	int limit_known;
	long long limit;                /* 0: none */
	long long out_bytes, err_bytes;
	const char *over;               /* "stdout" or "stderr", else NULL */
	struct sky_buf *capture;        /* &cap when stdout is collected, else NULL */
	struct sky_buf cap;
	size_t capture_max;
	int waiter;                     /* sky_ssh_run waits for it and frees it... */
	int abandoned;                  /* ...unless it gave up (then the thread does) */
	/* the trailer the wrapper writes last on stderr, held back until EOF */
	char token[40];
	char tail[128];
	size_t tail_len;
	int has_output;
	/* $SKY_OUTPUT's way back: a local "tar -x" fed from the fetch channel */
	char *files_dest;
	pid_t tar_pid;
	int tar_fd;
	int status;                     /* wait(2)-style */
	int cancel_sig;                 /* asked for, not yet sent */
	int pgid_known;
	int fire_and_forget;
	/* sky_ssh_run waits on this */
	int finished;
	char err[256];
	int lost;
	unsigned long progress;         /* bumped by every step that got somewhere */
	void (*done)(void *arg, int status, const char *err, int flags);
	void *arg;
};

struct sky_ssh_conn {
	struct sky_ssh_params p;
	pthread_t thread;
	pthread_mutex_t lock;           /* queue, state, waiters */
	pthread_cond_t cond;
	int wake[2];
	int closing;
	/* state, under lock */
	int up;
	int last_rc;
	char last_msg[512];
	unsigned gen;
	char remote_base[1024];
	struct sky_exec *queue;         /* handed over by other threads */
	/* thread-only */
	int sock;
	LIBSSH2_SESSION *s;
	struct sky_exec *active;
	double last_rx;
	unsigned long long seq;
};

/* ssh_exec.c, called on the connection's thread */
/* Advances x as far as it goes without blocking; returns 1 when x is
 * finished (done() called, x may be freed), 0 when it waits for the
 * network, -1 when the session itself failed. */
int ssh_exec_step(struct sky_ssh_conn *c, struct sky_exec *x);
/* Ends x with an error (flags for done()) and frees what it holds. */
void ssh_exec_fail(struct sky_exec *x, const char *why, int flags);
void ssh_exec_free(struct sky_exec *x);
/* After x finished on the thread: frees it unless a waiter still owns it. */
void ssh_exec_release(struct sky_ssh_conn *c, struct sky_exec *x);

#endif
