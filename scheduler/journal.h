/* The pool's write-ahead journal (journal.c): what a pool's worker asked
 * the providers for and got, so that a mount after a crash knows what is
 * still up. Records, one line each, "<epoch> <kind> <fields>":
 *
 *   begin N                       a worker starts (the file is rewritten)
 *   resize N                      the spec's nodes changed: ranks up to N-1 may
 *                                 have machines (a shrink is its term records)
 *   try PROV TYPE REGION MARKET PRICE OWNER   before prepare (fsync'd); OWNER > 0:
 *                                 another candidate for a replacement
 *   launch RANK                   before provision (fsync'd)
 *   node RANK ID ADDRESS HOSTKEY  provision returned a machine (fsync'd)
 *   term RANK ID                  terminate confirmed
 *   release PROV                  the candidate's teardown succeeded (fsync'd)
 *   ready [WHEN]                  the pool is ready (its lifetime counts from WHEN)
 *   stop REASON                   the worker starts tearing down
 *   stopped                       everything released (fsync'd)
 *   submit JOB SIZE / dispatch JOB NODE ATTEMPT / end JOB EXIT   the jobs' timeline
 *
 * Locking: journal_begin and journal_close with g.lock held; journal_write
 * from any thread (one write(2) per record on an O_APPEND descriptor that
 * lives as long as the pool). */
#ifndef SKY_JOURNAL_H
#define SKY_JOURNAL_H

#include "providers/provider.h"

struct sky_pool;

/* Starts a new incarnation's journal (truncating the old one) and keeps
 * its descriptor in p->journal_fd. */
int journal_begin(struct sky_pool *p, int nodes);
/* Appends one record; sync: fdatasync after it (records that stand for a
 * machine). Failures are logged, never fatal. */
void journal_write(struct sky_pool *p, int sync, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The try record of offer o: the candidate about to be prepared (its
 * instance type and region encoded as one word each) as owner (0: the
 * pool's candidate, k: the k-th other one a replacement needed). */
void journal_try(struct sky_pool *p, const struct sky_offer *o, int owner);
void journal_close(struct sky_pool *p);

/* What a journal says was up when its daemon stopped. */
struct journal_node {
	char id[128];                /* "" when none recorded */
	char address[128];
	char host_pub[128];          /* pinned host key, "" when not pinned */
	int launched;                /* a launch was sent (its answer may be lost) */
	double at;                   /* when it was recorded (epoch s): its cost since */
};
struct journal_replay {
	int live;                    /* begun and never "stopped" */
	int stopping;                /* it was tearing down */
	int removing;                /* ... for an rmdir */
	int has_cand;                /* a candidate tried and not released */
	char provider[32], instance_type[64], region[32];
	enum sky_market market;
	double price;
	double ready_at;             /* when the pool first became ready; 0 if never */
	int n_nodes;
	struct journal_node *nodes;  /* n_nodes */
};
/* Reads pool_dir/journal into r (zeroed first; free with
 * journal_replay_free). -ENOENT when there is none. */
int journal_replay(const char *pool_dir, struct journal_replay *r);
/* Calls fn for each dispatch record of pool_dir's journal, in order: the
 * attempts of jobs the dead daemon had started (not in their .job, which
 * is not written at dispatch). */
int journal_dispatches(const char *pool_dir, void (*fn)(const char *job, int attempt, void *arg),
		       void *arg);
/* How many machines r says may exist (recorded, or launched). */
int journal_machines(const struct journal_replay *r);
/* One more than the highest rank r says may have a machine (0: none). */
int journal_ranks(const struct journal_replay *r);
void journal_replay_free(struct journal_replay *r);

#endif
