/* The pool journal (scheduler/journal.c): what a replay makes of records
 * written through journal_write, of torn last lines and of unknown
 * records; and the orphan sweep's reading of machine names
 * (sky_cloud_pool_hash_in, providers/cloud.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "providers/cloud.h"
#include "scheduler/internal.h"
#include "scheduler/journal.h"

struct fixture {
	char dir[64];
	struct sky_pool p;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/skyfs-journal-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->p.name, sizeof(f->p.name), "p");
	snprintf(f->p.dir, sizeof(f->p.dir), "%s", f->dir);
	f->p.journal_fd = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	journal_close(&f->p);
	sky_rm_rf(f->dir);
	free(f);
	return 0;
}

static void append_raw(struct fixture *f, const char *text)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/journal", f->dir);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_live_pool_with_machines(void **state)
{
	struct fixture *f = *state;
	struct journal_replay r;

	assert_int_equal(journal_begin(&f->p, 3), 0);
	journal_write(&f->p, 1, "try aws g5.xlarge us-east-1 spot %.6f", 0.4);
	journal_write(&f->p, 1, "launch 0");
	journal_write(&f->p, 1, "node 0 i-0abc 10.0.0.5 ssh-ed25519 AAAAC3Nz host");
	journal_write(&f->p, 1, "launch 1");
	journal_write(&f->p, 1, "launch 2");
	journal_write(&f->p, 1, "node 2 i-0def - ");
	journal_write(&f->p, 0, "dispatch job.sh node-0 1");
	journal_write(&f->p, 0, "ready 1700000000.500");
	journal_write(&f->p, 0, "ready");
	assert_int_equal(journal_replay(f->dir, &r), 0);
	/* the first readiness counts, as the recovered pool wrote it */
	assert_true(r.ready_at > 1700000000.4 && r.ready_at < 1700000000.6);
	assert_true(r.nodes[0].at > 1700000000.0);
	assert_true(r.live);
	assert_false(r.stopping);
	assert_true(r.has_cand);
	assert_string_equal(r.provider, "aws");
	assert_string_equal(r.instance_type, "g5.xlarge");
	assert_string_equal(r.region, "us-east-1");
	assert_int_equal(r.market, SKY_MARKET_SPOT);
	assert_int_equal(r.n_nodes, 3);
	assert_string_equal(r.nodes[0].id, "i-0abc");
	assert_string_equal(r.nodes[0].address, "10.0.0.5");
	assert_string_equal(r.nodes[0].host_pub, "ssh-ed25519 AAAAC3Nz host");
	/* launched, answer lost: no id, but it may exist */
	assert_string_equal(r.nodes[1].id, "");
	assert_true(r.nodes[1].launched);
	assert_string_equal(r.nodes[2].address, "");
	assert_int_equal(journal_machines(&r), 3);
	journal_replay_free(&r);
}

static void test_terminated_released_stopped(void **state)
{
	struct fixture *f = *state;
	struct journal_replay r;

	struct sky_offer o = { .provider = "runpod", .instance_type = "NVIDIA A100 80GB/secure",
			       .market = SKY_MARKET_ON_DEMAND, .price_usd_per_hour = 1.2 };

	assert_int_equal(journal_begin(&f->p, 2), 0);
	journal_try(&f->p, &o, 0);
	journal_write(&f->p, 1, "node 0 pod0 1.2.3.4 ");
	journal_write(&f->p, 1, "node 1 pod1 1.2.3.5 ");
	journal_write(&f->p, 0, "term 0 pod0");
	/* a replacement's other candidate does not hide the pool's machines */
	o.market = SKY_MARKET_SPOT;
	journal_try(&f->p, &o, 1);
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_int_equal(r.market, SKY_MARKET_ON_DEMAND);
	assert_int_equal(journal_machines(&r), 1);
	assert_string_equal(r.nodes[1].id, "pod1");
	/* blanks in an instance type survive; no region reads back as "" */
	assert_string_equal(r.instance_type, "NVIDIA A100 80GB/secure");
	assert_string_equal(r.region, "");
	assert_true(r.price > 1.19 && r.price < 1.21);
	journal_replay_free(&r);

	journal_write(&f->p, 1, "stop unmount");
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_true(r.stopping);
	assert_true(r.live);
	journal_replay_free(&r);

	journal_write(&f->p, 1, "release runpod");
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_false(r.has_cand);
	assert_int_equal(journal_machines(&r), 0);
	assert_true(r.live);
	journal_replay_free(&r);

	journal_write(&f->p, 1, "stopped");
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_false(r.live);
	journal_replay_free(&r);
}

/* A live pool grown past its first node count: "resize N" makes room for
 * the new ranks (their machines are recovered too); a shrink keeps the
 * ranks, whose machines go by their term records. */
static void test_resize_grows_ranks(void **state)
{
	struct fixture *f = *state;
	struct journal_replay r;
	struct sky_offer o = { .provider = "aws", .instance_type = "g4dn.xlarge",
			       .region = "us-east-1", .market = SKY_MARKET_SPOT,
			       .price_usd_per_hour = 0.2 };

	assert_int_equal(journal_begin(&f->p, 1), 0);
	journal_try(&f->p, &o, 0);
	journal_write(&f->p, 1, "node 0 i-0 10.0.0.1 ");
	/* before the resize record a rank past the count is ignored */
	journal_write(&f->p, 1, "node 2 i-early 10.0.0.9 ");
	journal_write(&f->p, 1, "resize 3");
	journal_write(&f->p, 1, "launch 1");
	journal_write(&f->p, 1, "node 2 i-2 10.0.0.3 ");
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_int_equal(r.n_nodes, 3);
	assert_string_equal(r.nodes[0].id, "i-0");
	assert_true(r.nodes[1].launched);
	assert_string_equal(r.nodes[2].id, "i-2");
	assert_int_equal(journal_machines(&r), 3);
	assert_int_equal(journal_ranks(&r), 3);
	journal_replay_free(&r);

	/* shrunk to 1: rank 2 is terminated, rank 1 still launching */
	journal_write(&f->p, 1, "resize 1");
	journal_write(&f->p, 0, "term 2 i-2");
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_int_equal(r.n_nodes, 3);
	assert_int_equal(journal_machines(&r), 2);
	assert_int_equal(journal_ranks(&r), 2);
	journal_replay_free(&r);

	/* nonsense sizes change nothing */
	journal_write(&f->p, 1, "resize -4");
	journal_write(&f->p, 1, "resize 999999");
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_int_equal(r.n_nodes, 3);
	journal_replay_free(&r);
}

/* A record cut short by the crash was never acknowledged: ignored. So are
 * records a newer daemon may write, and ranks out of range. */
static void test_torn_and_unknown_lines(void **state)
{
	struct fixture *f = *state;
	struct journal_replay r;

	assert_int_equal(journal_begin(&f->p, 1), 0);
	journal_write(&f->p, 1, "try lambda gpu_1x_a10 us-east-1 on-demand 0.75");
	append_raw(f, "1.0 frobnicate 1 2 3\n1.0 node 7 i-x 1.1.1.1 \n1.0 node\n");
	append_raw(f, "1.0 node 0 i-torn 9.9.9.9 ssh-ed2");
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_true(r.live);
	assert_string_equal(r.provider, "lambda");
	assert_string_equal(r.nodes[0].id, "");
	assert_int_equal(journal_machines(&r), 0);
	journal_replay_free(&r);
}

/* A new incarnation starts a new journal: the old records are gone. */
static void test_begin_truncates(void **state)
{
	struct fixture *f = *state;
	struct journal_replay r;

	assert_int_equal(journal_begin(&f->p, 1), 0);
	journal_write(&f->p, 1, "try aws t3.micro us-east-1 on-demand 0.01");
	journal_write(&f->p, 1, "node 0 i-1 1.1.1.1 ");
	assert_int_equal(journal_begin(&f->p, 2), 0);
	assert_int_equal(journal_replay(f->dir, &r), 0);
	assert_false(r.has_cand);
	assert_int_equal(r.n_nodes, 2);
	journal_replay_free(&r);
	assert_int_equal(journal_replay("/nonexistent-skyfs", &r), -ENOENT);
}

struct seen {
	char names[4][64];
	int attempts[4];
	int n;
};

static void collect(const char *job, int attempt, void *arg)
{
	struct seen *s = arg;

	if (s->n < 4) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", job);
		s->attempts[s->n++] = attempt;
	}
}

/* Job names may hold blanks; the node and the attempt never do. */
static void test_dispatch_records(void **state)
{
	struct fixture *f = *state;
	struct seen s = { .n = 0 };

	assert_int_equal(journal_begin(&f->p, 1), 0);
	journal_write(&f->p, 0, "dispatch %s %s %d", "a job.sh", "node-0", 1);
	journal_write(&f->p, 0, "end %s %d", "a job.sh", 255);
	journal_write(&f->p, 0, "dispatch %s %s %d", "b", "node-3", 2);
	append_raw(f, "1.0 dispatch torn node-0");
	assert_int_equal(journal_dispatches(f->dir, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "a job.sh");
	assert_int_equal(s.attempts[0], 1);
	assert_string_equal(s.names[1], "b");
	assert_int_equal(s.attempts[1], 2);
}

static void test_pool_hash_in_names(void **state)
{
	char h[9];

	(void)state;
	/* runpod/vastai: skyfs-<pool id>-<rank>; aws tag: <pool id> */
	assert_int_equal(sky_cloud_pool_hash_in("skyfs-train-0badf00d-12345678-3", "12345678", h),
			 0);
	assert_string_equal(h, "0badf00d");
	assert_int_equal(sky_cloud_pool_hash_in("train-0badf00d-12345678", "12345678", h), 0);
	/* lambda: a launch named after its ranks */
	assert_int_equal(sky_cloud_pool_hash_in("skyfs-a-deadbeef-12345678-0-7", "12345678", h), 0);
	assert_string_equal(h, "deadbeef");
	/* another mount's, or not a pool id at all */
	assert_int_equal(sky_cloud_pool_hash_in("skyfs-train-0badf00d-87654321-3", "12345678", h),
			 -ENOENT);
	assert_int_equal(sky_cloud_pool_hash_in("my-own-12345678-machine", "12345678", h), -ENOENT);
	assert_int_equal(sky_cloud_pool_hash_in("x-0badf00d-123456789", "12345678", h), -ENOENT);
	assert_int_equal(sky_cloud_pool_hash_in("12345678", "12345678", h), -ENOENT);
	assert_int_equal(sky_cloud_pool_hash_in("a-zzzzzzzz-12345678", "12345678", h), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_live_pool_with_machines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_terminated_released_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize_grows_ranks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_and_unknown_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_truncates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dispatch_records, setup, teardown),
		cmocka_unit_test(test_pool_hash_in_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
