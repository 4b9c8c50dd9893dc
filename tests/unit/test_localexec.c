/* Unit tests for the local transport's kill (transport/local.c) with real
 * processes: a plain job dies of SIGKILL at once; a wrapped one (a
 * launcher that must be told, as srun is) gets the kill ladder: term_sig
 * first when none went, kill_sig at least 100 ms after it, and the
 * launcher's own kill (force_sig) 2 s later when it is still there. The
 * "launcher" is this binary again (argv[1] LAUNCHER_FLAG): it writes each
 * signal it gets, with the time it got it, to a log from the handler
 * itself. (A shell launcher logged the time its trap ran, after its
 * foreground sleep and a fork of date: on a loaded CI machine the term's
 * time came so late that the 100 ms gap looked short.) This binary is
 * also the job helper (argv[0]), as the daemon is. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/proc.h"
#include "common/util.h"
#include "transport/local.h"
#include "exec_helpers.h"

#define LAUNCHER_FLAG "--test-launcher"

static char self_exe[4096];       /* this binary, run again as the launcher */
static const char *launcher_log;  /* $LOG, read before any handler runs */
static int launcher_stubborn;     /* $STUBBORN set: TERM does not end it */

/* Appends "<name> <monotonic ms>" to the log; async-signal-safe. */
static void launcher_note(const char *name)
{
	struct timespec ts;
	char line[64], digits[24];
	size_t n = 0, d = 0;
	long long ms;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	while (*name && n < 32)
		line[n++] = *name++;
	line[n++] = ' ';
	do
		digits[d++] = (char)('0' + ms % 10);
	while ((ms /= 10) > 0);
	while (d > 0)
		line[n++] = digits[--d];
	line[n++] = '\n';
	fd = open(launcher_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, n) < 0) {
		/* nothing to do: the test then finds the line missing */
	}
	close(fd);
}

/* USR2 is the term, USR1 the kill, TERM the launcher's own kill, which
 * ends it with 3 unless it is stubborn. */
static void launcher_signal(int sig)
{
	launcher_note(sig == SIGUSR2 ? "term" : sig == SIGUSR1 ? "kill" : "force");
	if (sig == SIGTERM && !launcher_stubborn)
		_exit(3);
}

static int launcher_main(void)
{
	static const int sigs[] = { SIGUSR2, SIGUSR1, SIGTERM };
	struct sigaction sa = { .sa_handler = launcher_signal };
	size_t i;

	launcher_log = getenv("LOG");
	launcher_stubborn = getenv("STUBBORN") != NULL;
	if (!launcher_log)
		return 2;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL))
			return 2;
	launcher_note("start");
	for (;;)
		pause();
}

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
	const char *const argv[] = { self_exe, LAUNCHER_FLAG, NULL };
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

	ssize_t n;

	if (argc > 0 && !strcmp(argv[0], SKY_JOB_HELPER))
		return sky_job_helper_main();
	if (argc > 1 && !strcmp(argv[1], LAUNCHER_FLAG))
		return launcher_main();
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	return cmocka_run_group_tests(tests, NULL, NULL);
}
