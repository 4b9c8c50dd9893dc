/* The local transport's process machinery (transport/local.c) for other
 * transports whose jobs are local processes too: a launcher that runs the
 * payload somewhere else and stays in the foreground while it runs (srun
 * for Slurm, transport/srun.c). Such a job is supervised, cancelled and
 * limited exactly like a local one; only its argv starts with the
 * launcher's, and its status means what the launcher says it means. */
#ifndef SKY_TRANSPORT_LOCAL_H
#define SKY_TRANSPORT_LOCAL_H

#include <stddef.h>

#include "transport/transport.h"

/* What a launcher's job ended with, for its translate function. */
struct sky_local_end {
	const char *diag_path;       /* what the launcher said (its stderr) */
	const char *err_path;        /* the job's stderr file */
	int cancelled;               /* skyfs sent it a signal */
	int killed;                  /* ...the one that stands for SIGKILL */
	int status;                  /* in: the launcher's wait status; out: the job's */
	const char *err;             /* out: why it did not run to its end, or NULL */
	int flags;                   /* out: SKY_EXEC_NODE_LOST when the node failed */
	char buf[512];               /* room for err */
};

/* Turns the launcher's end into the job's. Runs on the reaper thread,
 * before done(). */
typedef void (*sky_local_translate_fn)(struct sky_local_end *end);

struct sky_local_wrap {
	const char *const *argv;     /* the launcher's words before the payload's,
				      * NULL-terminated; copied by start */
	const char *diag_path;       /* the launcher's stderr (its stdout goes to
				      * /dev/null: the launcher writes the job's
				      * stdout and stderr files itself); removed
				      * after done() */
	sky_local_translate_fn translate;
	/* what stands for SIGTERM and SIGKILL (cancel, max_output) when the
	 * launcher must be told rather than killed; 0: the same */
	int term_sig, kill_sig;
	/* the launcher's own kill, or 0. When set, a kill is a ladder: term_sig
	 * first unless it went already (kill_sig then follows it by 100 ms at
	 * least: the payload's side may take kill_sig as a kill only after a
	 * term), kill_sig, force_sig 2 s later if the job has not ended, and
	 * SIGKILL to the launcher 15 s after that. */
	int force_sig;
};

/* sky_transport_local's start and cancel; wrap NULL is a plain local job. */
int sky_local_start(const struct sky_exec_req *req, const struct sky_local_wrap *wrap,
		    struct sky_exec **out);
int sky_local_cancel(struct sky_exec *ex, int sig);

#endif
