/* The srun transport: a job on a Slurm node is a step of the pool's holding
 * job, started by `srun --jobid=<holding job> --overlap` on this machine
 * (a cluster's login node). Why srun and not SSH to the allocated nodes:
 * it needs nothing but what every Slurm user has (no sshd on compute
 * nodes, no keys, no pam_slurm_adopt), and the step is Slurm's: confined
 * to the allocation's CPUs and cgroup, visible in `squeue -s`, accounted,
 * and killed with the allocation.
 *
 * The srun process is a local job (transport/local.h): supervised,
 * cancelled (through signals srun forwards to the step, see STEP_WRAPPER)
 * and limited like one. The node writes the
 * job's stdout and stderr files itself (--output, --error), so the
 * cluster must share the daemon's state directory at the same path (the
 * provider checks that once per node); srun's own words go to a separate
 * file, from which the job's real status is read back: srun exits with
 * 128+N for a task killed by signal N and with the task's code otherwise,
 * and says which in a line "task 0: Exited with exit code C" or
 * "task 0: <signal>". A step that never ran (the allocation is gone), or
 * that slurmstepd cancelled because its allocation ended (scancel,
 * preemption, time limit), is the node's failure: the job runs again
 * elsewhere. */
#define LOG_MODULE "srun"
#include "transport/srun.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/provider.h"
#include "transport/local.h"

#define DIAG_MAX 8192       /* what is read of srun's words */

/* What the step runs: the payload, in its working directory ($0; the node
 * falls back to /tmp when it cannot enter srun's, and the payload must not
 * run there). srun answers SIGTERM by killing the step outright, but
 * forwards SIGUSR1 and SIGUSR2 to every process of the step (and no other
 * signal). The payload and its children share this shell's process group
 * (no setsid: Slurm finds the step's processes by their parents and group,
 * and must, to kill them with the step).
 * The payload ignores both (an inherited SIG_IGN): what the step gets
 * one by one must not kill a child before its parent, which would run on.
 * - Cancel sends SIGUSR2, which this shell turns into a SIGTERM to the
 *   group.
 * - The kill (after the grace, past max_output) is SIGUSR1 after that
 *   SIGUSR2 (c says it came; a SIGUSR1 of someone else's, scancel
 *   --signal=USR1, is ignored): this shell sends SIGKILL to the whole
 *   group, itself included, and srun says "task 0: Killed". Not srun's
 *   SIGTERM: Slurm then kills the processes it finds by parentage one by
 *   one (proctrack/linuxproc, no cgroup), and a process forked meanwhile
 *   whose parent it killed escaped it; a group's kill leaves no such gap.
 *   A payload that set SIGUSR1 back to its default may die of it (138)
 *   before this shell takes its own: that also ends the group. srun's
 *   SIGTERM stays as the ladder's next rung (transport/local.h).
 * A signal cuts the shell's wait short (u says it came): it waits again,
 * and the shell's job table still has the payload's status if it ended
 * meanwhile. (A payload dying of a signal of its own at that very moment
 * reads 127.) A SIGKILL'd srun leaves a step whose output goes to files
 * running: the ladder's last rung only. */
#define STEP_WRAPPER "cd \"$0\" || exit 125\n" \
	"trap '' USR1 USR2\n" \
	"\"$@\" &\n" \
	"p=$!\n" \
	"trap 'u=1; [ -z \"$c\" ] || kill -KILL 0' USR1\n" \
	"trap 'trap \"\" TERM; kill -TERM 0; u=1; c=1' USR2\n" \
	"while :; do u=; wait $p; s=$?\n" \
	"\t[ -z \"$c\" ] || [ $s -ne 138 ] || kill -KILL 0\n" \
	"\t[ -n \"$u\" ] && [ $s -gt 128 ] || exit $s; done\n"
#define STEPD_MARK "slurmstepd"
#define STEP_ABORTED "srun: Job step aborted"

/* "--output=PATH": "%" is a pattern character in srun's file names (%j,
 * %N); doubled, it is itself. */
static int file_arg(char *out, size_t len, const char *opt, const char *path)
{
	size_t k = (size_t)snprintf(out, len, "%s=", opt);

	for (; *path && k + 2 < len; path++) {
		if (*path == '%')
			out[k++] = '%';
		out[k++] = *path;
	}
	out[k] = '\0';
	return *path ? -ENAMETOOLONG : 0;
}

/* The last len-1 bytes of path, NUL-terminated ("" when unreadable). */
static void read_tail(const char *path, char *buf, size_t len)
{
	ssize_t n = 0;
	off_t size;
	int fd;

	buf[0] = '\0';
	if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)(len - 1))
		lseek(fd, size - (off_t)(len - 1), SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* The text after "srun: error: " on the first such line, without its end. */
static void first_error(const char *text, char *out, size_t len)
{
	const char *at = strstr(text, "error: "), *end;

	at = at ? at + 7 : text;
	end = strchr(at, '\n');
	snprintf(out, len, "%.*s", (int)(end ? end - at : (long)strlen(at)), at);
}

void sky_srun_translate(struct sky_local_end *e)
{
	char *diag = malloc(DIAG_MAX), *tail = NULL, why[256];
	const char *task;
	int code, n;

	if (!diag)
		return;
	if (WIFSIGNALED(e->status)) {
		/* cancel's SIGUSR2 came before srun could forward it (its
		 * default action killed srun): the job was cancelled */
		if (WTERMSIG(e->status) == SIGUSR2)
			e->status = SIGTERM;
		goto out;    /* srun itself killed: the ladder's last rung */
	}
	code = WEXITSTATUS(e->status);
	read_tail(e->diag_path, diag, DIAG_MAX);
	log_debug("srun ended with %d%s%s: %.200s", code, e->cancelled ? ", cancelled" : "",
		  e->killed ? " and killed" : "", diag);
	/* the allocation ended under the step: slurmstepd's line, in the job's
	 * stderr, "slurmstepd-node: error: *** STEP 42.3 ON node CANCELLED AT ...",
	 * or srun's own "Job step aborted: Waiting up to 5 seconds for job step
	 * to finish." (each was there in every run of a scancel of the holding
	 * job seen here; the first is written by slurmstepd, not srun, so srun's
	 * end is no promise it is there yet) */
	if (code && !e->cancelled && (tail = malloc(1024))) {
		read_tail(e->err_path, tail, 1024);
		if ((strstr(tail, STEPD_MARK) && strstr(tail, "*** STEP ") &&
		     strstr(tail, " CANCELLED")) || strstr(diag, STEP_ABORTED)) {
			const char *due = strstr(tail, " DUE TO ");
			const char *stop = due ? strstr(due, " ***") : NULL;

			snprintf(e->buf, sizeof(e->buf), "slurm cancelled the step%.*s",
				 due && stop ? (int)(stop - due) : 0, due ? due : "");
			e->err = e->buf;
			e->flags = SKY_EXEC_NODE_LOST;
			goto out;
		}
	}
	if (!code)
		goto out;
	/* a job that died of a signal nobody here sent: srun's words, so that
	 * a step Slurm ended without saying so can be told apart later */
	if (code > 128 && !e->cancelled)
		log_info("srun ended with %d, not the node's loss: %.300s", code, diag);
	if ((task = strstr(diag, "task 0: "))) {
		task += 8;
		if (sscanf(task, "Exited with exit code %d", &n) == 1)
			e->status = (n & 0xff) << 8;
		else if (code > 128 && code < 128 + 65)
			e->status = code - 128;   /* as wait(2) says "killed by signal" */
		goto out;
	}
	/* no task line: the step never ran */
	first_error(diag, why, sizeof(why));
	snprintf(e->buf, sizeof(e->buf), "srun: %s", why[0] ? why : "failed without a word");
	e->err = e->buf;
	e->flags = SKY_EXEC_NODE_LOST;
out:
	/* after the kill (the grace is over, the job still ran) srun may die
	 * of a signal, or the step's shell of the kill's TERM, or the payload
	 * of the SIGUSR1, before a task line says the job was killed: it was,
	 * all the same */
	if (e->killed && (WIFSIGNALED(e->status) || WEXITSTATUS(e->status) > 128))
		e->status = SIGKILL;
	free(tail);
	free(diag);
}

/* srun's path, found once in the daemon's PATH. */
static char srun_path[PATH_MAX];
static pthread_once_t srun_once = PTHREAD_ONCE_INIT;

static void find_srun(void)
{
	const char *path = getenv("PATH");
	char *dirs, *dir, *save = NULL;

	if (!path || !(dirs = strdup(path)))
		return;
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
		if ((size_t)snprintf(srun_path, sizeof(srun_path), "%s/srun", dir) <
		    sizeof(srun_path) && *dir == '/' && !access(srun_path, X_OK))
			break;
	if (!dir)
		srun_path[0] = '\0';
	free(dirs);
}

const char *sky_srun_path(void)
{
	pthread_once(&srun_once, find_srun);
	return srun_path[0] ? srun_path : NULL;
}

/* The environment srun runs in: the job's, plus the daemon's SLURM_CONF
 * (which cluster) unless the job names one. */
static char **srun_env(char *const *envp, char *conf_var, size_t len)
{
	const char *conf = getenv("SLURM_CONF");
	size_t n = 0, i;
	char **env;
	int has = 0;

	for (; envp && envp[n]; n++)
		has |= !strncmp(envp[n], "SLURM_CONF=", 11);
	if (!(env = calloc(n + 2, sizeof(*env))))
		return NULL;
	for (i = 0; i < n; i++)
		env[i] = envp[i];
	if (conf && *conf && !has && (size_t)snprintf(conf_var, len, "SLURM_CONF=%s", conf) < len)
		env[n] = conf_var;
	return env;
}

struct srun_words {
	char jobid[160], nodelist[160];
	char output[2 * PATH_MAX], error[2 * PATH_MAX];
	char diag[PATH_MAX + 8], conf[PATH_MAX + 16];
	char launch[sizeof(((struct sky_instance *)0)->launch)];
};

static int srun_start(const struct sky_instance *inst, const struct sky_exec_req *req,
		      struct sky_exec **out)
{
	struct sky_exec_req r = *req;
	struct sky_local_wrap wrap = { 0 };
	struct srun_words *w = NULL;
	const char *argv[32], *srun = sky_srun_path();
	char *save = NULL, *word;
	char **env = NULL;
	size_t n = 0;
	int rc;

	if (!srun)
		return -ENOENT;
	if (!(w = malloc(sizeof(*w))))
		return -ENOMEM;
	snprintf(w->jobid, sizeof(w->jobid), "--jobid=%s", inst->id);
	snprintf(w->nodelist, sizeof(w->nodelist), "--nodelist=%s", inst->address);
	snprintf(w->launch, sizeof(w->launch), "%s", inst->launch);
	if ((rc = file_arg(w->output, sizeof(w->output), "--output", req->stdout_path)) ||
	    (rc = file_arg(w->error, sizeof(w->error), "--error", req->stderr_path)))
		goto out;
	if ((size_t)snprintf(w->diag, sizeof(w->diag), "%s.srun", req->workdir) >=
	    sizeof(w->diag)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	if (!(env = srun_env(req->envp, w->conf, sizeof(w->conf)))) {
		rc = -ENOMEM;
		goto out;
	}
	argv[n++] = srun;
	argv[n++] = w->jobid;
	argv[n++] = w->nodelist;
	argv[n++] = "--overlap";
	argv[n++] = "--nodes=1";
	argv[n++] = "--ntasks=1";
	argv[n++] = "--input=none";
	argv[n++] = "--quiet";
	argv[n++] = w->output;
	argv[n++] = w->error;
	for (word = strtok_r(w->launch, " ", &save); word && n < SKY_ARRAY_SIZE(argv) - 6;
	     word = strtok_r(NULL, " ", &save))
		argv[n++] = word;
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = STEP_WRAPPER;
	argv[n++] = req->workdir;
	argv[n] = NULL;
	wrap.argv = argv;
	wrap.diag_path = w->diag;
	wrap.translate = sky_srun_translate;
	wrap.term_sig = SIGUSR2;
	wrap.kill_sig = SIGUSR1;
	wrap.force_sig = SIGTERM;
	r.envp = env;
	rc = sky_local_start(&r, &wrap, out);
out:
	free(env);
	free(w);
	return rc;
}

const struct sky_transport_ops sky_transport_srun = {
	.name = "srun",
	.shared_fs = 1,
	.suspect_on_lost = 1,
	.start = srun_start,
	.cancel = sky_local_cancel,
	.shutdown = NULL,
};
