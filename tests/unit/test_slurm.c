/* Unit tests for the slurm provider's wire (providers/slurm_api.c) and the
 * srun transport's reading of a step's end (transport/srun.c): answers as
 * slurmrestd 22.05 gives them (trimmed), its three error shapes and what
 * each errno means, the holding job's request body, gres strings, the
 * offers a cluster's nodes make, the slurm spec keys, and srun's exit
 * codes and messages turned into the job's status. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog/catalog.h"
#include "common/util.h"
#include "providers/slurm_api.h"
#include "scheduler/spec.h"
#include "transport/srun.h"
#include "api_helpers.h"

#define META "\"meta\":{\"plugin\":{\"type\":\"openapi/v0.0.38\"},\"Slurm\":{\"release\":\"22.05.8\"}}"

static void test_submit_answer(void **state)
{
	json_t *ok = load("{" META ",\"errors\":[],\"job_id\":42,\"step_id\":\"BATCH\","
			  "\"job_submit_user_msg\":\"\"}");
	json_t *bad = load("{" META ",\"errors\":[{\"error_code\":2000,"
			   "\"error\":\"Invalid partition name specified\"}]}");
	long id = 0;

	(void)state;
	assert_int_equal(slurm_parse_submit(ok, &id), 0);
	assert_int_equal(id, 42);
	assert_int_equal(slurm_parse_submit(bad, &id), -EPROTO);
	json_decref(ok);
	json_decref(bad);
}

static void test_job_states(void **state)
{
	json_t *pending = load("{" META ",\"errors\":[],\"jobs\":[{\"job_id\":2,"
			       "\"name\":\"skyfs-abc-pool-1\",\"job_state\":\"PENDING\","
			       "\"state_reason\":\"Resources\",\"nodes\":\"\",\"batch_host\":\"\","
			       "\"partition\":\"debug\",\"cpus\":2,\"time_limit\":60}]}");
	json_t *running = load("{" META ",\"errors\":[],\"jobs\":[{\"job_id\":1,"
			       "\"name\":\"skyfs-abc-pool-0\",\"job_state\":\"RUNNING\","
			       "\"state_reason\":\"None\",\"nodes\":\"vm\",\"batch_host\":\"vm\","
			       "\"partition\":\"debug\",\"time_limit\":null}]}");
	json_t *unknown = load("{" META ",\"errors\":[{\"description\":\"Unable to find "
			       "JobId=999999\",\"error_number\":2017,\"error\":\"Invalid job id "
			       "specified\",\"source\":\"slurm_load_job\"}],\"jobs\":[]}");
	json_t *junk = load("{\"jobs\":[{\"job_id\":\"7\"}]}");
	struct slurm_job j;

	(void)state;
	assert_int_equal(slurm_parse_job(pending, &j), 0);
	assert_int_equal(j.id, 2);
	assert_string_equal(j.state, "PENDING");
	assert_string_equal(j.reason, "Resources");
	assert_string_equal(j.nodes, "");
	assert_string_equal(j.name, "skyfs-abc-pool-1");
	assert_int_equal(slurm_parse_job(running, &j), 0);
	assert_string_equal(j.state, "RUNNING");
	assert_string_equal(j.nodes, "vm");
	assert_string_equal(j.partition, "debug");
	assert_int_equal(slurm_parse_job(unknown, &j), -ENOENT);
	assert_int_equal(slurm_parse_job(junk, &j), -EPROTO);
	json_decref(pending);
	json_decref(running);
	json_decref(unknown);
	json_decref(junk);
}

static void test_jobs_by_prefix(void **state)
{
	json_t *doc = load("{" META ",\"errors\":[],\"jobs\":["
			   "{\"job_id\":1,\"name\":\"skyfs-m1-aa-p-0\",\"job_state\":\"RUNNING\"},"
			   "{\"job_id\":2,\"name\":\"wrap\",\"job_state\":\"PENDING\"},"
			   "{\"job_id\":3,\"name\":\"skyfs-m1-bb-q-0\",\"job_state\":\"CANCELLED\"},"
			   "{\"job_id\":4,\"name\":\"skyfs-m2-aa-p-0\",\"job_state\":\"RUNNING\"},"
			   "{\"name\":\"skyfs-m1-cc-r-0\",\"job_state\":\"RUNNING\"}]}");
	struct slurm_job *jobs = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(slurm_parse_jobs(doc, "skyfs-m1-", &jobs, &n), 0);
	/* the one without an id is no job to cancel */
	assert_int_equal(n, 2);
	assert_int_equal(jobs[0].id, 1);
	assert_int_equal(jobs[1].id, 3);
	assert_string_equal(jobs[1].state, "CANCELLED");
	free(jobs);
	assert_int_equal(slurm_parse_jobs(doc, NULL, &jobs, &n), 0);
	assert_int_equal(n, 4);
	free(jobs);
	json_decref(doc);
}

static void test_errors(void **state)
{
	/* the three shapes, and the first of several errors */
	json_t *a = load("{\"errors\":[{\"description\":\"Unable to find JobId=9\","
			 "\"error_number\":2017,\"error\":\"Invalid job id specified\"}]}");
	json_t *b = load("{\"errors\":[{\"error\":\"environment must be set\","
			 "\"error_code\":2127},{\"error_code\":9001,\"error\":\"Failure during "
			 "parsing\"}]}");
	json_t *c = load("{\"error_number\":1001,\"error\":\"Access denied\"}");
	json_t *none = load("{" META ",\"errors\":[]}");
	char msg[256];
	int code = 0;

	(void)state;
	assert_int_equal(slurm_parse_error(a, msg, sizeof(msg), &code), 0);
	assert_int_equal(code, 2017);
	assert_string_equal(msg, "Unable to find JobId=9");
	assert_int_equal(slurm_parse_error(b, msg, sizeof(msg), &code), 0);
	assert_int_equal(code, 2127);
	assert_string_equal(msg, "environment must be set");
	assert_int_equal(slurm_parse_error(c, msg, sizeof(msg), &code), 0);
	assert_int_equal(code, 1001);
	assert_int_equal(slurm_parse_error(none, msg, sizeof(msg), &code), -ENOENT);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(none);
}

static enum sky_api_kind kind_of(long status, const char *text)
{
	struct sky_api_error e = { 0 };
	json_t *doc = text ? load(text) : NULL;
	enum sky_api_kind k = slurm_classify(status, doc, text, &e);

	json_decref(doc);
	return k;
}

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(kind_of(200, "{\"errors\":[],\"jobs\":[]}"), SKY_API_OK);
	assert_int_equal(kind_of(500, "{\"errors\":[{\"error_number\":2017,\"error\":"
				 "\"Invalid job id specified\"}]}"), SKY_API_NOTFOUND);
	/* a bad or foreign token: slurmctld refuses, 22.05 says no more */
	assert_int_equal(kind_of(500, "{\"errors\":[{\"description\":\"slurmctld config is "
				 "unable to load\",\"error_number\":-1,\"error\":\"Unspecified "
				 "error\"}]}"), SKY_API_AUTH);
	assert_int_equal(kind_of(500, "{\"errors\":[{\"error_code\":2000,\"error\":"
				 "\"Invalid partition name specified\"}]}"), SKY_API_CLIENT);
	/* refused with a job made all the same: still a refusal */
	assert_int_equal(kind_of(200, "{\"errors\":[{\"error_code\":2015,\"error\":"
				 "\"Requested partition configuration not available now\"}],"
				 "\"job_id\":12}"), SKY_API_CLIENT);
	assert_int_equal(kind_of(401, NULL), SKY_API_AUTH);
	assert_int_equal(kind_of(500, "{\"errors\":[{\"error_code\":5005,\"error\":"
				 "\"Zero Bytes were transmitted or received\"}]}"),
			 SKY_API_SERVER);
	assert_int_equal(kind_of(400, NULL), SKY_API_CLIENT);
}

static void test_submit_body(void **state)
{
	struct slurm_submit s = { .name = "skyfs-m-h-p-0", .script = "#!/bin/sh\nsleep 1\n",
				  .partition = "gpu", .qos = "high", .time_limit_min = 90,
				  .cpus = 4, .memory_mb = 8192, .gres = "gpu:a100:2",
				  .workdir = "/state/p/slurm", .output = "/state/p/slurm/h.out" };
	json_t *doc = slurm_submit_body(&s), *job;

	(void)state;
	assert_non_null(doc);
	assert_string_equal(sky_json_str(doc, "script"), s.script);
	job = json_object_get(doc, "job");
	assert_string_equal(sky_json_str(job, "name"), "skyfs-m-h-p-0");
	assert_string_equal(sky_json_str(job, "partition"), "gpu");
	assert_string_equal(sky_json_str(job, "qos"), "high");
	assert_null(json_object_get(job, "account"));
	assert_int_equal(json_integer_value(json_object_get(job, "time_limit")), 90);
	assert_int_equal(json_integer_value(json_object_get(job, "cpus_per_task")), 4);
	assert_int_equal(json_integer_value(json_object_get(job, "nodes")), 1);
	assert_int_equal(json_integer_value(json_object_get(job, "memory_per_node")), 8192);
	assert_string_equal(sky_json_str(job, "gres"), "gpu:a100:2");
	assert_string_equal(sky_json_str(job, "current_working_directory"), "/state/p/slurm");
	assert_true(json_is_false(json_object_get(job, "requeue")));
	/* required by slurmrestd, and holding none of the daemon's variables */
	assert_int_equal(json_object_size(json_object_get(job, "environment")), 1);
	assert_non_null(json_object_get(json_object_get(job, "environment"), "PATH"));
	json_decref(doc);

	s.partition = s.qos = s.gres = NULL;
	s.time_limit_min = 0;
	s.memory_mb = 0;
	doc = slurm_submit_body(&s);
	job = json_object_get(doc, "job");
	assert_null(json_object_get(job, "partition"));
	assert_null(json_object_get(job, "time_limit"));
	assert_null(json_object_get(job, "gres"));
	assert_null(json_object_get(job, "memory_per_node"));
	json_decref(doc);
}

static void test_gres(void **state)
{
	char type[32];
	int n = 0;

	(void)state;
	assert_int_equal(slurm_gres_gpu("gpu:a100:4(S:0-1)", type, sizeof(type), &n), 0);
	assert_string_equal(type, "a100");
	assert_int_equal(n, 4);
	assert_int_equal(slurm_gres_gpu("gpu:2", type, sizeof(type), &n), 0);
	assert_string_equal(type, "");
	assert_int_equal(n, 2);
	assert_int_equal(slurm_gres_gpu("shard:8,gpu:h100:8(S:0)", type, sizeof(type), &n), 0);
	assert_string_equal(type, "h100");
	assert_int_equal(n, 8);
	assert_int_equal(slurm_gres_gpu("", type, sizeof(type), &n), -ENOENT);
	assert_int_equal(slurm_gres_gpu("(null)", type, sizeof(type), &n), -ENOENT);
	assert_int_equal(slurm_gres_gpu("gpu:a100:0", type, sizeof(type), &n), -ENOENT);
}

static void test_offers(void **state)
{
	json_t *doc = load("{" META ",\"errors\":[],\"nodes\":["
			   "{\"name\":\"g1\",\"state\":\"idle\",\"cpus\":64,\"alloc_cpus\":0,"
			   " \"real_memory\":512000,\"gres\":\"gpu:a100:4(S:0-1)\","
			   " \"gres_used\":\"gpu:a100:0(IDX:N/A)\",\"partitions\":[\"gpu\",\"all\"]},"
			   "{\"name\":\"g2\",\"state\":\"mixed\",\"cpus\":32,\"alloc_cpus\":8,"
			   " \"real_memory\":256000,\"gres\":\"gpu:a100:8\","
			   " \"partitions\":[\"gpu\"]},"
			   "{\"name\":\"c1\",\"state\":\"idle\",\"cpus\":16,\"real_memory\":64000,"
			   " \"gres\":\"\",\"partitions\":[\"cpu\",\"all\"]},"
			   "{\"name\":\"dead\",\"state\":\"down\",\"cpus\":128,\"gres\":\"gpu:h100:8\","
			   " \"partitions\":[\"gpu\"]}]}");
	struct slurm_node *nodes = NULL;
	struct sky_offer *o = NULL;
	const struct sky_offer *f;
	size_t n_nodes = 0, n = 0;
	char err[256];

	(void)state;
	assert_int_equal(sky_catalog_init(err, sizeof(err)), 0);
	assert_int_equal(slurm_parse_nodes(doc, &nodes, &n_nodes), 0);
	assert_int_equal(n_nodes, 4);
	assert_string_equal(nodes[0].partitions, "gpu,all");
	assert_int_equal(nodes[1].alloc_cpus, 8);
	assert_int_equal(slurm_offers_from_nodes(nodes, n_nodes, &o, &n), 0);
	/* gpu: cpu + gpu:a100; all: cpu + gpu:a100; cpu: cpu. The down node
	 * offers nothing (no H100 anywhere). */
	assert_int_equal(n, 5);
	f = find_offer(o, n, "gpu:a100", "gpu");
	assert_non_null(f);
	assert_string_equal(f->provider, "slurm");
	assert_string_equal(f->accelerator, "A100");
	assert_int_equal(f->accelerator_count, 8);    /* the most one node has */
	assert_int_equal(f->vcpus, 64);
	assert_true(f->shareable);
	assert_true(f->price_usd_per_hour == 0.0);
	assert_int_equal(f->source, SKY_SOURCE_LIVE);
	f = find_offer(o, n, "gpu:a100", "all");
	assert_non_null(f);
	assert_int_equal(f->accelerator_count, 4);
	f = find_offer(o, n, "cpu", "all");
	assert_non_null(f);
	assert_string_equal(f->accelerator, "");
	assert_int_equal(f->vcpus, 64);
	assert_non_null(find_offer(o, n, "cpu", "cpu"));
	assert_null(find_offer(o, n, "gpu:h100", "gpu"));
	free(o);
	free(nodes);
	json_decref(doc);
	sky_catalog_fini();
}

static void test_spec_keys(void **state)
{
	struct sky_spec s;
	char err[256], *text = NULL;

	(void)state;
	assert_int_equal(sky_spec_parse("provider = slurm\npartition = gpu,debug\naccount = ml\n"
					"qos = high\ntime_limit = 90m\n", 79, &s, err,
					sizeof(err)), 0);
	assert_string_equal(s.partition, "gpu,debug");
	assert_string_equal(s.account, "ml");
	assert_string_equal(s.qos, "high");
	assert_int_equal(s.time_limit_s, 5400);
	assert_int_equal(sky_spec_format(&s, &text), 0);
	assert_non_null(strstr(text, "partition = gpu,debug\n"));
	assert_non_null(strstr(text, "time_limit = 1h30m\n"));
	free(text);
	sky_spec_free(&s);
	assert_int_equal(sky_spec_parse("partition = a b\n", 16, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1: partition: invalid Slurm name"));
	assert_int_equal(sky_spec_parse("qos = \"x\"\n", 10, &s, err, sizeof(err)), -EINVAL);
	assert_int_equal(sky_spec_parse("time_limit = 400d\n", 18, &s, err, sizeof(err)), -EINVAL);
}

/* ---- srun's end ------------------------------------------------------------------- */

struct ends {
	char dir[64], diag[128], err[128];
};

static int ends_setup(void **state)
{
	struct ends *e = calloc(1, sizeof(*e));

	snprintf(e->dir, sizeof(e->dir), "/tmp/skyfs-srun-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->diag, sizeof(e->diag), "%s/diag", e->dir);
	snprintf(e->err, sizeof(e->err), "%s/stderr", e->dir);
	*state = e;
	return 0;
}

static int ends_teardown(void **state)
{
	struct ends *e = *state;

	sky_rm_rf(e->dir);
	free(e);
	return 0;
}

static void put(const char *path, const char *text)
{
	assert_int_equal(sky_write_file_atomic(path, text, strlen(text), 0), 0);
}

/* The job's end for srun's wait status and words. */
static struct sky_local_end end_of(struct ends *e, int status, const char *diag,
				   const char *stderr_text, int cancelled)
{
	struct sky_local_end end = { .killed = cancelled > 1 };

	put(e->diag, diag);
	put(e->err, stderr_text);
	end.diag_path = e->diag;
	end.err_path = e->err;
	end.status = status;
	end.cancelled = cancelled;
	sky_srun_translate(&end);
	return end;
}

static void test_srun_ends(void **state)
{
	struct ends *e = *state;
	struct sky_local_end end;

	end = end_of(e, 0, "", "", 0);
	assert_int_equal(end.status, 0);
	assert_null(end.err);
	/* the task's own code, 137 included */
	end = end_of(e, 4 << 8, "srun: error: vm: task 0: Exited with exit code 4\n", "", 0);
	assert_true(WIFEXITED(end.status) && WEXITSTATUS(end.status) == 4);
	assert_int_equal(end.flags, 0);
	end = end_of(e, 137 << 8, "srun: error: vm: task 0: Exited with exit code 137\n", "", 0);
	assert_true(WIFEXITED(end.status) && WEXITSTATUS(end.status) == 137);
	/* killed by a signal: srun says 128+N */
	end = end_of(e, 137 << 8, "srun: error: vm: task 0: Killed\n", "", 1);
	assert_true(WIFSIGNALED(end.status) && WTERMSIG(end.status) == 9);
	assert_int_equal(end.flags, 0);
	/* srun itself killed */
	end = end_of(e, 9, "", "", 1);
	assert_int_equal(end.status, 9);
	/* the step never ran: the node's failure, with srun's reason */
	end = end_of(e, 1 << 8, "srun: error: Unable to confirm allocation for job 7: Invalid "
		     "job id specified\nsrun: Check SLURM_JOB_ID environment variable.\n", "", 0);
	assert_int_equal(end.flags, SKY_EXEC_NODE_LOST);
	assert_string_equal(end.err, "srun: Unable to confirm allocation for job 7: Invalid job "
			    "id specified");
	/* the allocation ended under it (scancel, time limit): the node's too */
	end = end_of(e, 143 << 8, "srun: error: vm: task 0: Terminated\n",
		     "output\nslurmstepd-vm: error: *** STEP 12.3 ON vm CANCELLED AT "
		     "2026-11-29T11:36:20 DUE TO TIME LIMIT ***\n", 0);
	assert_int_equal(end.flags, SKY_EXEC_NODE_LOST);
	assert_string_equal(end.err, "slurm cancelled the step DUE TO TIME LIMIT");
	/* srun's own word for it, before slurmstepd's line reached the file (a
	 * job that traps TERM and exits 143: "Exited with exit code 143") */
	end = end_of(e, 143 << 8, "srun: Job step aborted: Waiting up to 5 seconds for job "
		     "step to finish.\nsrun: error: vm: task 0: Exited with exit code 143\n", "", 0);
	assert_int_equal(end.flags, SKY_EXEC_NODE_LOST);
	assert_string_equal(end.err, "slurm cancelled the step");
	end = end_of(e, 143 << 8, "srun: Job step aborted: Waiting up to 5 seconds for job "
		     "step to finish.\nsrun: error: vm: task 0: Terminated\n", "", 1);
	assert_int_equal(end.flags, 0);
	/* ... unless skyfs cancelled it */
	end = end_of(e, 137 << 8, "srun: error: vm: task 0: Killed\n",
		     "slurmstepd-vm: error: *** STEP 12.4 ON vm CANCELLED AT "
		     "2026-11-29T11:36:20 ***\n", 1);
	assert_int_equal(end.flags, 0);
	assert_true(WIFSIGNALED(end.status) && WTERMSIG(end.status) == 9);
	/* skyfs's SIGKILL (srun's SIGTERM) after the grace: srun may say the
	 * task was terminated, or die of it, before the step is killed */
	end = end_of(e, 143 << 8, "srun: error: vm: task 0: Terminated\n",
		     "slurmstepd-vm: error: *** STEP 12.5 ON vm CANCELLED AT "
		     "2026-11-29T11:36:20 ***\nKilled\n", 2);
	assert_true(WIFSIGNALED(end.status) && WTERMSIG(end.status) == 9);
	end = end_of(e, SIGTERM, "", "", 2);
	assert_true(WIFSIGNALED(end.status) && WTERMSIG(end.status) == 9);
	/* ...or the step's shell of the kill's TERM */
	end = end_of(e, 143 << 8, "srun: error: vm: task 0: Exited with exit code 143\n", "", 2);
	assert_true(WIFSIGNALED(end.status) && WTERMSIG(end.status) == 9);
	/* ...but a job that ended by itself meanwhile keeps its code */
	end = end_of(e, 7 << 8, "srun: error: vm: task 0: Exited with exit code 7\n", "", 2);
	assert_true(WIFEXITED(end.status) && WEXITSTATUS(end.status) == 7);
	/* only the TERM (srun's USR2): 143 stays 143 */
	end = end_of(e, 143 << 8, "srun: error: vm: task 0: Terminated\n", "", 1);
	assert_true(WIFSIGNALED(end.status) && WTERMSIG(end.status) == SIGTERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_answer),
		cmocka_unit_test(test_job_states),
		cmocka_unit_test(test_jobs_by_prefix),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_submit_body),
		cmocka_unit_test(test_gres),
		cmocka_unit_test(test_offers),
		cmocka_unit_test(test_spec_keys),
		cmocka_unit_test_setup_teardown(test_srun_ends, ends_setup, ends_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
