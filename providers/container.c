/* The container provider: every node is a podman container on this machine
 * with a network namespace, a filesystem view and an sshd of its own,
 * reached over the same SSH transport, per-pool login key and pinned host
 * key as a cloud node (cloud.h). The cloud path, on a laptop, at no cost:
 * a pool moves to a cloud by changing `provider`.
 *
 * The image: the spec's `image` (any local image with sshd), else this
 * machine's own root filesystem under a throw-away overlay (`--rootfs /:O`),
 * so nothing is downloaded. The network: slirp4netns, with the container's
 * port 22 published on 127.0.0.1 at a port podman picks: each node has its
 * own namespace and address (127.0.0.1:PORT), and nothing on the host
 * changes — no bridge, no forwarding, no NAT rule (a podman bridge network
 * turns on net.ipv4.ip_forward and never turns it off).
 *
 * Per pool (prepare): the login key and <pool state>/container/. Per node
 * (provision): a host key made here, an sshd_config and authorized_keys in
 * <pool state>/container/node-<rank>/ (mounted read-only at /skyfs), and
 * `podman run -d --rm` named "<pool>-<hash>-<mount id>-<rank>" and labelled
 * skyfs.mount / skyfs.pool / skyfs.node, whose first process starts sshd
 * and ends the container when told to (SIGTERM: the dead-man switch).
 * terminate removes the container; teardown every container labelled as
 * the pool's; the orphan sweep every one of this mount whose pool is gone.
 *
 * podman is run as a command (its CLI is its stable interface), with the
 * daemon's environment (CONTAINERS_CONF and friends: the user's own
 * configuration) and a deadline on every call.
 *
 * Ownership: struct ct_state belongs to the scheduler between prepare()
 * and teardown(); its lock is the cloud pool's. */
#define LOG_MODULE "container"
#include "providers/provider.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/accel.h"
#include "catalog/catalog.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "providers/cloud.h"
#include "scheduler/spec.h"
#include "transport/ssh.h"

#define PODMAN_TIMEOUT_MS 60000
#define QUICK_TIMEOUT_MS 15000
#define LOGIN_USER "root"
#define MAX_GPUS 16

/* The container's first process: sshd in the background, root's login
 * shell made /bin/sh (no ~/.bashrc of the host's image in every command),
 * and an exit on SIGTERM, which a container's PID 1 does not get by
 * default. */
#define ENTRY "mkdir -p /run/sshd && chmod 0755 /run/sshd || exit 1\n" \
	"sed -i '1s#^root:\\(.*\\):[^:]*$#root:\\1:/bin/sh#' /etc/passwd 2>/dev/null\n" \
	"/usr/sbin/sshd -D -e -f /skyfs/sshd_config & s=$!\n" \
	"trap 'kill $s 2>/dev/null; exit 0' TERM INT\n" \
	"wait $s\n"

struct ct_node {
	struct sky_cloud_node base;      /* first: id is the container's name */
	char host_pub[128];
};

struct ct_state {
	struct sky_cloud_pool base;      /* first */
	struct ct_node *nodes;
	char image[256];                 /* "" for this machine's root filesystem */
	char login_pub[SKY_SSHKEY_LINE_MAX];
	char slug[96];                   /* hostnames: "<pool>-<rank>" */
	int gpus_per_node;
};

/* ---- podman ------------------------------------------------------------------------ */

/* Runs podman with args (NULL-terminated), its stdout and stderr together
 * into out (a refusal is a message on stderr). 0 with *status, or -errno
 * (-ENOENT: podman is not installed, -ETIMEDOUT). */
static int podman(const char *const *args, int timeout_ms, struct sky_buf *out, int *status)
{
	const char *argv[80];   /* run_container's 64 args and the 4 before them */
	size_t n = 0;

	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = "command -v podman >/dev/null || exit 127; exec podman \"$@\" 2>&1";
	argv[n++] = "podman";
	for (; *args && n < SKY_ARRAY_SIZE(argv) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	sky_buf_free(out);
	return sky_run_capture((char *const *)argv, timeout_ms, out, 1 << 16, status);
}

/* The last line of what podman said, for a message. */
static const char *last_line(struct sky_buf *out)
{
	char *s = out->data, *nl;

	if (!s)
		return "no output";
	while (out->len && (s[out->len - 1] == '\n' || s[out->len - 1] == '\r'))
		s[--out->len] = '\0';
	nl = strrchr(s, '\n');
	return nl ? nl + 1 : s;
}

/* One podman call that must succeed: 0, or -errno with "container: <what>:
 * <podman's words>" in err; its output stays in out. */
static int podman_ok(const char *const *args, int timeout_ms, struct sky_buf *out,
		     const char *what, struct sky_err *err)
{
	int status = 0, rc = podman(args, timeout_ms, out, &status);

	if (rc == -ETIMEDOUT)
		sky_err_set(err, "container: %s: podman did not answer in %d s", what,
			    timeout_ms / 1000);
	else if (rc)
		sky_err_set(err, "container: %s: cannot run podman: %s", what, strerror(-rc));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		rc = -ENOENT, sky_err_set(err, "container: podman is not installed "
					  "(apt-get install podman)");
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		rc = -EIO, sky_err_set(err, "container: %s: %s", what, last_line(out));
	return rc;
}

/* ---- status, offers ------------------------------------------------------------------- */

static int ct_status(struct sky_buf *out)
{
	const char *args[] = { "version", "--format", "{{.Client.Version}}", NULL };
	struct sky_buf o = { 0 };
	struct sky_err err = { { 0 } };

	if (podman_ok(args, QUICK_TIMEOUT_MS, &o, "version", &err))
		sky_buf_printf(out, "configured: no (%s)\n", err.msg);
	else
		sky_buf_printf(out, "configured: yes (podman %s)\n", last_line(&o));
	sky_buf_printf(out, "network: slirp4netns, sshd published on 127.0.0.1\n"
		       "image: the spec's image, else this machine's root filesystem "
		       "(read-only, with an overlay)\n");
	sky_buf_free(&o);
	return out->data ? 0 : -ENOMEM;
}

/* A CDI specification for NVIDIA GPUs: `--device nvidia.com/gpu=N` works. */
static int have_cdi(void)
{
	return !access("/etc/cdi/nvidia.yaml", R_OK) || !access("/var/run/cdi/nvidia.yaml", R_OK) ||
	       !access("/etc/cdi/nvidia.json", R_OK) || !access("/var/run/cdi/nvidia.json", R_OK);
}

/* GPUs of one model on this machine: the first model nvidia-smi lists
 * and how many of it. */
static int local_gpus(char *model, size_t len)
{
	struct sky_gpu gpus[64];
	int n = sky_gpu_list(gpus, 64), i, same = 0;

	model[0] = '\0';
	for (i = 0; i < n; i++)
		same += !strcmp(gpus[i].model, gpus[0].model);
	if (n)
		snprintf(model, len, "%s", gpus[0].model);
	return same;
}

static int ct_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
		     struct sky_err *err)
{
	struct sky_offer *o = calloc(2, sizeof(*o));
	char model[64];
	int gpus = have_cdi() ? local_gpus(model, sizeof(model)) : 0, i;

	(void)spec;
	(void)err;
	*out = NULL;
	*n = 0;
	if (!o)
		return -ENOMEM;
	for (i = 0; i < (gpus ? 2 : 1); i++) {
		snprintf(o[i].provider, sizeof(o[i].provider), "container");
		snprintf(o[i].instance_type, sizeof(o[i].instance_type), i ? "podman-gpu" : "podman");
		snprintf(o[i].region, sizeof(o[i].region), "local");
		o[i].market = SKY_MARKET_ON_DEMAND;
		o[i].source = SKY_SOURCE_LIVE;
		o[i].as_of = (long long)sky_now();
		o[i].vcpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
		/* a capacity the pool's nodes split, as on the local provider */
		o[i].shareable = 1;
		if (i) {
			const struct sky_accel *a = sky_accel_find(model);

			snprintf(o[i].accelerator, sizeof(o[i].accelerator), "%s",
				 a ? a->name : model);
			o[i].accelerator_count = gpus;
		}
	}
	*out = o;
	*n = (size_t)i;
	return 0;
}

/* ---- prepare, teardown ------------------------------------------------------------------ */

static int ct_prepare(const struct sky_pool_info *pool, void **state, struct sky_err *err)
{
	const char *args[] = { "version", "--format", "{{.Client.Version}}", NULL };
	struct sky_buf out = { 0 };
	struct ct_state *st;
	char comment[160];
	size_t i, k = 0;
	int rc;

	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	rc = sky_cloud_pool_init(&st->base, "container", pool, sizeof(*st->nodes));
	st->nodes = st->base.nodes;
	if (rc)
		goto fail;
	/* podman first: without it every node would fail alike */
	if ((rc = podman_ok(args, QUICK_TIMEOUT_MS, &out, "podman version", err)))
		goto fail;
	if (pool->spec->image && !strncmp(pool->spec->image, "ami-", 4)) {
		sky_err_set(err, "container: image %s is an AWS machine image, not a container "
			    "image", pool->spec->image);
		rc = -EINVAL;
		goto fail;
	}
	snprintf(st->image, sizeof(st->image), "%s", pool->spec->image ? pool->spec->image : "");
	if (pool->offer->accelerator[0] && pool->request)
		st->gpus_per_node = pool->request->accelerator_count;
	/* a hostname: lower-case letters, digits and inner '-' */
	for (i = 0; pool->name[i] && k < 40; i++) {
		char c = pool->name[i];

		c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			st->slug[k++] = c;
		else if (k && st->slug[k - 1] != '-')
			st->slug[k++] = '-';
	}
	st->slug[k] = '\0';
	snprintf(comment, sizeof(comment), "skyfs-%s", st->base.id);
	if ((rc = sky_cloud_dir(pool, "container", st->base.dir, sizeof(st->base.dir), err)) ||
	    (rc = sky_cloud_login_key(st->base.dir, pool->resume, comment, st->base.key_path,
				      sizeof(st->base.key_path), st->login_pub,
				      sizeof(st->login_pub), err)))
		goto fail;
	log_info("%s: prepared: image %s, containers %s-<rank>", pool->name,
		 st->image[0] ? st->image : "this machine's root filesystem", st->base.id);
	sky_buf_free(&out);
	*state = st;
	return 0;
fail:
	/* no container exists yet: give back the key and the directory (kept
	 * for a resumed pool, whose containers know that key) */
	sky_buf_free(&out);
	st->base.keep = pool->resume;
	sky_cloud_pool_fini(&st->base);
	free(st);
	return rc;
}

/* Removes every container labelled as the pool's (those a lost answer or a
 * crashed run left too). */
static int remove_pool_containers(struct ct_state *st, struct sky_err *err)
{
	char filter[128], *line, *save = NULL;   /* "label=skyfs.id=" and an id of up to 81 */
	const char *ps[] = { "ps", "-a", "--filter", filter, "--format", "{{.Names}}", NULL };
	struct sky_buf out = { 0 }, rm = { 0 };
	int rc;

	snprintf(filter, sizeof(filter), "label=skyfs.id=%s", st->base.id);
	if ((rc = podman_ok(ps, QUICK_TIMEOUT_MS, &out, "listing the pool's containers", err)))
		goto out;
	for (line = out.data ? strtok_r(out.data, "\n", &save) : NULL; line && !rc;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *args[] = { "rm", "-f", "-t", "0", line, NULL };

		if (*line)
			rc = podman_ok(args, PODMAN_TIMEOUT_MS, &rm, "removing a container", err);
	}
out:
	sky_buf_free(&rm);
	sky_buf_free(&out);
	return rc;
}

static int ct_teardown(void *state, struct sky_err *err)
{
	struct ct_state *st = state;
	int rc;

	if (!st)
		return 0;
	sky_cloud_close_nodes(&st->base);
	if (!st->base.keep && st->base.dir[0] && (rc = remove_pool_containers(st, err)))
		return rc;   /* the scheduler retries; the state stays */
	if (!st->base.keep && st->base.dir[0]) {
		char nodes[4200];
		int i;

		for (i = 0; i < st->base.n_nodes; i++) {
			snprintf(nodes, sizeof(nodes), "%s/node-%d", st->base.dir, i);
			sky_rm_rf(nodes);
		}
	}
	sky_cloud_pool_fini(&st->base);
	free(st);
	return 0;
}

/* ---- provision ------------------------------------------------------------------------ */

/* <pool>/container/node-<rank>/: what the container mounts at /skyfs. */
static int node_files(struct ct_state *st, int rank, const char *host_key, char *dir,
		      size_t len, struct sky_err *err)
{
	char path[4300], conf[1024];
	int rc;

	snprintf(dir, len, "%s/node-%d", st->base.dir, rank);
	sky_rm_rf(dir);
	if ((rc = sky_mkdir_p(dir, 0700)))
		goto fail;
	snprintf(conf, sizeof(conf),
		 "Port 22\nHostKey /skyfs/host_key\nAuthorizedKeysFile /skyfs/authorized_keys\n"
		 "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
		 "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n"
		 "MaxStartups 100:30:200\nMaxSessions 50\nSubsystem sftp internal-sftp\n");
	snprintf(path, sizeof(path), "%s/sshd_config", dir);
	if ((rc = sky_write_file_atomic(path, conf, strlen(conf), 0)))
		goto fail;
	snprintf(path, sizeof(path), "%s/authorized_keys", dir);
	snprintf(conf, sizeof(conf), "%s\n", st->login_pub);
	if ((rc = sky_write_file_atomic(path, conf, strlen(conf), 0)))
		goto fail;
	snprintf(path, sizeof(path), "%s/host_key", dir);
	if ((rc = sky_write_file_atomic(path, host_key, strlen(host_key), 0)) ||
	    chmod(path, 0600))
		goto fail;
	return 0;
fail:
	sky_err_set(err, "container: cannot write %s: %s", dir, strerror(rc ? -rc : errno));
	return rc ? rc : -errno;
}

/* podman run: the container of node rank, named ct->base.id. */
static int run_container(struct ct_state *st, struct ct_node *cn, const char *dir,
			 struct sky_err *err)
{
	char name_label[128], mount_label[64], pool_label[64], node_label[64], id_label[160];
	char hostname[128], volume[4400], gpus[MAX_GPUS][32], hash[9];
	const char *args[64];
	struct sky_buf out = { 0 };
	size_t n = 0;
	int i, rc;

	sky_pool_hash(st->base.mount + strcspn(st->base.mount, ":") + 1, hash);
	snprintf(name_label, sizeof(name_label), "skyfs.node=%d", cn->base.rank);
	snprintf(mount_label, sizeof(mount_label), "skyfs.mount=%s", sky_mount_id());
	snprintf(pool_label, sizeof(pool_label), "skyfs.pool=%s", hash);
	snprintf(id_label, sizeof(id_label), "skyfs.id=%s", st->base.id);
	snprintf(node_label, sizeof(node_label), "%s", name_label);
	snprintf(hostname, sizeof(hostname), "%s-%d", st->slug[0] ? st->slug : "node",
		 cn->base.rank);
	snprintf(volume, sizeof(volume), "%s:/skyfs:ro", dir);
	args[n++] = "run";
	args[n++] = "-d";
	args[n++] = "--rm";
	/* a local image: skyfs never pulls from a registry behind your back */
	args[n++] = "--pull=never";
	args[n++] = "--name";
	args[n++] = cn->base.id;
	args[n++] = "--hostname";
	args[n++] = hostname;
	args[n++] = "--label";
	args[n++] = mount_label;
	args[n++] = "--label";
	args[n++] = pool_label;
	args[n++] = "--label";
	args[n++] = id_label;
	args[n++] = "--label";
	args[n++] = node_label;
	args[n++] = "--network";
	args[n++] = "slirp4netns:port_handler=slirp4netns";
	args[n++] = "--publish";
	args[n++] = "127.0.0.1::22";
	args[n++] = "--volume";
	args[n++] = volume;
	/* each node its own GPUs, by rank, through CDI */
	for (i = 0; i < st->gpus_per_node && i < MAX_GPUS; i++) {
		snprintf(gpus[i], sizeof(gpus[i]), "nvidia.com/gpu=%d",
			 cn->base.rank * st->gpus_per_node + i);
		args[n++] = "--device";
		args[n++] = gpus[i];
	}
	if (st->image[0]) {
		args[n++] = st->image;
	} else {
		args[n++] = "--rootfs";
		args[n++] = "/:O";
	}
	args[n++] = "/bin/sh";
	args[n++] = "-c";
	args[n++] = ENTRY;
	args[n] = NULL;
	rc = podman_ok(args, PODMAN_TIMEOUT_MS, &out, "podman run", err);
	sky_buf_free(&out);
	return rc;
}

/* The host port podman published the container's sshd on. */
static int ssh_port(const char *name, int *port, struct sky_err *err)
{
	const char *args[] = { "port", name, "22/tcp", NULL };
	struct sky_buf out = { 0 };
	const char *colon;
	int rc;

	if ((rc = podman_ok(args, QUICK_TIMEOUT_MS, &out, "podman port", err)))
		goto out;
	colon = strrchr(last_line(&out), ':');
	*port = colon ? atoi(colon + 1) : 0;
	if (*port <= 0 || *port > 65535) {
		sky_err_set(err, "container: %s: no published SSH port (%s)", name, last_line(&out));
		rc = -EIO;
	}
out:
	sky_buf_free(&out);
	return rc;
}

/* Connects with the pinned key, then the dead-man switch: PID 1 ends the
 * container (--rm removes it) on SIGTERM. */
static int connect_node(struct ct_state *st, struct ct_node *cn, struct sky_instance *inst,
			double deadline, struct sky_err *err)
{
	struct sky_cloud_ssh ssh = { 0 };
	int port = 0, rc;

	if ((rc = ssh_port(cn->base.id, &port, err)))
		return rc;
	ssh.id = cn->base.id;
	ssh.host = "127.0.0.1";
	ssh.port = port;
	ssh.pinned_key = cn->host_pub;
	ssh.deadline = deadline;
	if ((rc = sky_cloud_node_connect(&st->base, &cn->base, &ssh, LOGIN_USER, inst, err)))
		return rc;
	snprintf(inst->address, sizeof(inst->address), "127.0.0.1:%d", port);
	return sky_cloud_deadman(inst->conn, sky_cloud_orphan_timeout(&st->base), "kill -TERM 1",
				 err);
}

/* "<pool>-<hash>-<mount id>-<rank>", as podman takes names
 * ([a-zA-Z0-9][a-zA-Z0-9_.-]*) and in cn->base.id's 63 bytes whatever the
 * pool's name: its part of st->base.id ("<pool>-<hash>-<mount id>", the
 * pool part [A-Za-z0-9_-]) cut to 33 bytes, after "skyfs" when it does not
 * start with a letter or digit ("_x", "-x"). */
static void container_name(const struct ct_state *st, int rank, char *name, size_t len)
{
	size_t n = strlen(st->base.id), pool = n > 18 ? n - 18 : 0;
	int alnum = (st->base.id[0] >= 'a' && st->base.id[0] <= 'z') ||
		    (st->base.id[0] >= 'A' && st->base.id[0] <= 'Z') ||
		    (st->base.id[0] >= '0' && st->base.id[0] <= '9');

	snprintf(name, len, "%s%.*s%s-%d", alnum ? "" : "skyfs", (int)(pool < 33 ? pool : 33),
		 st->base.id, st->base.id + pool, rank);
}

static int ct_provision(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct ct_state *st = state;
	double deadline = sky_mono() + (double)sky_cloud_boot_s(&st->base);
	char dir[4200], comment[200], *key = NULL;
	struct ct_node *cn;
	int rc;

	if (rank < 0 || rank >= st->base.n_nodes)
		return -EINVAL;
	cn = &st->nodes[rank];
	/* short: the public line must fit host_pub[128] (and the journal's)
	 * whatever the pool's name */
	snprintf(comment, sizeof(comment), "skyfs-%s-%d", sky_mount_id(), rank);
	if ((rc = sky_cloud_host_key(st->base.dir, rank, comment, &key, cn->host_pub,
				     sizeof(cn->host_pub), err)) ||
	    (rc = node_files(st, rank, key, dir, sizeof(dir), err)))
		goto out;
	pthread_mutex_lock(&st->base.lock);
	container_name(st, rank, cn->base.id, sizeof(cn->base.id));
	pthread_mutex_unlock(&st->base.lock);
	/* journaled before it exists: a crash in podman run leaves a name to
	 * remove, never an unknown container */
	sky_strlcpy(inst->id, cn->base.id, sizeof(inst->id));
	inst->state = SKY_INST_PENDING;
	sky_cloud_launched(&st->base, rank, inst->id, cn->host_pub);
	if ((rc = run_container(st, cn, dir, err)))
		goto out;
	rc = connect_node(st, cn, inst, deadline, err);
out:
	sky_cloud_free_secret(key);
	return rc;
}

/* Whether container name runs: 1, 0 (not there, or stopped), or -errno. */
static int running(const char *name, struct sky_err *err)
{
	const char *args[] = { "inspect", "--format", "{{.State.Running}}", name, NULL };
	struct sky_buf out = { 0 };
	int status = 0, rc = podman(args, QUICK_TIMEOUT_MS, &out, &status);

	if (!rc)
		rc = WIFEXITED(status) && !WEXITSTATUS(status) &&
		     !strcmp(last_line(&out), "true");
	else
		sky_err_set(err, "container: podman inspect: %s", strerror(-rc));
	sky_buf_free(&out);
	return rc;
}

/* A container a crashed daemon recorded: still running and answering with
 * the host key skyfs made for it (kept in its node directory), or not
 * taken back. */
static int ct_adopt(void *state, int rank, struct sky_instance *inst, struct sky_err *err)
{
	struct ct_state *st = state;
	double deadline = sky_mono() + 30;
	struct ct_node *cn;
	int rc;

	if ((rc = sky_cloud_adopt_begin(&st->base, rank, inst, 1, err)))
		return rc;
	cn = &st->nodes[rank];
	sky_strlcpy(cn->host_pub, inst->host_pub, sizeof(cn->host_pub));
	if ((rc = running(inst->id, err)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	return connect_node(st, cn, inst, deadline, err);
}

static int ct_get_instance(void *state, struct sky_instance *inst, struct sky_err *err)
{
	int rc;

	(void)state;
	if (!inst->id[0] || (rc = running(inst->id, err)) == 0) {
		inst->state = SKY_INST_GONE;
		return 0;
	}
	if (rc < 0)
		return rc;
	inst->state = SKY_INST_RUNNING;
	return 0;
}

static int ct_terminate(void *state, struct sky_instance *inst, struct sky_err *err)
{
	struct ct_state *st = state;
	const char *args[] = { "rm", "-f", "-t", "0", inst->id, NULL };
	struct sky_buf out = { 0 };
	int rc = 0;

	sky_cloud_drop_conn(&st->base, inst);
	/* rm -f of a container that is not there succeeds */
	if (inst->id[0])
		rc = podman_ok(args, PODMAN_TIMEOUT_MS, &out, "removing the container", err);
	if (!rc)
		inst->state = SKY_INST_GONE;
	sky_buf_free(&out);
	return rc;
}

/* ---- the orphan sweep ---------------------------------------------------------------- */

static int ct_sweep(const char *mount_id, const char *const *regions, size_t n_regions,
		    sky_owned_fn owned, void *arg, struct sky_err *err)
{
	char filter[64], *line, *save = NULL, hash[9];
	const char *ps[] = { "ps", "-a", "--filter", filter, "--format",
			     "{{.Names}} {{index .Labels \"skyfs.pool\"}}", NULL };
	struct sky_buf out = { 0 }, rm = { 0 };
	int rc, status = 0, count = 0;

	(void)regions;
	(void)n_regions;
	snprintf(filter, sizeof(filter), "label=skyfs.mount=%s", mount_id);
	/* no podman here: nothing of ours to sweep */
	if ((rc = podman(ps, QUICK_TIMEOUT_MS, &out, &status)) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		rc = rc == -ENOENT || (WIFEXITED(status) && WEXITSTATUS(status) == 127) ? 0 :
		     rc ? rc : -EIO;
		if (rc)
			sky_err_set(err, "container: listing containers: %s",
				    out.data ? last_line(&out) : strerror(-rc));
		goto out;
	}
	for (line = out.data ? strtok_r(out.data, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		const char *args[] = { "rm", "-f", "-t", "0", line, NULL };

		if (!sp || strlen(sp + 1) != 8)
			continue;
		*sp = '\0';
		memcpy(hash, sp + 1, 9);
		if (owned(hash, NULL, arg))
			continue;
		log_info("orphan sweep: removing container %s", line);
		if ((rc = podman_ok(args, PODMAN_TIMEOUT_MS, &rm, "removing a container", err)))
			goto out;
		count++;
	}
	rc = count;
out:
	sky_buf_free(&rm);
	sky_buf_free(&out);
	return rc;
}

const struct sky_provider_ops sky_provider_container = {
	.name = "container",
	.live_complete = 1,
	.status = ct_status,
	.offers = ct_offers,
	.prepare = ct_prepare,
	.provision = ct_provision,
	.get_instance = ct_get_instance,
	.terminate = ct_terminate,
	.teardown = ct_teardown,
	.adopt = ct_adopt,
	.sweep = ct_sweep,
};
