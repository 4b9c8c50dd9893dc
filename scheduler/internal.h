/* The scheduler's data model, shared by the files of scheduler/ only.
 *
 * Locking: one mutex, g.lock, protects every field below that is not marked
 * otherwise: the pool map, every pool, node, job and task. FUSE handlers,
 * the dispatch thread, pool workers and transport completions all take it
 * briefly; nobody holds it across a provider call or a wait for a job.
 * g.changed is broadcast whenever a job or pool changes state (waiters
 * re-check by name, so nothing holds pointers across an unlock).
 *
 * Ownership: g.pools owns pools; a pool owns its nodes, jobs (by name) and
 * its worker thread; a job owns its tasks. Pointers between them are
 * borrowed. A pool is freed only by sky_pool_remove() or at close, after its
 * worker has been joined and no task is running. */
#ifndef SKY_SCHED_INTERNAL_H
#define SKY_SCHED_INTERNAL_H

#include <limits.h>
#include <pthread.h>

#include "common/map.h"
#include "common/util.h"
#include "providers/provider.h"
#include "scheduler/payload.h"
#include "scheduler/queue.h"
#include "scheduler/sched.h"
#include "scheduler/spec.h"

struct sky_exec;

enum sky_pool_state {
	POOL_EMPTY, POOL_INVALID, POOL_PROVISIONING, POOL_READY, POOL_DEGRADED,
	POOL_FAILED, POOL_TERMINATING, POOL_STOPPED, POOL_PLANNED,
	POOL_PENDING,   /* provisioning, with a node waiting in a provider's queue */
	POOL_RESIZING,  /* live (takes jobs) while nodes its spec added are provisioned */
};
enum sky_job_state {
	JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED, JOB_LOST,
};
/* UNREACHABLE: its connection dropped, no new job goes there; LOST:
 * unreachable past the spec's node_timeout (it may still come back). */
enum sky_node_state {
	NODE_PROVISIONING, NODE_READY, NODE_FAILED, NODE_TERMINATING, NODE_GONE,
	NODE_UNREACHABLE, NODE_LOST,
};
struct journal_replay;

/* Why a pool's worker is asked to stop. */
enum sky_stop_reason { STOP_NONE, STOP_REMOVE, STOP_UNMOUNT, STOP_EXPIRED };

#define SKY_MAX_SLOTS 1024
#define SKY_MAX_NODES 1024   /* the spec's bound: p->nodes has room for this many */

struct sky_pool;
struct sky_job;

struct sky_node {
	struct sky_pool *pool;
	int rank;
	char name[32];
	enum sky_node_state state;
	struct sky_instance inst;
	int running;
	unsigned char *slot_busy;        /* SKY_MAX_SLOTS entries: slots may change live */
	double up_since, down_at;        /* for cost */
	double unreachable_since;        /* sky_mono() when it became unreachable */
	int gone;                        /* the provider said it will not come back
					  * (up < 0): a later "up" is not believed */
	double price;
	int owner;                       /* the walk's owners[] its machine came from */
	int replace;                     /* lost: the worker is to replace it */
	double replace_after;            /* sky_mono(): not before (backoff) */
	int replacements;                /* how often this rank was replaced */
	char error[512];
	char waiting[256];               /* what its provisioning waits for in the
					  * provider's queue, "" when nothing */
	const char *step;                /* while provisioning: "launching",
					  * "running setup"; NULL otherwise */
	int removing;                    /* the spec's nodes shrank below its rank: it
					  * takes no new job, finishes what it was
					  * given, then is terminated and freed */
	struct sky_spec_host host;       /* ssh: the hosts entry its machine is (set
					  * by node_host_of; has_host 0 until then) */
	int has_host;
};

/* One execution of a job on one node; a broadcast job has one per node. */
struct sky_task {
	struct sky_job *job;
	struct sky_qlink qlink;          /* in pool->queue while queued */
	int pinned_rank;                 /* broadcast: the node it must run on; else -1 */
	struct sky_node *node;           /* while queued (broadcast) or running only:
					  * nodes are freed when the pool stops */
	char node_name[32];              /* where it ran (or will run), kept for good */
	int slot;
	struct sky_exec *exec;           /* while running */
	int running, ended;
	int lost;                        /* its node was lost under it (exit EXIT_LOST) */
	int status;                      /* wait(2) status once ended */
	char *error;                     /* reason it never ran, or NULL */
	double started, ended_at;
	int kill_sent;                   /* SIGKILL follow-up done */
	double term_at;                  /* when SIGTERM was sent, for the grace */
};

struct sky_job {
	struct sky_pool *pool;
	char name[256];
	int broadcast;
	enum sky_job_state state;
	enum sky_payload_kind kind;
	int attempts;
	int cancelled;                   /* unlink/rmdir asked for it */
	double submitted, started, ended;
	int exit_code;                   /* valid once ended */
	char *error;                     /* why it failed without running, or NULL */
	struct sky_task *tasks;
	int n_tasks;                     /* 0 for a broadcast not yet expanded */
	struct sky_task *past;           /* loaded back after a remount: where its
					  * tasks ran by its record (node_name, slot,
					  * times, status, lost only); the timeline's */
	int n_past;
	int tasks_ended;
	off_t size;                      /* payload bytes */
	int requeue;                     /* put back in the queue once its tasks stopped */
	int lost;                        /* a node was lost under it for good: ends lost */
	int sealed;                      /* upload complete: may be dispatched */
	struct sky_qlink bqlink;         /* in pool->pending_bcast until expanded */
};

struct sky_pool {
	char name[256];
	char dir[PATH_MAX];              /* state_dir/pools/<name> */
	enum sky_pool_state state;
	char error[1024];                /* last problem, shown in status */
	char *spec_text;                 /* last accepted spec, NULL if none */
	struct sky_spec spec;            /* parsed spec_text; valid when spec_text */
	struct sky_offer offer;          /* the chosen offer (valid once in use) */
	struct sky_request req;          /* the alternative it was chosen for */
	struct sky_candidate *cands;     /* the ranked plan of the current spec */
	size_t n_cands;
	int planned;                     /* cands holds a plan */
	double planned_at;
	struct sky_node **nodes;         /* while active: room for SKY_MAX_NODES, n_nodes
					  * used (rank = index). The nodes never move:
					  * tasks point to them. Only the pool's worker
					  * adds or frees nodes (resize.c), under g.lock */
	int n_nodes;
	struct sky_map jobs;             /* name -> struct sky_job (results exist) */
	struct sky_map staging;          /* names being uploaded -> (void *)broadcast+1 */
	struct sky_queue queue;          /* queued tasks, FIFO */
	struct sky_queue pending_bcast;  /* broadcast jobs waiting for ready nodes */
	int counts[JOB_LOST + 1];        /* jobs per state */
	double created, ready_at, last_activity;
	int budget_warned;               /* the 80% event was written */
	double spent_before;             /* USD of machines this incarnation no longer
					  * has (replaced, or a crashed daemon's) */
	pthread_t worker;
	int worker_alive;                /* joinable worker exists */
	int worker_done;                 /* it returned; join it */
	enum sky_stop_reason stop;
	int removing;                    /* rmdir in progress */
	int remove_pending;              /* rmdir gave up waiting for a failing teardown: the
					  * dispatcher removes the pool once it is released */
	int teardown_failing;            /* the release is being retried (status says why) */
	int journal_fd;                  /* journal.c; -1 when not open */
	struct journal_replay *replay;   /* what a crashed daemon left (recover.c), or NULL */
	int recover_teardown;            /* -o recover=teardown */
	char spec_refused[512];          /* why the last rewrite of a live pool's spec
					  * was refused; "" after one is taken */
	struct sky_timeline *timeline;   /* timeline.c: node history, outlives the
					  * nodes; NULL until a node launches */
};

struct sky_global {
	pthread_mutex_t lock;
	pthread_cond_t changed;          /* job or pool state changed */
	pthread_cond_t work;             /* pool workers: a stop was asked for */
	pthread_cond_t dispatch;         /* dispatcher: something to do */
	int kicked;                      /* dispatch requested since its last pass */
	unsigned long long exec_seq;     /* names each execution's working directory */
	struct sky_task **terminating;   /* tasks sent SIGTERM, awaiting the grace */
	size_t n_terminating, cap_terminating;
	char state_dir[PATH_MAX];
	int lock_fd;
	struct sky_map pools;
	pthread_t dispatcher;
	int dispatcher_alive;
	int quitting;
	double quit_at;                  /* sky_mono() when the unmount began; 0 before */
	int recover_teardown;            /* -o recover=teardown: every crashed pool */
	double sweep_interval;           /* seconds between orphan sweeps; 0: at mount only */
	pthread_t sweeper;
	int sweeper_alive;
};

extern struct sky_global g;

/* sched.c */
void sched_kick(void);                                    /* lock held */
/* Starts what fits of p's queue now, on the calling thread (lock held). */
void sched_dispatch_pool(struct sky_pool *p);
void sched_cond_wait(pthread_cond_t *c, double secs);     /* lock held */
int sched_start_dispatcher(void);
void sched_stop_dispatcher(void);
/* Sends SIGTERM to a running task, SIGKILL after the grace (lock held). */
void sched_cancel_task(struct sky_task *t);
void sched_task_forget(struct sky_task *t);               /* lock held */
#define SKY_CANCEL_GRACE_S 3.0

/* Exit codes for jobs that did not run to their own end. */
#define EXIT_NOT_RUN 127       /* the payload could not start */
#define EXIT_CANCELLED 143     /* 128 + SIGTERM, also for jobs cancelled in the queue */
#define EXIT_LOST 255          /* its node was lost under it */

/* pool.c */
struct sky_pool *pool_get(const char *name);              /* lock held */
void pool_event(struct sky_pool *p, const char *fmt, ...)  /* lock held or not */
	__attribute__((format(printf, 2, 3)));
void pool_set_state(struct sky_pool *p, enum sky_pool_state s);
const char *pool_state_name(enum sky_pool_state s);
/* Ready, degraded or resizing: the pool takes jobs (lock held). */
int pool_live(const struct sky_pool *p);
struct sky_pool *pool_new(const char *name);
void pool_free(struct sky_pool *p);
void pool_nodes_free(struct sky_pool *p);
/* Lock held: removes p (1) if an rmdir gave up on its failing release and
 * the release has since succeeded; the caller deletes trash (if not "")
 * after unlocking. p is freed then. */
int pool_reap_removed(struct sky_pool *p, char *trash, size_t len);

/* plan.c */
/* Refreshes live offers of the providers the spec names, ranks every
 * offer for the spec's alternatives and stores the result as the pool's
 * plan. Lock not held. When nothing matches, why says what is on offer. */
int plan_build(struct sky_pool *p, char *why, size_t len);
/* Merges every registered provider's live offers into the catalog, so that
 * catalog/offers knows them from the mount on. Lock not held. */
void plan_refresh_all(void);

/* worker.c */
/* Allocates the nodes and starts the pool's worker (lock held). */
int pool_start_worker(struct sky_pool *p);
void pool_check_timers(struct sky_pool *p, double now);   /* lock held */
/* Asks the worker to stop and waits for it (lock held; drops it while
 * waiting). Returns -EINTR if interrupted (the stop goes on), -EBUSY when
 * rmdir's release keeps failing (it goes on in the background). */
int pool_stop_and_join(struct sky_pool *p, enum sky_stop_reason why,
		       int (*interrupted)(void));
double pool_rate(const struct sky_pool *p);
double pool_accrued(const struct sky_pool *p, double now);

/* job.c */
/* How a listing walks a pool's jobs (see job_list). */
struct each_arg {
	sky_name_fn fn;
	void *arg;
	int broadcast;           /* -1: every job, else queued/running of that kind */
};
int job_list(const char *pool, struct each_arg *ea);      /* takes the lock */
int job_active(const struct sky_job *j);                  /* queued or running */
int job_task_exit_code(const struct sky_task *t);
void job_finish(struct sky_job *j, int exit_code);        /* lock held */
/* Appends msg to the result's stderr (sub: a broadcast node, or NULL). */
void job_note_stderr(const struct sky_job *j, const char *sub, const char *msg);
/* The pool by name if uploads may go to it (-ENOENT, -EBUSY when removed). */
struct sky_pool *job_pool_for_upload(const char *pool, int *rc);
const char *job_state_name(enum sky_job_state s);
void job_set_state(struct sky_job *j, enum sky_job_state s);
void job_free(struct sky_job *j);
/* Makes the tasks of a queued job and queues them (lock held). */
int job_enqueue(struct sky_job *j);
/* A task ended (lock held): records it and finishes the job when all did. */
void job_task_ended(struct sky_task *t, int status, const char *err);
/* The task's node failed under it (lock held): the job runs again on
 * another node while it has attempts left (spec.max_attempts), else it ends
 * lost; a broadcast's task ends lost, and with it the job. */
void job_task_lost(struct sky_task *t, const char *why);
/* Node n is lost (lock held): broadcast tasks queued for it end lost. */
void job_node_lost(struct sky_node *n, const char *why);
/* Takes every running task of the pool down (lock held), requeueing or
 * cancelling their jobs per `why`. */
void job_pool_stopping(struct sky_pool *p, enum sky_stop_reason why);
int job_running_tasks(const struct sky_pool *p);
void job_expand_pending(struct sky_pool *p);            /* lock held */

/* health.c: nodes that stop answering and come back */
/* The providers' node_state callback (struct sky_pool_info); arg is the
 * pool. Takes the lock. */
void node_report_state(void *arg, int rank, int up, const char *why);
/* A job's transport said the node failed under it, and the transport's
 * word stands for the node (transport suspect_on_lost): no job goes there
 * until its provider says it is up (lock held). */
void node_suspect(struct sky_node *n, const char *why);
/* sky_pool_info.waiting and .stopping; arg is the pool. Take the lock. */
void node_report_waiting(void *arg, int rank, const char *what);
int pool_stopping(void *arg);
/* Declares nodes unreachable past spec.node_timeout lost (lock held). */
void node_check_timeouts(struct sky_pool *p, double now_mono);
/* Whether every node the pool keeps is ready (READY rather than DEGRADED). */
int node_all_ready(const struct sky_pool *p);

/* resize.c: a live pool's spec rewritten, its nodes added and removed */
/* A new node of rank (provisioning; the caller stores it in p->nodes). */
struct sky_node *node_new(struct sky_pool *p, int rank);
void node_free(struct sky_node *n);
/* p->nodes with count new nodes (lock held, or p not shared yet). */
int pool_nodes_alloc(struct sky_pool *p, int count);
/* Applies spec (parsed from text) to a live pool when only live keys
 * changed: takes them in, saves the text, wakes the worker to resize
 * (lock held). -EBUSY when other keys changed or the pool is not live:
 * the reason is in events and status. spec keeps what it gave up. */
int pool_spec_live(struct sky_pool *p, struct sky_spec *spec, const char *text, size_t len);
/* sky_pool_info.host_of: node rank's hosts entry from the spec as it is
 * now, recorded on the node (takes the lock). */
int node_host_of(void *arg, int rank, struct sky_spec_host *out);
/* Records why a rewrite of a live pool's spec was refused (lock held). */
void pool_spec_refused(struct sky_pool *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* store.c: the on-disk layout of the state directory */
int store_pool_path(const struct sky_pool *p, const char *rel, char *out, size_t len);
int store_job_path(const struct sky_job *j, const char *rel, char *out, size_t len);
int store_job_save(const struct sky_job *j);              /* lock held */
int store_load_pools(void);
int store_write_exit(const char *dir, int code);
/* Creates what a job writes into (stdout, stderr, files/) in its result
 * directory dir, keeping what is there. */
void store_job_outputs(const char *dir);

/* render.c */
int render_pool_status(const struct sky_pool *p, struct sky_buf *out);
/* MNT/status: a header, then one line per pool (lock held). */
int render_overview_header(struct sky_buf *out);
int render_overview_line(const struct sky_pool *p, struct sky_buf *out);
int render_pool_cost(const struct sky_pool *p, struct sky_buf *out);
int render_node(const struct sky_node *n, struct sky_buf *out);
int render_job_status(const struct sky_job *j, const struct sky_task *t, struct sky_buf *out);
int render_plan(const struct sky_pool *p, struct sky_buf *out);

/* timeline.c: what timeline.svg draws of nodes (lock held). t: when (0: now).
 * timeline_node() also appends the mark to the pool's spans file;
 * timeline_load() replays that file (loading the state directory, after
 * the journal: p->replay set means the recovery takes the pool up). */
enum tl_mark { TL_LAUNCH, TL_UP, TL_READY, TL_FAILED, TL_TERM, TL_DOWN };
void timeline_node(struct sky_pool *p, const char *node, enum tl_mark mark, double t);
void timeline_load(struct sky_pool *p);
void timeline_free(struct sky_pool *p);

#endif
