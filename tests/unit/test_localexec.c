/* Unit tests for the local transport's kill (transport/local.c) with real
 * processes: a plain job dies of SIGKILL at once; a wrapped one (a
 * launcher that must be told, as srun is) gets the kill ladder: term_sig
 * first when none went, kill_sig at least 100 ms after it, and the
 * launcher's own kill (force_sig) 2 s later when it is still there. The
 * "launcher" here is a shell that writes each signal it gets, with the
 * time, to a log. This binary is also the job helper (argv[0]), as the
 * daemon is. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/proc.h"
#include "common/util.h"
#include "transport/local.h"
#include "exec_helpers.h"

/* What the launcher does: logs USR2, USR1 and TERM as "<name> <ms>";
 * TERM (the launcher's own kill) ends it with 3 unless it is stubborn. */
#define LAUNCHER \
	"t() { echo \"$1 $(($(date +%s%N) / 1000000))\" >> \"$LOG\"; }\n" \
	"trap 't term' USR2\n" \
	"trap 't kill' USR1\n" \
	"trap 't force; [ -n \"$STUBBORN\" ] || exit 3' TERM\n" \
	"t start\n" \
	"while :; do sleep 0.02; done\n"

struct run {
	struct exec_result res;
	int killed;
	char dir[64], log[96];
	struct sky_exec *ex;
};

static struct run *translated;    /* the run whose end translate() sees */

static void translate(struct sky_local_end *e)
{
	translated->killed = e->killed;
}

/* Starts the launcher (wrapped) or a plain sleep; waits until it runs. */
static void start(struct run *r, int wrapped, int stubborn)
{
	static const char *const argv[] = { "/bin/sh", "-c", LAUNCHER, "launcher", NULL };
	char work[96], out[96], err[96], logenv[128];
	char *envp[] = { "PATH=/usr/bin:/bin", logenv, stubborn ? "STUBBORN=1" : NULL, NULL };
	struct sky_local_wrap wrap = { .argv = argv, .translate = translate,
				       .term_sig = SIGUSR2, .kill_sig = SIGUSR1,
				       .force_sig = SIGTERM };
	struct sky_exec_req req = { 0 };
	char diag[96];
	double end;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->res.lock, NULL);
	strcpy(r->dir, "/tmp/skyfs-localexec-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->log, sizeof(r->log), "%s/log", r->dir);
	snprintf(logenv, sizeof(logenv), "LOG=%s", r->log);
	snprintf(work, sizeof(work), "%s/work", r->dir);
	snprintf(out, sizeof(out), "%s/stdout", r->dir);
	snprintf(err, sizeof(err), "%s/stderr", r->dir);
	snprintf(diag, sizeof(diag), "%s/diag", r->dir);
	wrap.diag_path = diag;
	req.workdir = work;
	req.shell_command = wrapped ? "true" : "t=$(($(date +%s%N) / 1000000)); "
					       "echo \"start $t\" > \"$LOG\"; sleep 30";
	req.envp = envp;
	req.stdout_path = out;
	req.stderr_path = err;
	req.done = exec_done;
	req.arg = &r->res;
	translated = r;
	assert_int_equal(sky_local_start(&req, wrapped ? &wrap : NULL, &r->ex), 0);
	for (end = sky_mono() + 10; sky_mono() < end; usleep(10000)) {
		char *text = NULL;
		size_t len;
		int found = !sky_read_file(r->log, &text, &len, 4096) && strstr(text, "start");

		free(text);
		if (found)
			return;
	}
	fail_msg("the job did not start");
}

/* The time the launcher logged name at, in ms; -1 when it did not. */
static long long logged(const struct run *r, const char *name)
{
	char line[128], what[32];
	long long ms;
	FILE *f = fopen(r->log, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %lld", what, &ms) == 2 && !strcmp(what, name)) {
			fclose(f);
			return ms;
		}
	fclose(f);
	return -1;
}

static void cleanup(struct run *r)
{
	sky_rm_rf(r->dir);
}

static void test_plain_job_dies_of_sigkill_at_once(void **state)
{
	static struct run r;   /* static: an end after a failed case finds it */
	double t0;

	(void)state;
	start(&r, 0, 0);
	t0 = sky_mono();
	assert_int_equal(sky_local_cancel(r.ex, SIGKILL), 0);
	assert_int_equal(0, exec_wait(&r.res, 5));
	assert_true(sky_mono() - t0 < 1.0);
	assert_true(WIFSIGNALED(r.res.status));
	assert_int_equal(WTERMSIG(r.res.status), SIGKILL);
	cleanup(&r);
}

/* A kill with no term before it: term, kill 100 ms later, then the
 * launcher's own kill 2 s after that, which ends this launcher. */
static void test_kill_without_term_climbs_the_ladder(void **state)
{
	static struct run r;   /* static: an end after a failed case finds it */
	long long term, kill, force;

	(void)state;
	start(&r, 1, 0);
	assert_int_equal(sky_local_cancel(r.ex, SIGKILL), 0);
	assert_int_equal(0, exec_wait(&r.res, 8));
	term = logged(&r, "term");
	kill = logged(&r, "kill");
	force = logged(&r, "force");
	assert_true(term > 0 && kill > 0 && force > 0);
	assert_true(kill - term >= 90);
	assert_true(force - kill >= 1900 && force - kill < 4000);
	assert_true(WIFEXITED(r.res.status));
	assert_int_equal(WEXITSTATUS(r.res.status), 3);
	assert_int_equal(r.killed, 1);
	cleanup(&r);
}

/* The cancel's term came: the kill follows it by 100 ms, not at once,
 * and no second term goes. A launcher that obeys kill_sig sees no force. */
static void test_kill_right_after_term_waits_for_it(void **state)
{
	static struct run r;   /* static: an end after a failed case finds it */
	long long term, kill;
	char *text = NULL;
	size_t len;

	(void)state;
	start(&r, 1, 0);
	assert_int_equal(sky_local_cancel(r.ex, SIGTERM), 0);
	assert_int_equal(sky_local_cancel(r.ex, SIGKILL), 0);
	usleep(600000);
	term = logged(&r, "term");
	kill = logged(&r, "kill");
	assert_true(term > 0 && kill > 0);
	assert_true(kill - term >= 90);
	assert_int_equal(sky_read_file(r.log, &text, &len, 4096), 0);
	assert_null(strstr(strstr(text, "term") + 4, "term"));
	free(text);
	assert_int_equal(logged(&r, "force"), -1);
	/* then the ladder goes on: this launcher does not end on kill_sig */
	assert_int_equal(0, exec_wait(&r.res, 5));
	assert_true(logged(&r, "force") > 0);
	cleanup(&r);
}

/* A launcher that ignores its own kill too gets SIGKILL in the end. */
static void test_stubborn_launcher_gets_sigkill_last(void **state)
{
	static struct run r;   /* static: an end after a failed case finds it */

	(void)state;
	start(&r, 1, 1);
	assert_int_equal(sky_local_cancel(r.ex, SIGKILL), 0);
	assert_int_equal(0, exec_wait(&r.res, 25));
	assert_true(logged(&r, "force") > 0);
	assert_true(WIFSIGNALED(r.res.status));
	assert_int_equal(WTERMSIG(r.res.status), SIGKILL);
	cleanup(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_job_dies_of_sigkill_at_once),
		cmocka_unit_test(test_kill_without_term_climbs_the_ladder),
		cmocka_unit_test(test_kill_right_after_term_waits_for_it),
		cmocka_unit_test(test_stubborn_launcher_gets_sigkill_last),
	};

	if (argc > 0 && !strcmp(argv[0], SKY_JOB_HELPER))
		return sky_job_helper_main();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
