/* The SSH transport against a real sshd on loopback: connecting with a
 * verified host key, commands, a job with its payload, streams, exit code
 * and $SKY_OUTPUT, cancel, a refused host key, and a node that dies under a
 * running job. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "providers/provider.h"
#include "transport/ssh.h"
#include "transport/sshkey.h"
#include "exec_helpers.h"
#include "sshd_helper.h"

struct fixture {
	char dir[PATH_MAX];
	char key[PATH_MAX];
	char known[PATH_MAX];
	struct test_sshd sshd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char pub[512], line[1024], auth[PATH_MAX + 32], hostpub[PATH_MAX + 8];
	char *text = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/skyfs-ssht.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0755);
	snprintf(f->key, sizeof(f->key), "%s/id", f->dir);
	assert_int_equal(sky_sshkey_generate(f->key, "test", pub, sizeof(pub)), 0);
	snprintf(auth, sizeof(auth), "%s/authorized_keys", f->dir);
	assert_int_equal(sky_write_file_atomic(auth, pub, strlen(pub), 0), 0);
	chmod(auth, 0644);
	assert_int_equal(test_sshd_start(&f->sshd, f->dir, auth), 0);
	snprintf(hostpub, sizeof(hostpub), "%s.pub", f->sshd.host_key);
	assert_int_equal(sky_read_file(hostpub, &text, NULL, 4096), 0);
	snprintf(line, sizeof(line), "[127.0.0.1]:%d %s", f->sshd.port, text);
	free(text);
	snprintf(f->known, sizeof(f->known), "%s/known_hosts", f->dir);
	assert_int_equal(sky_write_file_atomic(f->known, line, strlen(line), 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_sshd_stop(&f->sshd);
	sky_rm_rf(f->dir);
	free(f);
	return 0;
}

static void params(const struct fixture *f, struct sky_ssh_params *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->user, sizeof(p->user), "%s", test_user());
	snprintf(p->host, sizeof(p->host), "127.0.0.1");
	p->port = f->sshd.port;
	snprintf(p->identity, sizeof(p->identity), "%s", f->key);
	snprintf(p->known_hosts, sizeof(p->known_hosts), "%s", f->known);
	p->policy = SKY_HOSTKEY_STRICT;
	p->connect_timeout_s = 5;
	p->node_timeout_s = 3;
	snprintf(p->remote_dir, sizeof(p->remote_dir), "%s/remote", f->dir);
}

static void test_run(void **state)
{
	struct fixture *f = *state;
	struct sky_ssh_params p;
	struct sky_ssh_conn *c;
	struct sky_buf out = { 0 };
	char msg[512];
	int status = -1;

	params(f, &p);
	assert_int_equal(sky_ssh_open(&p, &c), 0);
	assert_int_equal(sky_ssh_wait_up(c, 10, msg, sizeof(msg)), 0);
	assert_non_null(strstr(sky_ssh_remote_dir(c), "/remote"));
	assert_int_equal(sky_ssh_run(c, "echo hi; exit 4", 10, &out, 100, &status), 0);
	assert_string_equal(out.data, "hi\n");
	assert_int_equal(WEXITSTATUS(status), 4);
	sky_buf_free(&out);
	sky_ssh_close(c);
}

static void test_unknown_host_key(void **state)
{
	struct fixture *f = *state;
	struct sky_ssh_params p;
	struct sky_ssh_conn *c;
	char msg[512], empty[PATH_MAX + 8], record[PATH_MAX + 8];
	struct stat st;

	params(f, &p);
	snprintf(empty, sizeof(empty), "%s/empty_known", f->dir);
	snprintf(p.known_hosts, sizeof(p.known_hosts), "%s", empty);
	assert_int_equal(sky_ssh_open(&p, &c), 0);
	assert_int_equal(sky_ssh_wait_up(c, 10, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "SHA256:"));
	sky_ssh_close(c);
	/* accept-new records it and gets in */
	snprintf(record, sizeof(record), "%s/recorded", f->dir);
	snprintf(p.record_file, sizeof(p.record_file), "%s", record);
	p.policy = SKY_HOSTKEY_ACCEPT_NEW;
	assert_int_equal(sky_ssh_open(&p, &c), 0);
	assert_int_equal(sky_ssh_wait_up(c, 10, msg, sizeof(msg)), 0);
	assert_int_equal(stat(record, &st), 0);
	assert_true(st.st_size > 0);
	sky_ssh_close(c);
}

/* Starts a job whose payload is `script`; results land in f->dir/res. */
static void start_job(struct fixture *f, struct sky_ssh_conn *c, const char *name,
		      const char *script, struct exec_result *r, struct sky_exec **ex)
{
	struct sky_instance inst = { 0 };
	struct sky_exec_req req = { 0 };
	char payload[PATH_MAX + 64], outp[PATH_MAX + 64], errp[PATH_MAX + 64];
	char files[PATH_MAX + 64], wd[PATH_MAX + 64];
	char *envp[] = { "SKY_JOB=x", "MYVAR=it's here", "PATH=/nonexistent", NULL };

	snprintf(payload, sizeof(payload), "%s/%s.payload", f->dir, name);
	assert_int_equal(sky_write_file_atomic(payload, script, strlen(script), 0), 0);
	snprintf(outp, sizeof(outp), "%s/%s.stdout", f->dir, name);
	snprintf(errp, sizeof(errp), "%s/%s.stderr", f->dir, name);
	snprintf(files, sizeof(files), "%s/%s.files", f->dir, name);
	snprintf(wd, sizeof(wd), "%s/work/%s", sky_ssh_remote_dir(c), name);
	inst.conn = c;
	req.workdir = wd;
	req.payload = payload;
	req.envp = envp;
	req.stdout_path = outp;
	req.stderr_path = errp;
	req.files_dest = files;
	req.done = exec_done;
	req.arg = r;
	assert_int_equal(sky_transport_ssh.start(&inst, &req, ex), 0);
}

static char *slurp(const struct fixture *f, const char *name, const char *what)
{
	char path[PATH_MAX + 64], *text = NULL;

	snprintf(path, sizeof(path), "%s/%s.%s", f->dir, name, what);
	if (sky_read_file(path, &text, NULL, 1 << 20))
		return strdup("<missing>");
	return text;
}

static void test_job(void **state)
{
	struct fixture *f = *state;
	struct exec_result r = EXEC_RESULT_INIT;
	struct sky_ssh_params p;
	struct sky_ssh_conn *c;
	struct sky_exec *ex;
	char *text;

	params(f, &p);
	assert_int_equal(sky_ssh_open(&p, &c), 0);
	assert_int_equal(sky_ssh_wait_up(c, 10, NULL, 0), 0);
	start_job(f, c, "j1",
		  "echo out $MYVAR; echo err >&2; printf 'no newline' >&2\n"
		  "mkdir -p $SKY_OUTPUT/sub; echo data > $SKY_OUTPUT/sub/f.txt\n"
		  "case $PATH in /nonexistent*) echo leaked;; esac\nexit 3\n", &r, &ex);
	assert_int_equal(exec_wait(&r, 15), 0);
	assert_int_equal(r.flags, 0);
	assert_int_equal(WEXITSTATUS(r.status), 3);
	text = slurp(f, "j1", "stdout");
	assert_string_equal(text, "out it's here\n");
	free(text);
	text = slurp(f, "j1", "stderr");
	assert_string_equal(text, "err\nno newline");
	free(text);
	text = slurp(f, "j1", "files/sub/f.txt");
	assert_string_equal(text, "data\n");
	free(text);
	sky_ssh_close(c);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct exec_result r = EXEC_RESULT_INIT;
	struct sky_ssh_params p;
	struct sky_ssh_conn *c;
	struct sky_exec *ex;
	double t0;

	params(f, &p);
	assert_int_equal(sky_ssh_open(&p, &c), 0);
	assert_int_equal(sky_ssh_wait_up(c, 10, NULL, 0), 0);
	start_job(f, c, "long", "echo started; sleep 29.5\n", &r, &ex);
	usleep(500000);
	t0 = sky_mono();
	sky_transport_ssh.cancel(ex, SIGTERM);
	assert_int_equal(exec_wait(&r, 10), 0);
	assert_true(sky_mono() - t0 < 5);
	assert_int_equal(WEXITSTATUS(r.status), 128 + SIGTERM);
	/* the bracket keeps pgrep from finding the shell that runs it */
	assert_int_equal(test_sh(NULL, 0, "pgrep -f '[s]leep 29.5' >/dev/null"), 1);
	sky_ssh_close(c);
}

static int downs;
static void on_state(void *arg, int up, const char *why)
{
	(void)arg;
	(void)why;
	if (!up)
		__atomic_add_fetch(&downs, 1, __ATOMIC_RELAXED);
}

static void test_node_dies(void **state)
{
	struct fixture *f = *state;
	struct exec_result r = EXEC_RESULT_INIT;
	struct sky_ssh_params p;
	struct sky_ssh_conn *c;
	struct sky_exec *ex;

	params(f, &p);
	p.state = on_state;
	assert_int_equal(sky_ssh_open(&p, &c), 0);
	assert_int_equal(sky_ssh_wait_up(c, 10, NULL, 0), 0);
	start_job(f, c, "doomed", "sleep 20\n", &r, &ex);
	usleep(500000);
	/* the listener and every session it forked: the node is gone */
	test_sh(NULL, 0, "pkill -KILL -P %d; kill -KILL %d", (int)f->sshd.pid,
		(int)f->sshd.pid);
	waitpid(f->sshd.pid, NULL, 0);
	f->sshd.pid = 0;
	assert_int_equal(exec_wait(&r, 10), 0);
	assert_true(r.flags & SKY_EXEC_NODE_LOST);
	assert_true(r.err[0]);
	assert_true(__atomic_load_n(&downs, __ATOMIC_RELAXED) >= 1);
	test_sh(NULL, 0, "pkill -f 'sleep 20'");
	sky_ssh_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_host_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_dies, setup, teardown),
	};

	sky_ssh_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
