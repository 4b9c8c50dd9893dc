/* The scheduler's public face: what the FUSE layer may ask of pools, jobs
 * and results. Every function takes names (never pointers that outlive the
 * call), takes the scheduler lock itself, never blocks on provisioning or on
 * a job (except sky_pool_remove() and sky_result_wait(), which block by
 * design, with bounded waits that honour `interrupted`), and returns 0 or
 * -errno. Text for the user comes back in caller-owned struct sky_buf. */
#ifndef SKY_SCHED_H
#define SKY_SCHED_H

#include <stddef.h>
#include <sys/types.h>

#include "common/util.h"

/* Polled during blocking calls; non-zero aborts them with -EINTR. */
typedef int (*sky_interrupted_fn)(void);

/* Before sky_sched_open: teardown non-zero tears down every pool a
 * crashed daemon left live instead of resuming it (-o recover=teardown);
 * sweep_interval_s is the orphan sweep's period (0: at mount only). */
void sky_sched_set_recovery(int teardown, double sweep_interval_s);
/* Opens the state directory (creates it, takes its lock, loads every pool
 * as stopped/empty). err receives a message on failure. */
int sky_sched_open(const char *state_dir, char *err, size_t errlen);
/* Starts the scheduler's threads; call after daemonizing. */
int sky_sched_start(void);
/* Tears down every live pool (their specs and results stay on disk), stops
 * and joins every thread, frees everything. */
void sky_sched_close(void);
const char *sky_sched_state_dir(void);

/* Each callback gets names; return non-zero to stop early. */
typedef int (*sky_name_fn)(const char *name, void *arg);

/* pools/ */
int sky_pool_create(const char *pool);
int sky_pool_remove(const char *pool, sky_interrupted_fn interrupted);
int sky_pool_exists(const char *pool);
int sky_pool_list(sky_name_fn fn, void *arg);

/* pools/<p>/spec */
int sky_pool_spec_get(const char *pool, struct sky_buf *out);
/* Whether the spec may be rewritten now (-EBUSY with the reason if not). */
int sky_pool_spec_writable(const char *pool);
/* Checks a spec that is still being written (complete lines only, or a
 * JSON object once it looks complete); -EINVAL when what is there already
 * is invalid (recorded like sky_pool_spec_set's refusals), else 0. */
int sky_pool_spec_precheck(const char *pool, const char *text, size_t len);
/* Validates and applies a new spec; -EINVAL when invalid (the pool becomes
 * invalid and its status/events say why). */
int sky_pool_spec_set(const char *pool, const char *text, size_t len);

/* pools/<p>/{status,cost,nodes/<n>} as text; events is a file on disk. */
int sky_pool_render_status(const char *pool, struct sky_buf *out);
/* MNT/status: one line per pool, by name (state, nodes ready/total, jobs
 * queued/running/done/failed, USD/h, accrued USD). */
int sky_render_overview(struct sky_buf *out);
int sky_pool_render_cost(const char *pool, struct sky_buf *out);
int sky_pool_render_node(const char *pool, const char *node, struct sky_buf *out);
int sky_pool_render_plan(const char *pool, struct sky_buf *out);
/* pools/<p>/timeline.svg: a standalone SVG of the pool's life (scheduler/timeline.c). */
int sky_pool_render_timeline(const char *pool, struct sky_buf *out);
int sky_pool_list_nodes(const char *pool, sky_name_fn fn, void *arg);
/* Path on disk of a pool's file (events), into out[PATH_MAX]. */
int sky_pool_disk_path(const char *pool, const char *rel, char *out, size_t len);

/* pools/<p>/jobs and broadcast */
/* Reserves name and opens a staging file for the payload (*fd, owned by
 * the caller). -EEXIST when the name is taken (queued, running, results or
 * being uploaded), -EINVAL for a bad name. */
int sky_job_stage(const char *pool, const char *job, int broadcast, int *fd);
/* Submits the staged payload: the results directory exists when this
 * returns and the job is queued, but it is dispatched only once sealed.
 * Called at the first close after a write (flush): a shell's redirection
 * closes duplicate descriptors before and after writing, so the payload
 * may still grow until the last close. */
int sky_job_submit(const char *pool, const char *job, int broadcast);
/* The last descriptor closed (release): the payload is final; detect its
 * kind and queue it (or fail it, e.g. an archive without "run"). Submits
 * first if that did not happen yet. */
int sky_job_seal(const char *pool, const char *job, int broadcast);
/* Drops a staged upload that will not be submitted. */
void sky_job_unstage(const char *pool, const char *job);
/* Cancels a queued or running job (unlink in jobs/). */
int sky_job_cancel(const char *pool, const char *job, int broadcast);
/* Lists queued and running jobs (and staged uploads) of that kind. */
int sky_job_list(const char *pool, int broadcast, sky_name_fn fn, void *arg);
/* 0 with the payload size when jobs/<job> (or broadcast/) is listed. */
int sky_job_lookup(const char *pool, const char *job, int broadcast, off_t *size);

/* pools/<p>/results */
int sky_result_list(const char *pool, sky_name_fn fn, void *arg);
/* 0 when results/<job> exists; *broadcast says whether it has node dirs. */
int sky_result_lookup(const char *pool, const char *job, int *broadcast);
/* status of a job (node NULL) or of one node of a broadcast. Node
 * subdirectories of a broadcast are directories on disk (see disk_path). */
int sky_result_render_status(const char *pool, const char *job, const char *node,
			     struct sky_buf *out);
/* Blocks until the job (or one node of it) ended; *exit_code then holds
 * its exit code. */
int sky_result_wait(const char *pool, const char *job, const char *node,
		    sky_interrupted_fn interrupted, int *exit_code);
/* Whether the job has ended (for exit's presence). */
int sky_result_ended(const char *pool, const char *job, const char *node);
/* results/<job>/exit: "N\n" once the job ended, -ENOENT before. */
int sky_result_render_exit(const char *pool, const char *job, struct sky_buf *out);
/* When the job ended (seconds since the epoch): exit's modification
 * time, so that make and friends see a result newer than its source. */
int sky_result_end_time(const char *pool, const char *job, double *ended);
/* Path on disk of results/<job>/<rel>. */
int sky_result_disk_path(const char *pool, const char *job, const char *rel,
			 char *out, size_t len);
/* rm -r results/<job>: -EBUSY while queued or running. */
int sky_result_remove(const char *pool, const char *job);

#endif
