/* How jobs reach a node: start a command there with its environment and
 * working directory, stream its output into files on the controller, learn
 * its exit status, bring back $SKY_OUTPUT, cancel it.
 *
 * One transport per kind of node (local processes now, SSH later). A
 * provider's provision() names the transport of each instance.
 *
 * Threading: start() and cancel() are called by the scheduler without its
 * lock held; they must not block on the job. Completion is reported once,
 * from a transport thread, through the request's done callback, which must
 * not call back into the transport for the same exec. */
#ifndef SKY_TRANSPORT_H
#define SKY_TRANSPORT_H

struct sky_instance;
struct sky_exec;

#define SKY_EXEC_NODE_LOST 1

struct sky_exec_req {
	const char *workdir;        /* node side: fresh directory, created by start();
				     * a name never used twice (removed after done()) */
	const char *output_dir;     /* node side: exported as $SKY_OUTPUT; equal to
				     * files_dest with a shared_fs transport */
	const char *payload;        /* controller side: the job file to run */
	int payload_is_archive;     /* tar/tar.gz with an executable "run" at its top */
	int payload_has_shebang;    /* run directly, else with /bin/sh */
	const char *shell_command;  /* instead of a payload: run "sh -c shell_command" */
	char *const *envp;          /* complete environment, NULL-terminated */
	const char *stdout_path;    /* controller side files that receive the output */
	const char *stderr_path;
	const char *files_dest;     /* controller side: where $SKY_OUTPUT's content lands */
	/* Called once when the command ended or could not start. status is a
	 * wait(2) status; err is NULL, or a reason when it did not run to its
	 * end (then status is meaningless). flags has SKY_EXEC_NODE_LOST when
	 * the node, not the command, failed (connection lost, node gone): the
	 * scheduler then runs the job again elsewhere. */
	void (*done)(void *arg, int status, const char *err, int flags);
	void *arg;
};

struct sky_transport_ops {
	const char *name;
	/* The node sees the controller's filesystem (local): $SKY_OUTPUT can be
	 * the result's files/ directory itself, and nothing is copied. */
	int shared_fs;
	/* A command that ended with SKY_EXEC_NODE_LOST puts its node in doubt:
	 * no job goes there until the provider reports it up again (srun: the
	 * allocation may be gone; SSH reports its connection itself). */
	int suspect_on_lost;
	/* Starts req on inst. On success *out identifies the running command
	 * until done() has been called; the transport frees it after done(). */
	int (*start)(const struct sky_instance *inst, const struct sky_exec_req *req,
		     struct sky_exec **out);
	/* Sends sig to the command's whole process group. Called with the
	 * scheduler lock held (which done() also takes), so it must not block;
	 * never called after done(). */
	int (*cancel)(struct sky_exec *ex, int sig);
	/* Stops the transport's own threads; called once at exit, after every
	 * exec has reported done(). */
	int (*shutdown)(void);
};

extern const struct sky_transport_ops sky_transport_local;

#endif
