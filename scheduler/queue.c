/* Intrusive FIFO and node choice for dispatch (see queue.h). */
#include "scheduler/queue.h"

void sky_queue_init(struct sky_queue *q)
{
	q->head.next = q->head.prev = &q->head;
	q->len = 0;
}

void sky_queue_push(struct sky_queue *q, struct sky_qlink *l)
{
	l->prev = q->head.prev;
	l->next = &q->head;
	q->head.prev->next = l;
	q->head.prev = l;
	q->len++;
}

struct sky_qlink *sky_queue_peek(const struct sky_queue *q)
{
	return q->head.next == &q->head ? NULL : q->head.next;
}

void sky_queue_remove(struct sky_queue *q, struct sky_qlink *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->next = l->prev = NULL;
	q->len--;
}

struct sky_qlink *sky_queue_pop(struct sky_queue *q)
{
	struct sky_qlink *l = sky_queue_peek(q);

	if (l)
		sky_queue_remove(q, l);
	return l;
}

int sky_queue_linked(const struct sky_qlink *l)
{
	return l->next != NULL;
}

int sky_pick_node(const int *running, const int *slots, const int *ready, int n)
{
	int best = -1, i;

	for (i = 0; i < n; i++) {
		if (!ready[i] || running[i] >= slots[i])
			continue;
		if (best < 0 || running[i] < running[best])
			best = i;
	}
	return best;
}
