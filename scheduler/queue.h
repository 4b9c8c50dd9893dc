/* The job queue and the dispatch choice, kept free of I/O so that they can
 * be unit-tested alone.
 *
 * A queue is an intrusive FIFO: the element embeds struct sky_qlink. The
 * queue does not own its elements. No locking: the scheduler lock protects
 * every queue. */
#ifndef SKY_QUEUE_H
#define SKY_QUEUE_H

#include <stddef.h>

struct sky_qlink {
	struct sky_qlink *next, *prev;
};

struct sky_queue {
	struct sky_qlink head;   /* sentinel */
	size_t len;
};

void sky_queue_init(struct sky_queue *q);
void sky_queue_push(struct sky_queue *q, struct sky_qlink *l);      /* at the tail */
struct sky_qlink *sky_queue_peek(const struct sky_queue *q);        /* head or NULL */
struct sky_qlink *sky_queue_pop(struct sky_queue *q);               /* head or NULL */
/* Removes l, which must be in q. */
void sky_queue_remove(struct sky_queue *q, struct sky_qlink *l);
int sky_queue_linked(const struct sky_qlink *l);
#define sky_queue_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* The dispatch rule: among nodes that are ready and have a free slot, the
 * one with the fewest running jobs (lowest index on ties). running[i],
 * slots[i] and ready[i] describe node i. Returns the index or -1. */
int sky_pick_node(const int *running, const int *slots, const int *ready, int n);

#endif
