/* What the lambda provider's files share (lambda.c, lambda_pool.c): the
 * API client, the per-pool state, the pool's instance listing and the
 * batches that launch and terminate several nodes in one call.
 *
 * Locking: lambda_state.base.lock guards the nodes' batch fields, ids and
 * connections, leading[] and the instance cache (seen, n_seen); it is never
 * held during an API call, the launch limiter's wait or the transport.
 * Everything else in lambda_state is written by prepare() before any other
 * thread sees it, and read-only after. */
#ifndef SKY_LAMBDA_INTERNAL_H
#define SKY_LAMBDA_INTERNAL_H

#include <jansson.h>
#include <pthread.h>

#include "providers/cloud.h"
#include "providers/lambda_api.h"
#include "providers/provider.h"

#define POLL_FRESH_S 1.0     /* one GET /instances serves every waiter this long:
			      * Lambda allows about one request a second */

enum { OP_LAUNCH, OP_TERMINATE, N_OPS };

struct lambda_client {
	struct sky_http *http;
	char base[512];                  /* SKYFS_LAMBDA_URL, else the public API */
	char *key;                       /* LAMBDA_API_KEY's copy, wiped when freed */
};

struct lambda_node {
	struct sky_cloud_node base;      /* first: rank, id (the instance's), conn */
	int launched;                    /* a launch answered for it (with an id or not) */
	int terminated;
	int waiting;                     /* the op whose batch it waits to join, or -1 */
	int done;                        /* its batch answered: rc and err */
	int rc;
	char err[512];
};

struct lambda_state {
	struct sky_cloud_pool base;      /* first: spec, offer, pool id, dir, lock, poll */
	struct lambda_client api;
	char prefix[LAMBDA_PREFIX_MAX + 1]; /* the SSH key's name, its instances' names' start */
	char known_hosts[4200];          /* host keys recorded on first use */
	char key_id[64];                 /* the registered SSH key, "" when none */
	struct lambda_node *nodes;       /* base.nodes */

	pthread_cond_t cond;             /* a node joined a batch, a batch answered */
	int leading[N_OPS];              /* a thread gathers or sends a batch of that op */
	struct lambda_instance *seen;    /* the pool's instances as last listed */
	size_t n_seen;
};

/* The client (lambda_pool.c): the key from LAMBDA_API_KEY (-EACCES without
 * one: every candidate would fail alike), the base URL from
 * SKYFS_LAMBDA_URL or the public API's. */
int lambda_client_init(struct lambda_client *c, struct sky_err *err);
void lambda_client_fini(struct lambda_client *c);
/* One call to base + path; a failure as "lambda: <what>: <code>: <message>"
 * in err (may be NULL) and the whole error in *eout (may be NULL); the
 * answer in *out (may be NULL: dropped). Notes refused keys for status. */
int lambda_call(struct lambda_client *c, const char *method, const char *path, json_t *body,
		json_t **out, struct sky_err *err, const char *what, struct sky_api_error *eout);
/* providers/lambda/status's "usable" and "endpoint" lines. */
void lambda_render_health(struct sky_buf *out, int configured);

/* The pool's instances (named with its prefix), listed by one thread for
 * every waiter unless the last answer is younger than max_age; lookup
 * copies one out (-ENOENT: not listed). */
int lambda_refresh(struct lambda_state *st, double max_age, struct sky_err *err);
int lambda_lookup(struct lambda_state *st, const char *id, struct lambda_instance *out);
/* POST /instance-operations/terminate for ids ("" skipped); an id Lambda
 * does not know is nothing to stop. */
int lambda_terminate_ids(struct lambda_state *st, char (*ids)[64], size_t n,
			 struct sky_err *err);
/* Joins node ln to the next batch of op (OP_LAUNCH: gives it an id;
 * OP_TERMINATE) and returns its result. */
int lambda_batch(struct lambda_state *st, struct lambda_node *ln, int op, struct sky_err *err);

#endif
