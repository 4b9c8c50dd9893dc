/* The pool's write-ahead journal, STATE/pools/<pool>/journal: one line per
 * record, appended with one write(2) on an O_APPEND descriptor, so that a
 * daemon killed at any instant leaves whole lines and at most one torn
 * last line (ignored when read back).
 *
 * What it is for: a daemon that dies with machines up must not leave them
 * billing. Before the worker asks a provider to create anything it writes
 * the intent (the candidate, the rank) and fsyncs; after, the result (the
 * machine's id, address and pinned host key), fsync'd too. A mount that
 * finds a journal without its "stopped" record knows the pool was live and
 * exactly what it had: it adopts those machines or terminates them.
 * fsync costs a disk flush, so only records that stand for money (an
 * intent, a machine, its release) are synced; job records (dispatch, end)
 * are not: the job's own metadata (.job) is the truth for jobs, and a
 * lost job record is only a shorter timeline. */
#define LOG_MODULE "journal"
#include "scheduler/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "scheduler/internal.h"

int journal_begin(struct sky_pool *p, int nodes)
{
	char path[PATH_MAX];
	int fd, rc;

	if ((rc = store_pool_path(p, "journal", path, sizeof(path))))
		return rc;
	/* the previous incarnation ended (or was recovered): its records go */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		log_warn("pool %s: cannot open its journal: %s", p->name, strerror(errno));
		return rc;
	}
	if (p->journal_fd >= 0)
		close(p->journal_fd);
	p->journal_fd = fd;
	journal_write(p, 1, "begin %d", nodes);
	return 0;
}

void journal_write(struct sky_pool *p, int sync, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n, m;

	if (p->journal_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%.3f ", sky_now());
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(p->journal_fd, line, (size_t)n) != n)
		log_warn("pool %s: journal write failed: %s", p->name, strerror(errno));
	else if (sync && fdatasync(p->journal_fd))
		log_warn("pool %s: journal sync failed: %s", p->name, strerror(errno));
}

/* A field with blanks (RunPod's "NVIDIA GeForce RTX 4090/community") as
 * one word: ' ', '%' and control bytes as %XX. */
static void encode_word(const char *in, char *out, size_t len)
{
	size_t k = 0;

	for (; *in && k + 4 < len; in++) {
		unsigned char c = (unsigned char)*in;

		if (c <= ' ' || c == '%' || c == 0x7f)
			k += (size_t)snprintf(out + k, len - k, "%%%02X", c);
		else
			out[k++] = (char)c;
	}
	out[k] = '\0';
}

static void decode_word(const char *in, char *out, size_t len)
{
	size_t k = 0;
	unsigned v;

	for (; *in && k + 1 < len; in++) {
		if (*in == '%' && sscanf(in + 1, "%2x", &v) == 1 && in[1] && in[2]) {
			out[k++] = (char)v;
			in += 2;
		} else {
			out[k++] = *in;
		}
	}
	out[k] = '\0';
}

void journal_try(struct sky_pool *p, const struct sky_offer *o, int owner)
{
	char type[3 * sizeof(o->instance_type)], region[3 * sizeof(o->region)];

	encode_word(o->instance_type, type, sizeof(type));
	encode_word(o->region[0] ? o->region : "-", region, sizeof(region));
	journal_write(p, 1, "try %s %s %s %s %.6f %d", o->provider, type, region,
		      sky_market_name(o->market), o->price_usd_per_hour, owner);
}

void journal_close(struct sky_pool *p)
{
	if (p->journal_fd >= 0)
		close(p->journal_fd);
	p->journal_fd = -1;
}

static struct journal_node *node_at(struct journal_replay *r, int rank)
{
	return rank >= 0 && rank < r->n_nodes ? &r->nodes[rank] : NULL;
}

/* Applies one whole line (without its "\n"). Unknown records are skipped:
 * a newer daemon's journal still replays the records this one knows. */
static void apply(struct journal_replay *r, char *line)
{
	char *save = NULL, *kind, *a, *b, *c, *t;
	struct journal_node *n;
	double at;

	if (!(t = strtok_r(line, " ", &save)) || !(kind = strtok_r(NULL, " ", &save)))
		return;
	at = atof(t);
	a = strtok_r(NULL, " ", &save);
	if (!strcmp(kind, "begin") && a) {
		free(r->nodes);
		memset(r, 0, sizeof(*r));
		r->n_nodes = atoi(a);
		if (r->n_nodes < 0 || r->n_nodes > 4096)
			r->n_nodes = 0;
		r->nodes = r->n_nodes ? calloc((size_t)r->n_nodes, sizeof(*r->nodes)) : NULL;
		if (!r->nodes)
			r->n_nodes = 0;
		r->live = 1;
	} else if (!strcmp(kind, "resize") && a && r->live) {
		int n = atoi(a);
		struct journal_node *grown;

		/* ranks only ever grow here: a removed rank's machine goes by "term" */
		if (n > r->n_nodes && n <= 4096 &&
		    (grown = realloc(r->nodes, (size_t)n * sizeof(*grown)))) {
			memset(grown + r->n_nodes, 0, (size_t)(n - r->n_nodes) * sizeof(*grown));
			r->nodes = grown;
			r->n_nodes = n;
		}
	} else if (!strcmp(kind, "try") && a) {
		/* try PROVIDER TYPE REGION MARKET PRICE */
		b = strtok_r(NULL, " ", &save);
		c = strtok_r(NULL, " ", &save);
		char *m = strtok_r(NULL, " ", &save), *price = strtok_r(NULL, " ", &save);
		char *owner = strtok_r(NULL, " ", &save);
		if (!b || !c || !m || !price)
			return;
		/* a replacement's other candidate: its machines share the pool's
		 * names and tags, so the main candidate's state finds them */
		if (owner && atoi(owner) > 0 && r->has_cand)
			return;
		sky_strlcpy(r->provider, a, sizeof(r->provider));
		decode_word(b, r->instance_type, sizeof(r->instance_type));
		decode_word(strcmp(c, "-") ? c : "", r->region, sizeof(r->region));
		r->market = !strcmp(m, "spot") ? SKY_MARKET_SPOT : SKY_MARKET_ON_DEMAND;
		r->price = atof(price);
		r->has_cand = 1;
		if (r->nodes)
			memset(r->nodes, 0, (size_t)r->n_nodes * sizeof(*r->nodes));
	} else if (!strcmp(kind, "launch") && a && (n = node_at(r, atoi(a)))) {
		n->launched = 1;
	} else if (!strcmp(kind, "node") && a && (n = node_at(r, atoi(a)))) {
		/* node RANK ID ADDRESS [HOST KEY TYPE AND BASE64] */
		b = strtok_r(NULL, " ", &save);
		c = strtok_r(NULL, " ", &save);
		if (!b || !c)
			return;
		sky_strlcpy(n->id, b, sizeof(n->id));
		sky_strlcpy(n->address, strcmp(c, "-") ? c : "", sizeof(n->address));
		sky_strlcpy(n->host_pub, save && *save ? save : "", sizeof(n->host_pub));
		n->at = at;
	} else if (!strcmp(kind, "term") && a && (n = node_at(r, atoi(a)))) {
		memset(n, 0, sizeof(*n));
	} else if (!strcmp(kind, "release")) {
		r->has_cand = 0;
		if (r->nodes)
			memset(r->nodes, 0, (size_t)r->n_nodes * sizeof(*r->nodes));
	} else if (!strcmp(kind, "ready")) {
		/* "ready [WHEN]": a recovered pool's carries the first one's time */
		if (!r->ready_at)
			r->ready_at = a ? atof(a) : at;
	} else if (!strcmp(kind, "stop")) {
		r->stopping = 1;
		r->removing = a && !strcmp(a, "rmdir");
	} else if (!strcmp(kind, "stopped")) {
		r->live = 0;
		r->has_cand = 0;
	}
}

int journal_replay(const char *pool_dir, struct journal_replay *r)
{
	char path[PATH_MAX], *text = NULL, *line, *nl;
	size_t len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((size_t)snprintf(path, sizeof(path), "%s/journal", pool_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	if ((rc = sky_read_file(path, &text, &len, 64 << 20)))
		return rc;
	/* whole lines only: a torn last line was never acknowledged */
	for (line = text; (nl = memchr(line, '\n', len - (size_t)(line - text))); line = nl + 1) {
		*nl = '\0';
		apply(r, line);
	}
	free(text);
	return 0;
}

int journal_dispatches(const char *pool_dir, void (*fn)(const char *job, int attempt, void *arg),
		       void *arg)
{
	char path[PATH_MAX], *text = NULL, *line, *nl, *sp;
	size_t len = 0;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/journal", pool_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	if ((rc = sky_read_file(path, &text, &len, 64 << 20)))
		return rc;
	for (line = text; (nl = memchr(line, '\n', len - (size_t)(line - text))); line = nl + 1) {
		char *kind, *attempt, *node;

		*nl = '\0';
		/* "<time> dispatch <job> <node> <attempt>": the job's name may hold
		 * blanks, the node's and the number do not */
		if (!(kind = strchr(line, ' ')) || strncmp(kind + 1, "dispatch ", 9) ||
		    !(attempt = strrchr(kind + 10, ' ')))
			continue;
		*attempt++ = '\0';
		if (!(node = strrchr(kind + 10, ' ')))
			continue;
		*node = '\0';
		if ((sp = kind + 10) && *sp)
			fn(sp, atoi(attempt), arg);
	}
	free(text);
	return 0;
}

int journal_machines(const struct journal_replay *r)
{
	int i, k = 0;

	for (i = 0; r->has_cand && i < r->n_nodes; i++)
		k += r->nodes[i].id[0] || r->nodes[i].launched;
	return k;
}

int journal_ranks(const struct journal_replay *r)
{
	int i, k = 0;

	for (i = 0; r->has_cand && i < r->n_nodes; i++)
		if (r->nodes[i].id[0] || r->nodes[i].launched)
			k = i + 1;
	return k;
}

void journal_replay_free(struct journal_replay *r)
{
	free(r->nodes);
	memset(r, 0, sizeof(*r));
}
