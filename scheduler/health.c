/* Node health after provisioning: a provider's reports that a node's
 * connection dropped or came back, the node_timeout that turns an
 * unreachable node into a lost one, and what both do to the pool's state
 * (ready <-> degraded). Jobs that were running on a node that dropped are
 * reported by its transport (job_task_lost in job.c); this file decides
 * where new jobs may go. */
#define LOG_MODULE "health"
#include "scheduler/internal.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

/* Lock held: a lost node of a rented machine is replaced by the pool's
 * worker (nodes.c), which walks the plan again for it. */
static void want_replacement(struct sky_node *n)
{
	const struct sky_provider_ops *prov = sky_provider_find(n->pool->offer.provider);

	if (!prov || prov->fixed_nodes || n->replace || n->removing)
		return;
	n->replace = 1;
	n->replace_after = 0;
	pthread_cond_broadcast(&g.work);
}

static const char *why_or(const char *why)
{
	return why && *why ? why : "connection lost";
}

int node_all_ready(const struct sky_pool *p)
{
	int i;

	for (i = 0; i < p->n_nodes; i++)
		if (p->nodes[i]->state != NODE_READY && !p->nodes[i]->removing)
			return 0;
	return p->n_nodes > 0;
}

/* status's error line for a degraded pool: which nodes are not ready and
 * why, e.g. "error: node-1 unreachable, node-2 lost". Lock held. */
static void summarize(struct sky_pool *p)
{
	static const char *const words[] = {
		[NODE_FAILED] = "failed", [NODE_UNREACHABLE] = "unreachable", [NODE_LOST] = "lost",
	};
	size_t used;
	int i, any = 0;

	used = (size_t)snprintf(p->error, sizeof(p->error), "error: ");
	for (i = 0; i < p->n_nodes && used < sizeof(p->error); i++) {
		const struct sky_node *n = p->nodes[i];

		if ((n->state != NODE_FAILED && n->state != NODE_UNREACHABLE &&
		     n->state != NODE_LOST) || n->removing)
			continue;
		used += (size_t)snprintf(p->error + used, sizeof(p->error) - used, "%s%s %s",
					 any++ ? ", " : "", n->name, words[n->state]);
	}
	if (!any)
		p->error[0] = '\0';
}

/* What a provider (or a transport) said about node n; lock held. */
static void node_reported(struct sky_pool *p, struct sky_node *n, int up, const char *why)
{
	/* while provisioning, the provider decides (a node may first show its
	 * image's host key and then the pinned one) */
	if (up < 0 && n->state != NODE_PROVISIONING)
		n->gone = 1;
	else if (up > 0 && n->gone)
		return;   /* its address may belong to another machine by now */
	if (n->state == NODE_PROVISIONING) {
		/* remembered for the worker, which makes it ready or not */
		n->unreachable_since = up > 0 ? 0 : sky_mono();
		if (up <= 0)
			snprintf(n->error, sizeof(n->error), "unreachable: %s", why_or(why));
		else if (!strncmp(n->error, "unreachable: ", 13))
			n->error[0] = '\0';
	} else if (up < 0 && n->state != NODE_LOST && n->state != NODE_GONE &&
		   n->state != NODE_FAILED) {
		/* the provider says it will not come back: no node_timeout wait */
		n->state = NODE_LOST;
		snprintf(n->error, sizeof(n->error), "lost: %s", why_or(why));
		pool_event(p, "%s lost: %s", n->name, why_or(why));
		job_node_lost(n, why_or(why));
		want_replacement(n);
		if (pool_live(p)) {
			summarize(p);
			pool_set_state(p, POOL_DEGRADED);
		}
	} else if (!up && n->state == NODE_READY) {
		n->state = NODE_UNREACHABLE;
		n->unreachable_since = sky_mono();
		snprintf(n->error, sizeof(n->error), "unreachable: %s", why_or(why));
		pool_event(p, "%s unreachable: %s", n->name, why_or(why));
		if (pool_live(p)) {
			summarize(p);
			pool_set_state(p, POOL_DEGRADED);
		}
	} else if (up > 0 && (n->state == NODE_UNREACHABLE || n->state == NODE_LOST)) {
		pool_event(p, "%s reachable again%s", n->name,
			   n->state == NODE_LOST ? " (it was lost)" : "");
		n->state = NODE_READY;
		n->unreachable_since = 0;
		n->replace = 0;
		n->error[0] = '\0';
		if (p->state == POOL_DEGRADED) {
			summarize(p);
			if (node_all_ready(p))
				pool_set_state(p, POOL_READY);
		}
		sched_kick();
	}
}

void node_report_state(void *arg, int rank, int up, const char *why)
{
	struct sky_pool *p = arg;

	pthread_mutex_lock(&g.lock);
	if (p->nodes && rank >= 0 && rank < p->n_nodes && !p->stop)
		node_reported(p, p->nodes[rank], up, why);
	pthread_mutex_unlock(&g.lock);
}

void node_suspect(struct sky_node *n, const char *why)
{
	if (n->state == NODE_READY && !n->pool->stop)
		node_reported(n->pool, n, 0, why);
}

/* Lock held: provisioning is pending while a node waits in a queue. */
static void settle_pending(struct sky_pool *p)
{
	int i, any = 0;

	for (i = 0; p->nodes && i < p->n_nodes && !any; i++)
		any = p->nodes[i]->waiting[0] != '\0';
	if (any && p->state == POOL_PROVISIONING)
		pool_set_state(p, POOL_PENDING);
	else if (!any && p->state == POOL_PENDING)
		pool_set_state(p, POOL_PROVISIONING);
}

void node_report_waiting(void *arg, int rank, const char *what)
{
	struct sky_pool *p = arg;
	struct sky_node *n;

	pthread_mutex_lock(&g.lock);
	if (!p->nodes || rank < 0 || rank >= p->n_nodes)
		goto out;
	n = p->nodes[rank];
	if (!what)
		what = "";
	if (strcmp(n->waiting, what)) {
		if (*what)
			pool_event(p, "%s waiting: %s", n->name, what);
		snprintf(n->waiting, sizeof(n->waiting), "%s", what);
		pthread_cond_broadcast(&g.changed);
	}
	settle_pending(p);
out:
	pthread_mutex_unlock(&g.lock);
}

int pool_stopping(void *arg)
{
	struct sky_pool *p = arg;
	int stop;

	pthread_mutex_lock(&g.lock);
	stop = p->stop != STOP_NONE || g.quitting;
	pthread_mutex_unlock(&g.lock);
	return stop;
}

void node_check_timeouts(struct sky_pool *p, double now_mono)
{
	long timeout = p->spec.node_timeout_s > 0 ? p->spec.node_timeout_s : 60;
	char why[128];
	int i;

	if (p->stop || !p->nodes)
		return;
	for (i = 0; i < p->n_nodes; i++) {
		struct sky_node *n = p->nodes[i];

		if (n->state != NODE_UNREACHABLE || now_mono - n->unreachable_since < (double)timeout)
			continue;
		n->state = NODE_LOST;
		snprintf(why, sizeof(why), "unreachable for %ld s", timeout);
		snprintf(n->error, sizeof(n->error), "lost: %s", why);
		pool_event(p, "%s lost: %s", n->name, why);
		/* broadcast tasks waiting for it would wait forever */
		job_node_lost(n, why);
		want_replacement(n);
		if (p->state == POOL_DEGRADED)
			summarize(p);
	}
}
