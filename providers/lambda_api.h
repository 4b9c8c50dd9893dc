/* Lambda Cloud's REST API as skyfs speaks it (lambda_api.c): the one table
 * that maps its error codes to what the provider does, the request bodies
 * it sends, the parsers of the answers it reads into plain structs (so
 * lambda.c never walks JSON itself), the names it gives instances and SSH
 * keys, and the process-wide launch limiter.
 *
 * Everything but the limiter is pure (no I/O, no locks) and unit-tested on
 * the documented shapes (tests/unit/test_lambda.c). Wire facts:
 * shared/reference/provider-apis.md section 4. */
#ifndef SKY_LAMBDA_API_H
#define SKY_LAMBDA_API_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "providers/http.h"
#include "providers/provider.h"

#define LAMBDA_DEFAULT_URL "https://cloud.lambda.ai/api/v1"
#define LAMBDA_DEFAULT_LAUNCH_INTERVAL_MS 10000
/* Names are at most 64 characters on Lambda: the pool's prefix is kept to
 * this, which leaves room for "-<rank>-<rank>". */
#define LAMBDA_PREFIX_MAX 48

/* The kind of an answer (json_api.h's classify): 429 is throttling
 * whatever its body says; then the error code's table; then the status. */
enum sky_api_kind lambda_classify(long status, json_t *body, const char *raw,
				  struct sky_api_error *e);

/* ---- offers -------------------------------------------------------------------- */

/* The catalog's name for a Lambda GPU ("H100 (80 GB PCIe)" -> "H100-PCIE",
 * "A100 (80 GB SXM4)" -> "A100-80GB"), tried with its form factor and
 * memory, then its memory, then alone; the bare device name when the
 * catalog knows none of them. description ("1x A10 (24 GB PCIe)") stands in
 * when gpu_description is empty. */
void lambda_accelerator(const char *gpu_description, const char *description, char *out,
			size_t len);

/* GET /instance-types: one on-demand offer per instance type and region
 * with capacity (an empty regions_with_capacity_available is none), price
 * in dollars (the API's cents / 100). *out is malloc'd (also when *n is 0). */
int lambda_parse_instance_types(json_t *doc, struct sky_offer **out, size_t *n);

/* ---- names --------------------------------------------------------------------- */

/* "skyfs-<pool id>", the pool name's part cut so that it fits
 * LAMBDA_PREFIX_MAX (the hashes that make it unique are kept). The SSH
 * key's name; every instance's name starts with it and a '-'. */
void lambda_prefix(const char *pool_id, char *out, size_t len);
/* The name of one launch carrying ranks[0..k-1] (ascending):
 * "<prefix>-<rank>" for one node, "<prefix>-<first>-<last>" for several.
 * The i-th instance id of the launch's answer is ranks[i]. */
void lambda_batch_name(const char *prefix, const int *ranks, int k, char *out, size_t len);
/* Whether an instance name is one of prefix's ("<prefix>-..."). */
int lambda_name_matches(const char *name, const char *prefix);
/* Whether it is the name of a launch that surely carried rank: one of the
 * ranks the name gives ("<prefix>-<rank>", or first or last of a batch;
 * a rank between them may not have been in it). */
int lambda_name_carries(const char *name, const char *prefix, int rank);

/* ---- requests (json_decref; NULL when out of memory) ---------------------------- */

json_t *lambda_ssh_key_body(const char *name, const char *public_key);
json_t *lambda_launch_body(const char *region, const char *type, const char *key_name,
			   int quantity, const char *name);
json_t *lambda_terminate_body(char (*ids)[64], size_t n);

/* ---- answers ------------------------------------------------------------------- */

struct lambda_instance {
	char id[64];
	char name[128];
	char status[24];               /* booting, active, unhealthy, terminating, terminated */
	char ip[64];                   /* "" until known: it may appear after "active" */
	char private_ip[64];
	char type[64];
	char region[32];
};

/* The instances of GET /instances ({"data":[...]}), GET /instances/{id}
 * ({"data":{...}}) or a terminate answer ({"data":{"terminated_instances":
 * [...]}}) whose names match prefix (every one when prefix is NULL),
 * appended to *out (realloc'd; *n counts). -EPROTO for another shape. */
int lambda_parse_instances(json_t *doc, const char *prefix, struct lambda_instance **out,
			   size_t *n);
/* POST /instance-operations/launch: the new ids, in order, into ids (at
 * most max), their number in *n. */
int lambda_parse_launch(json_t *doc, char (*ids)[64], size_t max, size_t *n);
/* POST /ssh-keys ({"data":{"id",...}}): the key's id. */
int lambda_parse_ssh_key(json_t *doc, char *id, size_t len);
/* GET /ssh-keys: the id of the key named name; -ENOENT when none. */
int lambda_find_ssh_key(json_t *doc, const char *name, char *id, size_t len);

/* What an instance's status means to the scheduler. */
enum sky_instance_state lambda_instance_state(const char *status);

/* ---- the launch limiter --------------------------------------------------------- */

/* Lambda takes about one launch per 10 s per account: a process-wide turn.
 * One launch is in flight at a time, and the next starts interval after
 * the previous one's answer arrived (so at least interval after Lambda
 * received it, whatever the network did). A thread waiting for its turn
 * holds nothing but its place here: no pool's lock. */
struct lambda_limiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int busy;                      /* a launch holds the turn */
	double next;                   /* sky_mono() before which no launch starts */
};
#define LAMBDA_LIMITER_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 }
/* Blocks until it is this thread's turn; returns the seconds it waited. */
double lambda_limiter_acquire(struct lambda_limiter *l);
/* Gives the turn back once the launch answered (or failed). */
void lambda_limiter_release(struct lambda_limiter *l, double interval_s);
/* SKYFS_LAMBDA_LAUNCH_INTERVAL_MS (tests), else 10 s; in seconds. */
double lambda_launch_interval(void);

#endif
