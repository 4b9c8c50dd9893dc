/* Taking a pool back after a daemon crash. Its journal (journal.c) says
 * which candidate it ran on and which machines it had; the pool's worker
 * calls recover_previous() before anything else:
 *
 *  - recover = teardown (spec or -o recover=teardown), or a pool the dead
 *    daemon was already tearing down: every recorded machine is terminated
 *    and the provider's teardown sweeps what carries the pool's name; the
 *    pool comes back stopped.
 *  - resume, with a provider that can adopt: each recorded machine still
 *    running is reconnected (its pinned host key from the journal) and
 *    takes jobs again; a vanished one is provisioned anew on the same
 *    candidate. If that fails, everything is released and the pool walks
 *    its plan as if new.
 *  - resume, with a provider that cannot adopt: the machines are released
 *    and the pool is provisioned anew.
 *
 * Jobs that were running were put back in the queue when the state was
 * loaded (store.c): their processes did not survive the daemon (the SSH
 * session that ran them died with it, and local leftovers are killed here),
 * so they run again, counting the attempt. */
#define LOG_MODULE "recover"
#include "scheduler/worker.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "scheduler/journal.h"

/* Local jobs of the dead daemon still run (their own process groups, now
 * children of init): every process whose working directory is under the
 * pool's node directories is killed with its group. */
static void kill_leftovers(struct sky_pool *p)
{
	char nodes[PATH_MAX], link[64], cwd[PATH_MAX];
	size_t len;
	DIR *d;
	struct dirent *de;
	ssize_t n;
	int killed = 0;

	if (store_pool_path(p, "nodes/", nodes, sizeof(nodes)) || !(d = opendir("/proc")))
		return;
	len = strlen(nodes);
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name), pgid;

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
		n = readlink(link, cwd, sizeof(cwd) - 1);
		if (n <= 0)
			continue;
		cwd[n] = '\0';
		if (strncmp(cwd, nodes, len))
			continue;
		pgid = getpgid(pid);
		if (pgid > 1 && pgid != getpgrp())
			kill(-pgid, SIGKILL);
		kill(pid, SIGKILL);
		killed++;
	}
	closedir(d);
	if (killed) {
		pthread_mutex_lock(&g.lock);
		pool_event(p, "recovery: killed %d local job process(es) the crashed daemon left",
			   killed);
		pthread_mutex_unlock(&g.lock);
	}
}

/* The plan's entry for the journal's candidate, or one made from the
 * journal alone (the catalog may have changed since). */
static void find_candidate(struct walk *w, const struct journal_replay *r,
			   struct sky_candidate *out)
{
	size_t i;

	for (i = 0; i < w->n_base; i++) {
		const struct sky_offer *o = &w->base[i].offer;

		if (!strcmp(o->provider, r->provider) && !strcmp(o->instance_type, r->instance_type) &&
		    !strcmp(o->region, r->region) && o->market == r->market) {
			*out = w->base[i];
			return;
		}
	}
	memset(out, 0, sizeof(*out));
	sky_strlcpy(out->offer.provider, r->provider, sizeof(out->offer.provider));
	sky_strlcpy(out->offer.instance_type, r->instance_type, sizeof(out->offer.instance_type));
	sky_strlcpy(out->offer.region, r->region, sizeof(out->offer.region));
	out->offer.market = r->market;
	out->offer.price_usd_per_hour = r->price;
}

/* Adopts node i's recorded machine (a thread of each_node). */
static int adopt_node(struct sky_pool *p, int i, void *arg)
{
	struct owner *o = arg;
	struct sky_node *n = p->nodes[i];
	struct sky_instance inst;
	struct sky_err err = { { 0 } };
	int rc;

	pthread_mutex_lock(&g.lock);
	inst = n->inst;
	pthread_mutex_unlock(&g.lock);
	if (!inst.id[0])
		return 0;
	rc = o->prov->adopt(o->pstate, i, &inst, &err);
	if (rc && rc != -ENOENT) {
		/* up but unreachable, or not as recorded: not to be trusted */
		struct sky_err e2 = { { 0 } };

		if (o->prov->terminate(o->pstate, &inst, &e2))
			log_warn("pool %s: %s: %s", p->name, n->name, e2.msg);
	}
	pthread_mutex_lock(&g.lock);
	if (!rc) {
		n->inst = inst;
		n->state = NODE_READY;
		n->up_since = sky_now();
		timeline_node(p, n->name, TL_READY, 0);
		n->price = o->cand.offer.price_usd_per_hour;
		pool_event(p, "node %s adopted: %s at %s", n->name, inst.id, inst.address);
	} else {
		pool_event(p, "node %s: %s %s not adopted (%s): a new one replaces it", n->name,
			   o->prov->name, inst.id, err.msg[0] ? err.msg : strerror(-rc));
		memset(&n->inst, 0, sizeof(n->inst));
	}
	pthread_mutex_unlock(&g.lock);
	if (!rc)
		journal_write(p, 1, "node %d %s %s %s", i, inst.id,
			      inst.address[0] ? inst.address : "-", inst.host_pub);
	return 0;
}

/* Lock held: the nodes as a fresh walk expects them. */
static void reset_nodes(struct sky_pool *p)
{
	int i;

	for (i = 0; i < p->n_nodes; i++) {
		struct sky_node *n = p->nodes[i];

		memset(&n->inst, 0, sizeof(n->inst));
		n->state = NODE_PROVISIONING;
		n->up_since = n->down_at = n->unreachable_since = 0;
		n->gone = 0;
		n->owner = 0;
	}
}

int recover_previous(struct walk *w)
{
	struct sky_pool *p = w->p;
	struct journal_replay *r;
	struct owner o = { 0 };
	struct sky_pool_info info;
	struct sky_err err = { { 0 } };
	int teardown, rc, i, machines;

	pthread_mutex_lock(&g.lock);
	r = p->replay;
	p->replay = NULL;
	teardown = p->recover_teardown || r->stopping;
	machines = journal_machines(r);
	pool_event(p, "recovering after a daemon crash (%s): %d machine(s) recorded%s%s",
		   teardown ? "teardown" : "resume", machines, r->has_cand ? " on " : "",
		   r->has_cand ? r->provider : "");
	pthread_mutex_unlock(&g.lock);
	kill_leftovers(p);
	o.prov = r->has_cand ? sky_provider_find(r->provider) : NULL;
	if (!o.prov) {
		if (r->has_cand)
			log_error("pool %s: its machines are on %s, not in this build: "
				  "they cannot be released from here", p->name, r->provider);
		rc = teardown ? -ECANCELED : 0;
		goto out;
	}
	find_candidate(w, r, &o.cand);
	/* the new journal holds them before anything can fail */
	journal_try(p, &o.cand.offer, 0);
	pthread_mutex_lock(&g.lock);
	/* what the dead daemon's pool cost, and its age, carry over: a crash
	 * must not reset a budget or a lifetime */
	if (r->ready_at) {
		p->ready_at = r->ready_at;
		journal_write(p, 0, "ready %.3f", r->ready_at);
	}
	for (i = 0; i < r->n_nodes && i < p->n_nodes; i++)
		if (r->nodes[i].id[0] && r->nodes[i].at > 0)
			p->spent_before += r->price * (sky_now() - r->nodes[i].at) / 3600.0;
	for (i = 0; i < r->n_nodes && i < p->n_nodes; i++) {
		struct sky_node *n = p->nodes[i];

		if (r->nodes[i].launched && !r->nodes[i].id[0])
			journal_write(p, 1, "launch %d", i);
		if (!r->nodes[i].id[0])
			continue;
		journal_write(p, 1, "node %d %s %s %s", i, r->nodes[i].id,
			      r->nodes[i].address[0] ? r->nodes[i].address : "-",
			      r->nodes[i].host_pub);
		sky_strlcpy(n->inst.id, r->nodes[i].id, sizeof(n->inst.id));
		sky_strlcpy(n->inst.address, r->nodes[i].address, sizeof(n->inst.address));
		sky_strlcpy(n->inst.host_pub, r->nodes[i].host_pub, sizeof(n->inst.host_pub));
		n->owner = 0;
	}
	p->offer = o.cand.offer;
	if (o.cand.alternative >= 0 && o.cand.alternative < p->spec.n_alts)
		p->req = p->spec.alts[o.cand.alternative];
	worker_pool_info(p, &info, 1);
	o.nodes = info.nodes;
	pthread_mutex_unlock(&g.lock);

	rc = o.prov->prepare(&info, &o.pstate, &err);
	if (rc) {
		o.pstate = NULL;
		o.released = !machines;   /* nothing to take back: nothing to retry */
		sky_strlcpy(o.error, err.msg[0] ? err.msg : strerror(-rc), sizeof(o.error));
		pthread_mutex_lock(&g.lock);
		pool_event(p, "recovery: %s: %s", o.prov->name, err.msg[0] ? err.msg : strerror(-rc));
		pthread_mutex_unlock(&g.lock);
	}
	if (rc || teardown || !o.prov->adopt) {
		if (machines) {
			pthread_mutex_lock(&g.lock);
			pool_event(p, "recovery: releasing what the crashed daemon had on %s",
				   o.prov->name);
			pthread_mutex_unlock(&g.lock);
		}
		/* terminates the recorded machines, and teardown sweeps any
		 * launched one whose answer the crash lost; retried until done */
		nodes_release(p, &o, 1);
		rc = teardown ? -ECANCELED : 0;
		goto reset;
	}
	each_node(p, adopt_node, &o);
	rc = nodes_provision(p, &o, 0, &err);
	if (rc) {
		pthread_mutex_lock(&g.lock);
		pool_event(p, "recovery: cannot complete the pool on %s (%s): starting over",
			   o.prov->name, err.msg[0] ? err.msg : strerror(-rc));
		pthread_mutex_unlock(&g.lock);
		nodes_release(p, &o, 1);
		rc = 0;
		goto reset;
	}
	w->owners[0] = o;
	w->n_owners = 1;
	for (i = 0; i < (int)w->n_base; i++)
		if (!memcmp(&w->base[i].offer, &o.cand.offer, sizeof(o.cand.offer)))
			walk_record(w, &w->base[i], 1, NULL);
	rc = 1;
	goto out;
reset:
	pthread_mutex_lock(&g.lock);
	reset_nodes(p);
	pthread_mutex_unlock(&g.lock);
out:
	journal_replay_free(r);
	free(r);
	return rc;
}
