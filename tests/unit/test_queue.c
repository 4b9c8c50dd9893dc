/* Unit tests for the job queue and the dispatch choice (scheduler/queue.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scheduler/queue.h"

struct item {
	int id;
	struct sky_qlink link;
};

static int pop_id(struct sky_queue *q)
{
	struct sky_qlink *l = sky_queue_pop(q);

	return l ? sky_queue_entry(l, struct item, link)->id : -1;
}

static void test_fifo(void **state)
{
	struct item it[4] = { { .id = 0 }, { .id = 1 }, { .id = 2 }, { .id = 3 } };
	struct sky_queue q;
	int i;

	(void)state;
	sky_queue_init(&q);
	assert_int_equal(q.len, 0);
	assert_null(sky_queue_peek(&q));
	assert_null(sky_queue_pop(&q));
	for (i = 0; i < 4; i++)
		sky_queue_push(&q, &it[i].link);
	assert_int_equal(q.len, 4);
	assert_ptr_equal(sky_queue_peek(&q), &it[0].link);
	assert_int_equal(q.len, 4);   /* peek does not take */
	for (i = 0; i < 4; i++) {
		assert_int_equal(pop_id(&q), i);
		assert_false(sky_queue_linked(&it[i].link));
	}
	assert_int_equal(q.len, 0);
	assert_int_equal(pop_id(&q), -1);
	/* reusable after draining */
	sky_queue_push(&q, &it[2].link);
	assert_true(sky_queue_linked(&it[2].link));
	assert_int_equal(pop_id(&q), 2);
}

static void test_remove(void **state)
{
	struct item it[5];
	struct sky_queue q;
	int i;

	(void)state;
	sky_queue_init(&q);
	for (i = 0; i < 5; i++) {
		it[i].id = i;
		sky_queue_push(&q, &it[i].link);
	}
	sky_queue_remove(&q, &it[2].link);   /* middle */
	assert_false(sky_queue_linked(&it[2].link));
	assert_int_equal(q.len, 4);
	sky_queue_remove(&q, &it[4].link);   /* tail */
	sky_queue_remove(&q, &it[0].link);   /* head */
	assert_int_equal(q.len, 2);
	sky_queue_push(&q, &it[2].link);
	assert_int_equal(pop_id(&q), 1);
	assert_int_equal(pop_id(&q), 3);
	assert_int_equal(pop_id(&q), 2);
	assert_int_equal(q.len, 0);
	assert_null(sky_queue_peek(&q));
}

static void test_pick_node(void **state)
{
	(void)state;
	{
		int running[] = { 2, 1, 3 }, slots[] = { 4, 4, 4 }, ready[] = { 1, 1, 1 };

		assert_int_equal(sky_pick_node(running, slots, ready, 3), 1);   /* fewest */
	}
	{
		int running[] = { 1, 0, 0 }, slots[] = { 2, 2, 2 }, ready[] = { 1, 1, 1 };

		assert_int_equal(sky_pick_node(running, slots, ready, 3), 1);   /* tie: lowest */
	}
	{
		int running[] = { 0, 0, 1 }, slots[] = { 2, 2, 2 }, ready[] = { 0, 0, 1 };

		assert_int_equal(sky_pick_node(running, slots, ready, 3), 2);   /* not ready */
	}
	{
		int running[] = { 1, 2, 2 }, slots[] = { 1, 4, 3 }, ready[] = { 1, 1, 1 };

		assert_int_equal(sky_pick_node(running, slots, ready, 3), 1);   /* 0 is full */
	}
	{
		int running[] = { 1, 2 }, slots[] = { 1, 2 }, ready[] = { 1, 1 };

		assert_int_equal(sky_pick_node(running, slots, ready, 2), -1);  /* all full */
	}
	{
		int running[] = { 0, 0 }, slots[] = { 1, 1 }, ready[] = { 0, 0 };

		assert_int_equal(sky_pick_node(running, slots, ready, 2), -1);  /* none ready */
	}
	assert_int_equal(sky_pick_node(NULL, NULL, NULL, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_pick_node),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
