/* The text of the generated files: pool status, cost, node files and job
 * status. "key: value" lines after a first line that is the state word. */
#include "scheduler/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

static const char *const node_state_names[] = {
	[NODE_PROVISIONING] = "provisioning", [NODE_READY] = "ready",
	[NODE_FAILED] = "failed", [NODE_TERMINATING] = "terminating", [NODE_GONE] = "gone",
	[NODE_UNREACHABLE] = "unreachable", [NODE_LOST] = "lost",
};

static void put_time(struct sky_buf *out, const char *key, double t)
{
	char ts[40];

	if (!t)
		return;
	sky_fmt_time(t, ts, sizeof(ts));
	sky_buf_printf(out, "%s: %s\n", key, ts);
}

/* "progress: 3/8 nodes ready, 4 launching, 1 running setup": what the
 * nodes of a pool being provisioned are doing. */
static void put_progress(const struct sky_pool *p, int ready, struct sky_buf *out)
{
	static const char *const steps[] = { "waiting", "launching", "running setup" };
	int count[3] = { 0, 0, 0 }, i, k;

	for (i = 0; i < p->n_nodes; i++) {
		const struct sky_node *n = p->nodes[i];

		if (n->waiting[0])
			count[0]++;
		else if (n->step)
			for (k = 1; k < 3; k++)
				count[k] += !strcmp(n->step, steps[k]);
	}
	sky_buf_printf(out, "progress: %d/%d nodes ready", ready, p->n_nodes);
	for (k = 0; k < 3; k++)
		if (count[k])
			sky_buf_printf(out, ", %d %s", count[k], steps[k]);
	sky_buf_printf(out, "\n");
}

/* "removing: node-2 (draining, 1 job), node-3": ranks a shrink is taking
 * away, until they are freed. */
static void put_removing(const struct sky_pool *p, struct sky_buf *out)
{
	int i, any = 0;

	for (i = 0; i < p->n_nodes; i++) {
		const struct sky_node *n = p->nodes[i];

		if (!n->removing)
			continue;
		sky_buf_printf(out, "%s %s", any++ ? "," : "removing:", n->name);
		if (n->running)
			sky_buf_printf(out, " (draining, %d job%s)", n->running,
				       n->running == 1 ? "" : "s");
	}
	if (any)
		sky_buf_printf(out, "\n");
}

int render_pool_status(const struct sky_pool *p, struct sky_buf *out)
{
	int i, ready = 0;

	for (i = 0; i < p->n_nodes; i++)
		ready += p->nodes[i]->state == NODE_READY;
	sky_buf_printf(out, "%s\n", pool_state_name(p->state));
	if (p->error[0])
		sky_buf_printf(out, "%s\n", p->error);
	if (p->spec_refused[0])
		sky_buf_printf(out, "spec_refused: %s\n", p->spec_refused);
	for (i = 0; i < p->n_nodes; i++)
		if (p->nodes[i]->waiting[0])
			sky_buf_printf(out, "waiting: %s %s\n", p->nodes[i]->name,
				       p->nodes[i]->waiting);
	sky_buf_printf(out, "pool: %s\n", p->name);
	if (p->spec_text) {
		/* the offer in use once there is one, else what the spec allows */
		int in_use = p->n_nodes && p->offer.provider[0];
		const struct sky_request *r = in_use ? &p->req : &p->spec.res;
		int i;

		if (in_use || !p->spec.alts[0].name[0]) {
			sky_buf_printf(out, "provider: ");
			if (in_use)
				sky_buf_printf(out, "%s", p->offer.provider);
			for (i = 0; !in_use && i < r->n_providers; i++)
				sky_buf_printf(out, "%s%s", i ? ", " : "", r->providers[i]);
			sky_buf_printf(out, "\naccelerator: %s",
				       r->accelerator[0] ? r->accelerator : "none");
			if (r->accelerator[0])
				sky_buf_printf(out, ":%d", r->accelerator_count);
			sky_buf_printf(out, "\n");
		}
		if (p->spec.n_alts > 1 || p->spec.alts[0].name[0])
			sky_buf_printf(out, "alternatives: %d\n", p->spec.n_alts);
		/* then one line each, "name: providers accelerator allocation" */
		for (i = 0; !in_use && i < p->spec.n_alts && p->spec.alts[i].name[0]; i++) {
			const struct sky_request *a = &p->spec.alts[i];
			int k;

			sky_buf_printf(out, "alternative: %s:", a->name);
			for (k = 0; k < a->n_providers; k++)
				sky_buf_printf(out, "%s%s", k ? ", " : " ", a->providers[k]);
			sky_buf_printf(out, " %s", a->accelerator[0] ? a->accelerator : "none");
			if (a->accelerator[0])
				sky_buf_printf(out, ":%d", a->accelerator_count);
			sky_buf_printf(out, " %s\n", sky_allocation_name(a->allocation));
		}
		sky_buf_printf(out, "nodes: %d\nslots: %d\n", p->spec.nodes, p->spec.slots);
		if (in_use)
			sky_buf_printf(out, "offer: %s %s %s %s\nrate_usd_per_hour: %.4f\n",
				       p->offer.instance_type, p->offer.region,
				       sky_market_name(p->offer.market),
				       p->offer.accelerator[0] ? p->offer.accelerator : "-",
				       pool_rate(p));
		if (p->planned)
			sky_buf_printf(out, "candidates: %zu\n", p->n_cands);
	}
	sky_buf_printf(out, "nodes_ready: %d\n", ready);
	put_removing(p, out);
	if (p->state == POOL_PROVISIONING || p->state == POOL_PENDING ||
	    p->state == POOL_RESIZING)
		put_progress(p, ready, out);
	sky_buf_printf(out, "jobs_queued: %d\njobs_running: %d\njobs_succeeded: %d\n"
		       "jobs_failed: %d\njobs_cancelled: %d\njobs_lost: %d\n",
		       p->counts[JOB_QUEUED], p->counts[JOB_RUNNING], p->counts[JOB_SUCCEEDED],
		       p->counts[JOB_FAILED], p->counts[JOB_CANCELLED], p->counts[JOB_LOST]);
	put_time(out, "created", p->created);
	put_time(out, "ready_since", p->ready_at);
	if (p->spec_text && p->spec.lifetime_s)
		sky_buf_printf(out, "lifetime_s: %ld\n", p->spec.lifetime_s);
	if (p->spec_text && p->spec.idle_timeout_s)
		sky_buf_printf(out, "idle_timeout_s: %ld\n", p->spec.idle_timeout_s);
	if (p->spec_text && p->spec.budget_usd > 0)
		sky_buf_printf(out, "budget_usd: %.4f\naccrued_usd: %.6f\n", p->spec.budget_usd,
			       pool_accrued(p, sky_now()));
	return out->data ? 0 : -ENOMEM;
}

int render_overview_header(struct sky_buf *out)
{
	return sky_buf_printf(out, "%-24s %-12s %7s %6s %7s %6s %6s %10s %12s\n", "pool", "state",
			      "nodes", "queued", "running", "done", "failed", "usd/h",
			      "accrued_usd");
}

int render_overview_line(const struct sky_pool *p, struct sky_buf *out)
{
	char nodes[32];
	int i, ready = 0, kept = 0, done, failed;

	/* the nodes the pool keeps: not the ones a shrink is removing */
	for (i = 0; i < p->n_nodes; i++) {
		ready += p->nodes[i]->state == NODE_READY && !p->nodes[i]->removing;
		kept += !p->nodes[i]->removing;
	}
	snprintf(nodes, sizeof(nodes), "%d/%d", ready, kept);
	done = p->counts[JOB_SUCCEEDED] + p->counts[JOB_FAILED] + p->counts[JOB_CANCELLED] +
	       p->counts[JOB_LOST];
	failed = p->counts[JOB_FAILED] + p->counts[JOB_LOST];
	return sky_buf_printf(out, "%-24s %-12s %7s %6d %7d %6d %6d %10.4f %12.6f\n", p->name,
			      pool_state_name(p->state), nodes, p->counts[JOB_QUEUED],
			      p->counts[JOB_RUNNING], done, failed, pool_rate(p),
			      pool_accrued(p, sky_now()));
}

int render_pool_cost(const struct sky_pool *p, struct sky_buf *out)
{
	sky_buf_printf(out, "rate_usd_per_hour: %.6f\naccrued_usd: %.6f\n", pool_rate(p),
		       pool_accrued(p, sky_now()));
	return out->data ? 0 : -ENOMEM;
}

int render_node(const struct sky_node *n, struct sky_buf *out)
{
	const struct sky_pool *p = n->pool;
	int i;

	sky_buf_printf(out, "state: %s\nprovider: %s\ninstance: %s\naddress: %s\n",
		       node_state_names[n->state], p->offer.provider,
		       n->inst.id[0] ? n->inst.id : "-", n->inst.address[0] ? n->inst.address : "-");
	if (p->offer.accelerator[0])
		sky_buf_printf(out, "accelerator: %s:%d\n", p->offer.accelerator,
			       p->req.accelerator_count);
	else
		sky_buf_printf(out, "accelerator: none\n");
	sky_buf_printf(out, "market: %s\nprice_usd_per_hour: %.6f\nslots: %d\njobs_running: %d\n",
		       sky_market_name(p->offer.market), n->price, p->spec.slots, n->running);
	if (n->inst.n_devices) {
		sky_buf_printf(out, "devices:");
		for (i = 0; i < n->inst.n_devices; i++)
			sky_buf_printf(out, "%s%s", i ? "," : " ", n->inst.devices[i]);
		sky_buf_printf(out, "\n");
	}
	if (n->inst.host_key[0])
		sky_buf_printf(out, "host_key: %s\n", n->inst.host_key);
	if (n->waiting[0])
		sky_buf_printf(out, "waiting: %s\n", n->waiting);
	if (n->removing)
		sky_buf_printf(out, "removing: %s\n", n->state == NODE_GONE ? "terminated" :
			       n->running ? "draining" : "terminating");
	if (n->error[0])
		sky_buf_printf(out, "error: %s\n", n->error);
	return out->data ? 0 : -ENOMEM;
}

int render_job_status(const struct sky_job *j, const struct sky_task *t, struct sky_buf *out)
{
	double started = t ? t->started : j->started, ended = t ? t->ended_at : j->ended;
	int i;

	if (t)
		sky_buf_printf(out, "%s\n", t->ended ? (t->lost ? "lost" : t->error || t->status ?
			       "failed" : "succeeded") : t->running ? "running" : "queued");
	else
		sky_buf_printf(out, "%s\n", job_state_name(j->state));
	if (!t && j->broadcast) {
		sky_buf_printf(out, "kind: broadcast\nnodes:");
		for (i = 0; i < j->n_tasks; i++)
			sky_buf_printf(out, "%s%s", i ? "," : " ",
				       j->tasks[i].node_name[0] ? j->tasks[i].node_name : "-");
		sky_buf_printf(out, "%s\n", j->n_tasks ? "" : " (when the pool is ready)");
	} else {
		const struct sky_task *tt = t ? t : j->n_tasks ? &j->tasks[0] : NULL;
		if (tt && tt->node_name[0] && (tt->running || tt->ended))
			sky_buf_printf(out, "node: %s\n", tt->node_name);
	}
	sky_buf_printf(out, "attempts: %d\n", j->attempts);
	put_time(out, "submitted", j->submitted);
	put_time(out, "started", started);
	put_time(out, "ended", ended);
	if (started && ended)
		sky_buf_printf(out, "duration_s: %.3f\n", ended - started);
	if (!t && j->state != JOB_QUEUED && j->state != JOB_RUNNING)
		sky_buf_printf(out, "exit: %d\n", j->exit_code);
	if (j->error)
		sky_buf_printf(out, "error: %s\n", j->error);
	else if (t && t->error)
		sky_buf_printf(out, "error: %s\n", t->error);
	return out->data ? 0 : -ENOMEM;
}
