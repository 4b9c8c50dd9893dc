/* What the aws provider's files share (aws.c, aws_pool.c, aws_offers.c):
 * the per-pool state, the call wrapper that turns EC2 errors into
 * messages, the pool's instance cache, and the per-pool resources.
 *
 * Locking: aws_state.base.lock guards seen/n_seen and each node's id and
 * conn; it is never held during a call to EC2 or the transport. Everything
 * else in aws_state is written by prepare() before any other thread sees
 * it, and read-only after. */
#ifndef SKY_AWS_INTERNAL_H
#define SKY_AWS_INTERNAL_H

#include <pthread.h>

#include "providers/aws_api.h"
#include "providers/cloud.h"
#include "providers/provider.h"
#include "transport/sshkey.h"

#define CACHE_FRESH_S 0.5          /* a DescribeInstances serves every waiter this long */

struct sky_spec;
struct sky_ssh_conn;

struct aws_node {
	struct sky_cloud_node base;      /* first: rank, id (the instance's), conn */
	char host_pub[SKY_SSHKEY_LINE_MAX];
};

struct aws_state {
	struct sky_cloud_pool base;      /* first: spec, offer, pool id, dir, lock, poll */
	struct aws_client api;
	char nonce[17];                  /* this incarnation's: client tokens */
	char key_name[128];
	int key_imported;
	char group_id[64];
	char image[64];
	struct aws_node *nodes;          /* base.nodes */
	struct aws_instance *seen;       /* the pool's instances as last described */
	size_t n_seen;
};

/* One EC2 call; a failure as "aws: <what>: <Code>: <Message>" in err (may
 * be NULL) and the whole error in *out (may be NULL). Notes auth failures
 * for providers/aws/status. */
int aws_pcall(struct aws_client *c, const char *action, const struct sky_buf *params,
	      xmlDoc **doc, struct sky_err *err, const char *what, struct aws_error *out);
/* aws_pcall for answers that only say true; frees q. */
int aws_simple_call(struct aws_state *st, const char *action, struct sky_buf *q,
		    struct sky_err *err, const char *what, struct aws_error *e);
/* aws_client_init with its message in err. */
int aws_client_for(struct aws_client *c, const char *region, struct sky_err *err);
/* providers/aws/status's lines about the last calls ("usable: ..."). */
void aws_render_health(struct sky_buf *out, int configured);

/* The instance cache (aws_pool.c): aws_refresh asks EC2 for every
 * instance tagged as the pool's unless the last answer is younger than
 * max_age (one thread asks, the others wait for its answer); aws_lookup
 * copies one out (-ENOENT: not listed). */
int aws_refresh(struct aws_state *st, double max_age, struct sky_err *err);
/* Every page of DescribeInstances with filters: "name", "value", ...,
 * NULL for each filter, and one more NULL at the end. Appends to *out. */
int aws_describe(struct aws_client *c, const char *const *filters, struct aws_instance **out,
		 size_t *n, struct sky_err *err);
int aws_lookup(struct aws_state *st, const char *id, struct aws_instance *out);
/* Shutting down, terminated, stopping or stopped: not coming back. */
int aws_gone(const struct aws_instance *in);
/* "instance i-... reclaimed by AWS (spot) (Server.SpotInstanceTermination)" */
void aws_why_gone(const struct aws_instance *in, char *buf, size_t len);

/* Per-pool resources (aws_pool.c), each 0 or -errno with err. */
int aws_find_image(struct aws_state *st, struct sky_err *err);
int aws_import_key(struct aws_state *st, struct sky_err *err);
int aws_create_group(struct aws_state *st, struct sky_err *err);
int aws_delete_group(struct aws_state *st, struct sky_err *err, struct aws_error *e);
int aws_delete_key_pair(struct aws_state *st, struct sky_err *err);
/* TagSpecification.1.Tag.n.Key/Value */
void aws_add_tag(struct sky_aws_query *q, int n, const char *key, const char *value);

/* The live spot offers (aws_offers.c). */
int aws_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
	       struct sky_err *err);

#endif
