/* The ssh provider: nodes are machines that already run, listed in the
 * spec's hosts (`[user@]host[:port], ...`, node-0 first) and reached through
 * the SSH transport (transport/ssh.h), with the spec's identity (else
 * ssh-agent), known_hosts and host_key_policy.
 *
 * It offers what every host has: no accelerator always, and a GPU model
 * (from `nvidia-smi -L`) only when every host lists it, as many as the host
 * with the fewest; like the local machine's, those GPUs are split between
 * a node's slots. Provisioning a node is connecting to it and checking it;
 * terminating is removing our directory and processes there: the machine
 * is never shut down. Each node's connection reports its drops and returns
 * to the scheduler (sky_pool_info.node_state). */
#define LOG_MODULE "ssh"
#include "providers/provider.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/accel.h"
#include "common/log.h"
#include "common/util.h"
#include "scheduler/spec.h"
#include "transport/ssh.h"

#define CONNECT_TIMEOUT_S 10
#define PROBE_TIMEOUT_S 10
#define CLEANUP_TIMEOUT_S 15
#define OFFER_BATCH 32          /* hosts offers() connects to at once */
#define MAX_GPUS 64

/* One line of output per fact; nvidia-smi's own lines as they are. */
#define PROBE_COMMAND "echo \"cpus $(nproc 2>/dev/null)\"; " \
	"awk '/^MemTotal:/ { print \"memkb\", $2 }' /proc/meminfo 2>/dev/null; " \
	"nvidia-smi -L 2>/dev/null; true"

/* What a probe learned about one host. */
struct probe {
	int cpus;
	long long mem_kb;
	int n_gpus;
	struct sky_gpu gpus[MAX_GPUS];
};

struct ssh_state;

/* One node: the argument of its connection's state callback. */
struct ssh_node {
	struct ssh_state *st;
	int rank;
	int up;                          /* atomic: what the connection said last */
	struct sky_ssh_conn *conn;       /* while provisioned */
};

struct ssh_state {
	const struct sky_spec *spec;     /* the pool's; outlives this state */
	char record_file[4096];          /* accept-new's keys: the pool's state */
	char remote_base[640];           /* ".skyfs/<pool>-<hash>", under the login dir */
	char model[64];                  /* the offer's accelerator, "" for none */
	int per_node;                    /* devices each node's slots split */
	void (*node_state)(void *arg, int rank, int up, const char *why);
	int (*host_of)(void *arg, int rank, struct sky_spec_host *out);
	void *node_state_arg;
	struct ssh_node *nodes;          /* pool->nodes entries */
	int n_nodes;
};

/* "host:port", IPv6 addresses in brackets, as messages name a host. */
static void host_name(const struct sky_spec_host *h, char *buf, size_t len)
{
	int v6 = strchr(h->host, ':') != NULL;

	snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", h->host, v6 ? "]" : "", h->port);
}

/* The transport's message without the host it starts with (ours names
 * it), its first word in lower case: "127.0.0.3:22: Connection refused"
 * becomes "connection refused". */
static const char *detail(const char *msg, const struct sky_spec_host *h, int rc,
			  char *buf, size_t len)
{
	const char *sep = msg ? strstr(msg, ": ") : NULL;

	if (!msg || !*msg)
		msg = strerror(-rc);
	else if (sep && memchr(msg, ' ', (size_t)(sep - msg)) == NULL &&
		 memmem(msg, (size_t)(sep - msg), h->host, strlen(h->host)))
		msg = sep + 2;
	snprintf(buf, len, "%s", msg);
	if (isupper((unsigned char)buf[0]) && islower((unsigned char)buf[1]))
		buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

static void host_error(struct sky_err *err, const struct sky_spec_host *h, int rc,
		       const char *msg)
{
	char name[300], why[512];

	host_name(h, name, sizeof(name));
	sky_err_set(err, "ssh: %s: %s", name, detail(msg, h, rc, why, sizeof(why)));
}

/* "~/x" is the daemon's home, as a shell would have it. */
static int expand_path(const char *in, char *out, size_t len)
{
	const char *home = getenv("HOME");

	if (in[0] == '~' && in[1] == '/' && home && *home) {
		if ((size_t)snprintf(out, len, "%s%s", home, in + 1) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	return sky_strlcpy(out, in, len) >= len ? -ENAMETOOLONG : 0;
}

/* The connection parameters the spec gives every host; a missing key
 * file is reported here rather than as a failed login. */
static int base_params(const struct sky_spec *spec, const char *record_file,
		       struct sky_ssh_params *p, struct sky_err *err)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (spec->identity) {
		if ((rc = expand_path(spec->identity, p->identity, sizeof(p->identity)))) {
			sky_err_set(err, "ssh: identity: path too long");
			return rc;
		}
		if (access(p->identity, R_OK)) {
			rc = -errno;
			sky_err_set(err, "ssh: identity %s: %s", p->identity, strerror(errno));
			return rc;
		}
	}
	if (spec->known_hosts) {
		if ((rc = expand_path(spec->known_hosts, p->known_hosts, sizeof(p->known_hosts)))) {
			sky_err_set(err, "ssh: known_hosts: path too long");
			return rc;
		}
		/* under strict, a file that is not there is a typo, not "no host known" */
		if (spec->host_key_policy == SKY_HOST_KEY_STRICT && access(p->known_hosts, R_OK)) {
			rc = -errno;
			sky_err_set(err, "ssh: known_hosts %s: %s", p->known_hosts, strerror(errno));
			return rc;
		}
	}
	p->policy = spec->host_key_policy == SKY_HOST_KEY_ACCEPT_NEW ? SKY_HOSTKEY_ACCEPT_NEW :
		    SKY_HOSTKEY_STRICT;
	if (record_file && sky_strlcpy(p->record_file, record_file, sizeof(p->record_file)) >=
	    sizeof(p->record_file))
		return -ENAMETOOLONG;
	p->connect_timeout_s = CONNECT_TIMEOUT_S;
	p->node_timeout_s = spec->node_timeout_s > 0 && spec->node_timeout_s < INT32_MAX ?
			    (int)spec->node_timeout_s : 60;
	return 0;
}

static void set_host(struct sky_ssh_params *p, const struct sky_spec_host *h)
{
	sky_strlcpy(p->user, h->user, sizeof(p->user));
	sky_strlcpy(p->host, h->host, sizeof(p->host));
	p->port = h->port;
}

/* Reads the probe's lines: "cpus N", "memkb N", and nvidia-smi's
 * "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-...)". */
static void parse_probe(char *text, struct probe *pr)
{
	char *line, *save = NULL;

	memset(pr, 0, sizeof(*pr));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "cpus %d", &pr->cpus) == 1 || sscanf(line, "memkb %lld", &pr->mem_kb) == 1)
			continue;
		if (pr->n_gpus < MAX_GPUS)
			pr->n_gpus += sky_gpu_parse_line(line, &pr->gpus[pr->n_gpus]);
	}
}

static int run_probe(struct sky_ssh_conn *c, const struct sky_spec_host *h, struct probe *pr,
		     struct sky_err *err)
{
	struct sky_buf out = { 0 };
	int status = 0, rc;

	rc = sky_ssh_run(c, PROBE_COMMAND, PROBE_TIMEOUT_S, &out, 1 << 16, &status);
	if (rc) {
		host_error(err, h, rc, rc == -ETIMEDOUT ? "probing the host timed out" : NULL);
		goto out;
	}
	parse_probe(out.data ? out.data : (char *)"", pr);
out:
	sky_buf_free(&out);
	return rc;
}

/* ---- offers ---------------------------------------------------------------- */

struct model {
	char name[64];
	int count;          /* the fewest any host has so far; 0: some host has none */
};

/* Folds one host's probe into what every host has. */
static void intersect(struct model *common, int *n, const struct probe *pr, int first,
		      int *cpus, long long *mem_kb)
{
	struct model own[MAX_GPUS];
	int n_own = 0, i, j;

	for (i = 0; i < pr->n_gpus; i++) {
		for (j = 0; j < n_own && strcmp(own[j].name, pr->gpus[i].model); j++)
			;
		if (j == n_own) {
			sky_strlcpy(own[n_own].name, pr->gpus[i].model, sizeof(own[0].name));
			own[n_own++].count = 0;
		}
		own[j].count++;
	}
	if (first) {
		memcpy(common, own, (size_t)n_own * sizeof(*own));
		*n = n_own;
		*cpus = pr->cpus;
		*mem_kb = pr->mem_kb;
		return;
	}
	for (i = 0; i < *n; i++) {
		for (j = 0; j < n_own && strcmp(own[j].name, common[i].name); j++)
			;
		common[i].count = j == n_own ? 0 : own[j].count < common[i].count ?
				  own[j].count : common[i].count;
	}
	*cpus = pr->cpus < *cpus ? pr->cpus : *cpus;
	*mem_kb = pr->mem_kb < *mem_kb ? pr->mem_kb : *mem_kb;
}

static int ssh_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
		      struct sky_err *err)
{
	struct sky_ssh_conn *conns[OFFER_BATCH];
	struct model common[MAX_GPUS];
	struct sky_ssh_params p;
	struct probe *pr = NULL;
	struct sky_offer *o = NULL;
	char record[64] = "", msg[512];
	long long mem_kb = 0;
	int n_common = 0, cpus = 0, b, i, m, rc, fd;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	/* the catalog asks every provider without a spec: no hosts, no offers */
	if (!spec->n_hosts)
		return 0;
	/* accept-new's first use belongs to the pool, which provisioning
	 * records; a probe only needs somewhere to put what it sees */
	if (spec->host_key_policy == SKY_HOST_KEY_ACCEPT_NEW) {
		snprintf(record, sizeof(record), "/tmp/skyfs-probe-XXXXXX");
		if ((fd = mkstemp(record)) < 0) {
			rc = -errno;
			sky_err_set(err, "ssh: cannot create a temporary file: %s", strerror(errno));
			return rc;
		}
		close(fd);
	}
	if ((rc = base_params(spec, record[0] ? record : NULL, &p, err)))
		goto out;
	sky_strlcpy(p.remote_dir, ".skyfs", sizeof(p.remote_dir));
	if (!(pr = malloc(sizeof(*pr)))) {
		rc = -ENOMEM;
		goto out;
	}
	/* a batch connects at once, so unreachable hosts cost one timeout */
	for (b = 0; b < spec->n_hosts && !rc; b += OFFER_BATCH) {
		m = spec->n_hosts - b < OFFER_BATCH ? spec->n_hosts - b : OFFER_BATCH;
		memset(conns, 0, sizeof(conns));
		for (i = 0; i < m && !rc; i++) {
			set_host(&p, &spec->hosts[b + i]);
			if ((rc = sky_ssh_open(&p, &conns[i])))
				host_error(err, &spec->hosts[b + i], rc, NULL);
		}
		for (i = 0; i < m && !rc; i++) {
			const struct sky_spec_host *h = &spec->hosts[b + i];

			msg[0] = '\0';
			rc = sky_ssh_wait_up(conns[i], CONNECT_TIMEOUT_S, msg, sizeof(msg));
			if (rc)
				host_error(err, h, rc, msg);
			else if (!(rc = run_probe(conns[i], h, pr, err)))
				intersect(common, &n_common, pr, b + i == 0, &cpus, &mem_kb);
		}
		for (i = 0; i < m; i++)
			sky_ssh_close(conns[i]);
	}
	if (rc)
		goto out;
	if (!(o = calloc((size_t)n_common + 1, sizeof(*o)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_common; i++) {
		if (!common[i].count)
			continue;
		sky_strlcpy(o[k].accelerator, common[i].name, sizeof(o[k].accelerator));
		o[k++].accelerator_count = common[i].count;
	}
	k++;   /* the accelerator-less offer, last, as the local provider's */
	for (i = 0; i < (int)k; i++) {
		snprintf(o[i].provider, sizeof(o[i].provider), "ssh");
		snprintf(o[i].instance_type, sizeof(o[i].instance_type), "hosts");
		snprintf(o[i].region, sizeof(o[i].region), "ssh");
		o[i].market = SKY_MARKET_ON_DEMAND;
		/* a host's GPUs are a capacity its slots split, not a shape */
		o[i].shareable = 1;
		o[i].vcpus = cpus > 0 ? cpus : 0;
		o[i].memory_gb = (int)(mem_kb / (1024 * 1024));
		o[i].source = SKY_SOURCE_LIVE;
		o[i].as_of = (long long)sky_now();
	}
	*out = o;
	*n = k;
	o = NULL;
out:
	if (record[0])
		unlink(record);
	free(pr);
	free(o);
	return rc;
}

/* ---- a pool's nodes ------------------------------------------------------- */

/* The transport's thread says a node dropped or came back. */
static void conn_state(void *arg, int up, const char *why)
{
	struct ssh_node *sn = arg;

	__atomic_store_n(&sn->up, up, __ATOMIC_RELEASE);
	if (sn->st->node_state)
		sn->st->node_state(sn->st->node_state_arg, sn->rank, up, why);
}

static int ssh_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	const struct sky_spec *spec = pool->spec;
	const struct sky_request *req = pool->request;
	struct sky_ssh_params p;
	struct ssh_state *st;
	char slug[128];
	int i, rc;

	if (!spec->n_hosts || pool->nodes > spec->n_hosts) {
		sky_err_set(err, "ssh: nodes = %d but hosts lists %d", pool->nodes, spec->n_hosts);
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->nodes = calloc((size_t)pool->nodes, sizeof(*st->nodes));
	if (!st->nodes) {
		rc = -ENOMEM;
		goto fail;
	}
	st->spec = spec;
	st->n_nodes = pool->nodes;
	st->node_state = pool->node_state;
	st->host_of = pool->host_of;
	st->node_state_arg = pool->node_state_arg;
	for (i = 0; i < st->n_nodes; i++) {
		st->nodes[i].st = st;
		st->nodes[i].rank = i;
	}
	if ((size_t)snprintf(st->record_file, sizeof(st->record_file), "%s/known_hosts",
			     pool->state_dir) >= sizeof(st->record_file)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	sky_pool_slug(pool, slug, sizeof(slug));
	snprintf(st->remote_base, sizeof(st->remote_base), ".skyfs/%s", slug);
	/* the key files are checked once, before any host is tried */
	if ((rc = base_params(spec, st->record_file, &p, err)))
		goto fail;
	if (req->accelerator[0]) {
		sky_strlcpy(st->model, pool->offer->accelerator, sizeof(st->model));
		st->per_node = spec->slots * req->accelerator_count;
		if (st->per_node > (int)SKY_ARRAY_SIZE(((struct sky_instance *)0)->devices)) {
			sky_err_set(err, "ssh: %d devices per node (%d slots x %d), at most %zu",
				    st->per_node, spec->slots, req->accelerator_count,
				    SKY_ARRAY_SIZE(((struct sky_instance *)0)->devices));
			rc = -EAGAIN;
			goto fail;
		}
	}
	*state = st;
	return 0;
fail:
	free(st->nodes);
	free(st);
	return rc;
}

/* Picks the node's devices: per_node GPUs of the pool's model. */
static int pick_devices(struct ssh_state *st, const struct sky_spec_host *h,
			const struct probe *pr, struct sky_instance *inst, struct sky_err *err)
{
	char name[300];
	int i;

	inst->n_devices = 0;
	for (i = 0; i < pr->n_gpus && inst->n_devices < st->per_node; i++)
		if (sky_accel_same(st->model, pr->gpus[i].model))
			sky_strlcpy(inst->devices[inst->n_devices++], pr->gpus[i].index,
				    sizeof(inst->devices[0]));
	if (inst->n_devices >= st->per_node)
		return 0;
	host_name(h, name, sizeof(name));
	sky_err_set(err, "ssh: %s: %d x %s needed (%d slots x %d), the host has %d", name,
		    st->per_node, st->model, st->spec->slots, st->per_node / st->spec->slots,
		    inst->n_devices);
	return -EAGAIN;
}

static int clean_node(struct sky_ssh_conn *conn, const char *id, const char *dir,
		      struct sky_err *err);

static int ssh_provision(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct ssh_state *st = state;
	struct ssh_node *sn;
	const struct sky_spec_host *h;
	struct sky_spec_host host;
	struct sky_ssh_conn *conn = NULL;
	struct sky_ssh_params p;
	struct probe *pr = NULL;
	char msg[512], name[300], id[sizeof(inst->id)];
	int rc;

	if (rank < 0 || rank >= st->n_nodes)
		return -EINVAL;
	sn = &st->nodes[rank];
	/* a live spec may change the entries past the nodes in use: a copy,
	 * taken under the scheduler's lock */
	if (st->host_of) {
		if ((rc = st->host_of(st->node_state_arg, rank, &host))) {
			sky_err_set(err, "ssh: hosts has no entry for node-%d", rank);
			return -EINVAL;
		}
	} else if (rank < st->spec->n_hosts) {
		host = st->spec->hosts[rank];
	} else {
		return -EINVAL;
	}
	h = &host;
	host_name(h, name, sizeof(name));
	snprintf(id, sizeof(id), "%s@%s", h->user, name);
	if ((rc = base_params(st->spec, st->record_file, &p, err)))
		return rc;
	set_host(&p, h);
	/* one directory per node: two nodes may be one machine and login */
	snprintf(p.remote_dir, sizeof(p.remote_dir), "%s/node-%d", st->remote_base, rank);
	p.state = conn_state;
	p.state_arg = sn;
	if ((rc = sky_ssh_open(&p, &conn))) {
		host_error(err, h, rc, NULL);
		return rc;
	}
	msg[0] = '\0';
	if ((rc = sky_ssh_wait_up(conn, CONNECT_TIMEOUT_S, msg, sizeof(msg)))) {
		host_error(err, h, rc, msg);
		goto out;
	}
	if (st->per_node) {
		if (!(pr = malloc(sizeof(*pr)))) {
			rc = -ENOMEM;
			goto out;
		}
		if ((rc = run_probe(conn, h, pr, err)) || (rc = pick_devices(st, h, pr, inst, err))) {
			/* the connection made the node's directory: not ours to keep */
			inst->n_devices = 0;
			clean_node(conn, id, sky_ssh_remote_dir(conn), NULL);
			goto out;
		}
	}
	sky_strlcpy(inst->id, id, sizeof(inst->id));
	sky_strlcpy(inst->address, h->host, sizeof(inst->address));
	sky_strlcpy(inst->workdir, sky_ssh_remote_dir(conn), sizeof(inst->workdir));
	inst->transport = &sky_transport_ssh;
	sky_strlcpy(inst->host_key, st->spec->host_key_policy == SKY_HOST_KEY_ACCEPT_NEW ?
		    "known_hosts, or recorded on first use" : "known_hosts",
		    sizeof(inst->host_key));
	inst->conn = conn;
	inst->state = SKY_INST_RUNNING;
	sn->conn = conn;
	__atomic_store_n(&sn->up, 1, __ATOMIC_RELEASE);
	conn = NULL;
out:
	/* a node that is not kept reports nothing more */
	sky_ssh_close(conn);
	free(pr);
	return rc;
}

static struct ssh_node *node_of(struct ssh_state *st, const struct sky_instance *inst)
{
	int i;

	for (i = 0; inst->conn && i < st->n_nodes; i++)
		if (st->nodes[i].conn == inst->conn)
			return &st->nodes[i];
	return NULL;
}

static int ssh_get_instance(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct ssh_node *sn = node_of(state, inst);

	(void)err;
	if (!sn)
		inst->state = SKY_INST_GONE;
	else
		inst->state = __atomic_load_n(&sn->up, __ATOMIC_ACQUIRE) ? SKY_INST_RUNNING :
			      SKY_INST_PENDING;
	return 0;
}

/* dir + "/" as an extended regex for pkill -f. Punctuation goes in
 * brackets, and so does the last component's first letter, so that the
 * pattern never matches the command line of the shell that runs pkill. */
static void dir_regex(struct sky_buf *b, const char *dir)
{
	const char *leaf = strrchr(dir, '/');
	const char *s;

	leaf = leaf ? leaf + 1 : dir;
	for (s = dir; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '^')
			sky_buf_append(b, "\\^", 2);
		else if (s != leaf && (isalnum(ch) || ch == '/' || ch == '_' || ch == '-' ||
				       ch >= 0x80))
			sky_buf_append(b, s, 1);
		else
			sky_buf_printf(b, "[%c]", ch);
	}
	sky_buf_append(b, "/", 1);
}

/* The node-side clean-up: every process of ours that runs from the node's
 * directory (by command line, then by working directory), then the
 * directory, and the pool's directory once its last node is gone. The full
 * path never appears literally, so the clean-up cannot match itself. */
static char *cleanup_command(const char *dir)
{
	struct sky_buf b = { 0 };
	const char *slash = strrchr(dir, '/');
	char parent[1024];

	if (!slash || slash == dir || (size_t)(slash - dir) >= sizeof(parent))
		return NULL;
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	sky_buf_printf(&b, "D=");
	sky_buf_shquote(&b, parent);
	sky_buf_printf(&b, "; N=");
	sky_buf_shquote(&b, slash + 1);
	sky_buf_printf(&b, "; pkill -KILL -u \"$(id -u)\" -f ");
	{
		struct sky_buf re = { 0 };

		dir_regex(&re, dir);
		if (re.data)
			sky_buf_shquote(&b, re.data);
		sky_buf_free(&re);
	}
	sky_buf_printf(&b, " 2>/dev/null; "
		       "ls -l /proc/[0-9]*/cwd 2>/dev/null | awk -v d=\"$D/$N\" '"
		       "{ i = index($0, \" -> \"); if (!i) next; t = substr($0, i + 4); "
		       "if (t != d && index(t, d \"/\") != 1) next; "
		       "split(substr($0, 1, i - 1), a, \"/proc/\"); split(a[2], p, \"/\"); "
		       "print p[1] }' | xargs -r kill -KILL 2>/dev/null; "
		       "rm -rf -- \"$D/$N\" || exit 1; rmdir -- \"$D\" 2>/dev/null; exit 0");
	return b.data;
}

/* Runs the clean-up of dir (the node's directory) on a connected node. */
static int clean_node(struct sky_ssh_conn *conn, const char *id, const char *dir,
		      struct sky_err *err)
{
	char *cmd = NULL;
	int rc = 0, status = 0;

	/* the directory is only ever ours below the login directory */
	if (dir[0] != '/' || !strstr(dir, "/.skyfs/")) {
		sky_err_set(err, "ssh: %s: unexpected node directory \"%s\", left alone", id, dir);
		rc = -EINVAL;
	} else if (sky_ssh_wait_up(conn, 2, NULL, 0)) {
		sky_err_set(err, "ssh: %s: unreachable, %s left on the host", id, dir);
		rc = -EHOSTDOWN;
	} else if (!(cmd = cleanup_command(dir))) {
		rc = -ENOMEM;
	} else if ((rc = sky_ssh_run(conn, cmd, CLEANUP_TIMEOUT_S, NULL, 0, &status))) {
		sky_err_set(err, "ssh: %s: clean-up of %s failed: %s", id, dir, strerror(-rc));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		sky_err_set(err, "ssh: %s: cannot remove %s", id, dir);
		rc = -EIO;
	}
	free(cmd);
	return rc;
}

static int ssh_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct ssh_state *st = state;
	struct ssh_node *sn = node_of(st, inst);
	struct sky_ssh_conn *conn = inst->conn;
	int rc;

	if (!conn) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	rc = clean_node(conn, inst->id, inst->workdir, err);
	sky_ssh_close(conn);
	inst->conn = NULL;
	if (sn)
		sn->conn = NULL;
	inst->state = SKY_INST_GONE;
	return rc;
}

static int ssh_teardown(void *state, struct sky_err *err)
{
	struct ssh_state *st = state;
	int i;

	(void)err;
	if (!st)
		return 0;
	/* terminate() closed every connection; one it never saw goes now */
	for (i = 0; i < st->n_nodes; i++)
		if (st->nodes[i].conn)
			sky_ssh_close(st->nodes[i].conn);
	free(st->nodes);
	free(st);
	return 0;
}

static int ssh_status(struct sky_buf *out)
{
	return sky_buf_printf(out, "configured: yes (hosts, identity and known_hosts come "
			      "from each pool's spec)\n");
}

const struct sky_provider_ops sky_provider_ssh = {
	.name = "ssh",
	.fixed_nodes = 1,
	.status = ssh_status,
	.offers = ssh_offers,
	.prepare = ssh_prepare,
	.provision = ssh_provision,
	.get_instance = ssh_get_instance,
	.terminate = ssh_terminate,
	.teardown = ssh_teardown,
};
