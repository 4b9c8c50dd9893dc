/* The slurm provider's use of Slurm's client commands (slurm_steps.h):
 * the probe step that checks a node sees the state directory, and the
 * cancel of a crashed run's leftover steps. */
#define LOG_MODULE "slurm"
#include "providers/slurm_steps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "transport/srun.h"

#define COMMAND_TIMEOUT_MS 30000

/* Runs one of Slurm's client commands with its output into out: not in
 * the daemon's environment (SLURM_JWT would make srun speak JWT to slurmd,
 * and must not reach a node anyway), only PATH and which cluster. 0, or
 * -EIO when it exited non-zero, or -errno (-ETIMEDOUT) when it could not
 * run to its end. */
static int client_command(char *const argv[], struct sky_buf *out)
{
	char conf[4200], *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL, NULL };
	int status = 0, rc;

	if (getenv("SLURM_CONF")) {
		snprintf(conf, sizeof(conf), "SLURM_CONF=%s", getenv("SLURM_CONF"));
		envp[1] = conf;
	}
	rc = sky_run_capture_env(argv, envp, COMMAND_TIMEOUT_MS, out, 1 << 16, &status);
	return rc ? rc : WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

int slurm_cancel_steps(long id, struct sky_err *err)
{
	char jobs[64], *line, *save = NULL, *args[40];
	struct sky_buf out = { 0 }, words = { 0 };
	size_t n = 0, i, offs[32];
	int rc;

	snprintf(jobs, sizeof(jobs), "--jobs=%ld", id);
	{
		char *argv[] = { "squeue", "--steps", jobs, "--noheader", "--format=%i", NULL };

		rc = client_command(argv, &out);
	}
	for (line = out.data && !rc ? strtok_r(out.data, "\n", &save) : NULL;
	     line && n < SKY_ARRAY_SIZE(offs); line = strtok_r(NULL, "\n", &save)) {
		char *dot = strchr(line, '.');

		/* "42.3" yes; "42.batch", "42.extern" no */
		if (dot && dot[1] >= '0' && dot[1] <= '9' && atol(line) == id) {
			offs[n++] = words.len;
			sky_buf_append(&words, line, strlen(line) + 1);
		}
	}
	if (!rc && n && words.data) {
		args[0] = "scancel";
		args[1] = "--quiet";
		for (i = 0; i < n; i++)
			args[2 + i] = words.data + offs[i];
		args[2 + n] = NULL;
		log_info("job %ld: cancelling %zu step(s) a previous run left", id, n);
		rc = client_command(args, &out);
	}
	if (rc)
		sky_err_set(err, "slurm: cannot cancel the steps job %ld had: %s", id,
			    rc == -EIO ? "squeue or scancel failed" : strerror(-rc));
	sky_buf_free(&words);
	sky_buf_free(&out);
	return rc;
}

int slurm_probe(const char *dir, int rank, const struct sky_instance *inst,
		struct sky_err *err)
{
	char file[4200], token[40], jobid[64], node[160];
	struct sky_buf out = { 0 };
	int rc;

	snprintf(token, sizeof(token), "skyfs-%d-%.0f-%d", (int)getpid(), sky_mono() * 1e9, rank);
	snprintf(file, sizeof(file), "%s/probe-%d", dir, rank);
	if ((rc = sky_write_file_atomic(file, token, strlen(token), 0))) {
		sky_err_set(err, "slurm: %s: %s", file, strerror(-rc));
		return rc;
	}
	snprintf(jobid, sizeof(jobid), "--jobid=%s", inst->id);
	snprintf(node, sizeof(node), "--nodelist=%s", inst->address);
	{
		char *argv[] = { (char *)sky_srun_path(), jobid, node, "--overlap", "--nodes=1",
				 "--ntasks=1", "--input=none", "--quiet", "--export=NONE",
				 "/bin/cat", file, NULL };

		rc = client_command(argv, &out);
	}
	unlink(file);
	if (rc == -ETIMEDOUT)
		sky_err_set(err, "slurm: srun on %s for job %s did not answer in %d s",
			    inst->address, inst->id, COMMAND_TIMEOUT_MS / 1000);
	else if (rc && rc != -EIO)
		sky_err_set(err, "slurm: cannot run srun: %s", strerror(-rc));
	else if (rc || !out.data || strncmp(out.data, token, strlen(token))) {
		sky_err_set(err, "slurm: node %s does not see %s, which skyfs needs to share with "
			    "it: run skyfs with a state directory on a filesystem the nodes "
			    "mount at the same path (-o state=DIR)", inst->address, dir);
		rc = -EIO;
	}
	sky_buf_free(&out);
	return rc;
}
