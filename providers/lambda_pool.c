/* The lambda provider's plumbing (see lambda_internal.h): the API client
 * and the key's health for status, the pool's instance listing (one
 * GET /instances for every waiting thread), and the batches: the nodes of a
 * pool waiting when a launch (or terminate) goes out share one call, and
 * launches take turns through one process-wide limiter. */
#define LOG_MODULE "lambda"
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/json_api.h"
#include "providers/lambda_internal.h"

#define GATHER_S 1.0         /* how long a batch waits for the pool's other nodes */
#define MAX_BATCH 64         /* the scheduler's threads per pool: at most this many wait */

static struct sky_cloud_health health = SKY_CLOUD_HEALTH_INIT;
static struct lambda_limiter launches = LAMBDA_LIMITER_INIT;

/* ---- the API client ----------------------------------------------------------------- */

void lambda_client_fini(struct lambda_client *c)
{
	if (c->key) {
		OPENSSL_cleanse(c->key, strlen(c->key));
		free(c->key);
	}
	sky_http_free(c->http);
	memset(c, 0, sizeof(*c));
}

/* Without a key every candidate of the provider would fail alike: -EACCES. */
int lambda_client_init(struct lambda_client *c, struct sky_err *err)
{
	const char *key = getenv("LAMBDA_API_KEY"), *url = getenv("SKYFS_LAMBDA_URL");
	size_t n;

	memset(c, 0, sizeof(*c));
	if (!key || !*key) {
		sky_err_set(err, "lambda: LAMBDA_API_KEY is not set");
		return -EACCES;
	}
	sky_strlcpy(c->base, url && *url ? url : LAMBDA_DEFAULT_URL, sizeof(c->base));
	for (n = strlen(c->base); n && c->base[n - 1] == '/'; n--)
		c->base[n - 1] = '\0';
	if (!(c->key = strdup(key)) || !(c->http = sky_http_new())) {
		lambda_client_fini(c);
		sky_err_set(err, "lambda: out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* One call; a failure as "lambda: <what>: <code>: <message>" in err (may be
 * NULL) and the whole error in *eout (may be NULL). The answer in *out
 * (may be NULL: dropped). Notes refused keys for providers/lambda/status. */
int lambda_call(struct lambda_client *c, const char *method, const char *path, json_t *body,
		json_t **out, struct sky_err *err, const char *what, struct sky_api_error *eout)
{
	struct sky_api_req r = { 0 };
	struct sky_api_error e;
	json_t *doc = NULL;
	char url[1024];
	int rc;

	snprintf(url, sizeof(url), "%s%s", c->base, path);
	r.method = method;
	r.url = url;
	r.bearer = c->key;
	r.body = body;
	r.classify = lambda_classify;
	rc = sky_api_json(c->http, &r, &doc, &e);
	sky_cloud_health_note(&health, rc, &e, c->base);
	if (rc && err) {
		if (e.kind == SKY_API_AUTH)
			sky_err_set(err, "lambda: the API key was refused, check it "
				    "(LAMBDA_API_KEY from environment): %s: %s%s%s", what,
				    e.code, e.code[0] ? ": " : "", e.message);
		else
			sky_err_set(err, "lambda: %s: %s%s%s%s", what, e.code,
				    e.code[0] ? ": " : "", e.message,
				    e.attempts > 1 ? " (after retries)" : "");
	}
	if (eout)
		*eout = e;
	if (out)
		*out = doc;
	else
		json_decref(doc);
	return rc;
}

void lambda_render_health(struct sky_buf *out, int configured)
{
	sky_cloud_health_render(&health, out, configured);
}

/* ---- the pool's instances, listed together ------------------------------------------ */

/* GET /instances, keeping those named as the pool's: one thread asks,
 * the others wait for its answer (sky_cloud_poll). Lock not held. */
static int fetch(void *arg, struct sky_err *err)
{
	struct lambda_state *st = arg;
	struct lambda_instance *list = NULL;
	json_t *doc = NULL;
	size_t n = 0;
	int rc;

	rc = lambda_call(&st->api, "GET", "/instances", NULL, &doc, err, "listing the instances",
			 NULL);
	if (!rc && (rc = lambda_parse_instances(doc, st->prefix, &list, &n)))
		sky_err_set(err, "lambda: GET /instances: unexpected answer (%s)", strerror(-rc));
	json_decref(doc);
	pthread_mutex_lock(&st->base.lock);
	if (!rc) {
		free(st->seen);
		st->seen = list;
		st->n_seen = n;
		list = NULL;
	}
	pthread_mutex_unlock(&st->base.lock);
	free(list);
	return rc;
}

int lambda_refresh(struct lambda_state *st, double max_age, struct sky_err *err)
{
	return sky_cloud_poll(&st->base.poll, max_age, fetch, st, err);
}

/* The listed view of instance id: 0 and *out, -ENOENT when not listed. */
int lambda_lookup(struct lambda_state *st, const char *id, struct lambda_instance *out)
{
	size_t i;
	int rc = -ENOENT;

	pthread_mutex_lock(&st->base.lock);
	for (i = 0; id[0] && i < st->n_seen; i++)
		if (!strcmp(st->seen[i].id, id)) {
			*out = st->seen[i];
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&st->base.lock);
	return rc;
}

/* POST /instance-operations/terminate for ids ("" entries skipped). An
 * unknown id fails the whole call: then one by one, an unknown one being
 * nothing to stop. */
int lambda_terminate_ids(struct lambda_state *st, char (*ids)[64], size_t n,
			 struct sky_err *err)
{
	json_t *body = lambda_terminate_body(ids, n);
	size_t i;
	int rc, r;

	rc = body ? lambda_call(&st->api, "POST", "/instance-operations/terminate", body, NULL,
				err, "terminating", NULL) : -ENOMEM;
	json_decref(body);
	if (rc == -ENOENT && n > 1)
		for (rc = 0, i = 0; i < n; i++)
			if (ids[i][0] && (r = lambda_terminate_ids(st, ids + i, 1, err)) && !rc)
				rc = r;
	return rc == -ENOENT ? 0 : rc;
}

/* ---- batches: one call for the nodes waiting ---------------------------------------- */

/* After a launch that was retried (its answer may have been lost while
 * Lambda made the instances): instances carrying the launch's name that
 * its answer did not give are strays, terminated at once. */
static void drop_strays(struct lambda_state *st, const char *name, char (*ids)[64], size_t n)
{
	char (*strays)[64] = NULL;
	struct sky_err err = { { 0 } };
	size_t i, j, k = 0;

	if (lambda_refresh(st, 0, &err))
		return;
	pthread_mutex_lock(&st->base.lock);
	strays = calloc(st->n_seen + 1, sizeof(*strays));
	for (i = 0; strays && i < st->n_seen; i++) {
		for (j = 0; j < n && strcmp(ids[j], st->seen[i].id); j++)
			;
		if (j == n && !strcmp(st->seen[i].name, name) &&
		    lambda_instance_state(st->seen[i].status) < SKY_INST_STOPPING)
			sky_strlcpy(strays[k++], st->seen[i].id, sizeof(strays[0]));
	}
	pthread_mutex_unlock(&st->base.lock);
	if (k) {
		log_warn("%s: %zu instance(s) of a retried launch not in its answer: terminating",
			 name, k);
		lambda_terminate_ids(st, strays, k, &err);
	}
	free(strays);
}

static void send_launch(struct lambda_state *st, struct lambda_node **list, int k)
{
	char (*ids)[64] = calloc((size_t)k, sizeof(*ids)), name[128];
	struct sky_err err = { { 0 } };
	struct sky_api_error e = { 0 };
	json_t *body = NULL, *doc = NULL;
	int ranks[MAX_BATCH], i, rc;
	size_t got = 0;

	for (i = 0; i < k; i++)
		ranks[i] = list[i]->base.rank;
	lambda_batch_name(st->prefix, ranks, k, name, sizeof(name));
	body = lambda_launch_body(st->base.offer->region, st->base.offer->instance_type,
				  st->prefix, k, name);
	if (!body || !ids) {
		sky_err_set(&err, "lambda: out of memory");
		rc = -ENOMEM;
	} else {
		rc = lambda_call(&st->api, "POST", "/instance-operations/launch", body, &doc,
				 &err, "launching", &e);
	}
	if (!rc && (rc = lambda_parse_launch(doc, ids, (size_t)k, &got)))
		sky_err_set(&err, "lambda: the launch answered without instance ids");
	if (!rc) {
		log_info("%s: launched %zu of %d %s in %s", name, got, k,
			 st->base.offer->instance_type,
			 st->base.offer->region);
		if (e.attempts > 1)
			drop_strays(st, name, ids, got);
	}
	pthread_mutex_lock(&st->base.lock);
	for (i = 0; i < k; i++) {
		struct lambda_node *ln = list[i];

		ln->launched = 1;
		ln->rc = rc;
		if (!rc && (size_t)i < got) {
			sky_strlcpy(ln->base.id, ids[i], sizeof(ln->base.id));
		} else if (!rc) {
			ln->rc = -EAGAIN;
			snprintf(ln->err, sizeof(ln->err),
				 "lambda: a launch of %d instances gave %zu", k, got);
		} else {
			sky_strlcpy(ln->err, err.msg, sizeof(ln->err));
		}
	}
	pthread_mutex_unlock(&st->base.lock);
	json_decref(body);
	json_decref(doc);
	free(ids);
}

static void send_terminate(struct lambda_state *st, struct lambda_node **list, int k)
{
	char (*ids)[64] = calloc((size_t)k, sizeof(*ids));
	struct sky_err err = { { 0 } };
	int i, rc;

	pthread_mutex_lock(&st->base.lock);
	for (i = 0; ids && i < k; i++)
		sky_strlcpy(ids[i], list[i]->base.id, sizeof(ids[0]));
	pthread_mutex_unlock(&st->base.lock);
	rc = ids ? lambda_terminate_ids(st, ids, (size_t)k, &err) : -ENOMEM;
	pthread_mutex_lock(&st->base.lock);
	for (i = 0; i < k; i++) {
		list[i]->rc = rc;
		list[i]->terminated = !rc;
		sky_strlcpy(list[i]->err, rc == -ENOMEM ? "lambda: out of memory" : err.msg,
			    sizeof(list[i]->err));
	}
	pthread_mutex_unlock(&st->base.lock);
	free(ids);
}

/* Lock held. How many nodes a batch of op is for: a launch, every node no
 * launch answered for yet; a terminate, every launched one still there. */
static int batch_want(const struct lambda_state *st, int op)
{
	int i, n = 0;

	for (i = 0; i < st->base.n_nodes; i++)
		n += op == OP_LAUNCH ? !st->nodes[i].launched :
		     st->nodes[i].base.id[0] && !st->nodes[i].terminated;
	return n;
}

static int batch_joined(const struct lambda_state *st, int op)
{
	int i, n = 0;

	for (i = 0; i < st->base.n_nodes; i++)
		n += st->nodes[i].waiting == op;
	return n;
}

/* Lock held. Waits until every node the batch is for has joined it, or
 * GATHER_S: a node whose thread has not started (the scheduler runs at most
 * MAX_BATCH at once) or never will goes in a later batch. */
static void gather(struct lambda_state *st, int op)
{
	struct timespec ts;
	int joined;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)GATHER_S;
	ts.tv_nsec += (long)((GATHER_S - (double)(time_t)GATHER_S) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while ((joined = batch_joined(st, op)) < batch_want(st, op) && joined < MAX_BATCH)
		if (pthread_cond_timedwait(&st->cond, &st->base.lock, &ts) == ETIMEDOUT)
			break;
}

/* Joins node ln to the next batch of op and returns its result. The first
 * thread to find no batch under way leads one: gathers the others, waits
 * for the launch limiter's turn (launches; others join meanwhile), and
 * sends one call for every node waiting then. */
int lambda_batch(struct lambda_state *st, struct lambda_node *ln, int op, struct sky_err *err)
{
	struct lambda_node *list[MAX_BATCH];
	int i, k, rc;

	pthread_mutex_lock(&st->base.lock);
	ln->waiting = op;
	ln->done = 0;
	pthread_cond_broadcast(&st->cond);
	while (!ln->done) {
		if (st->leading[op]) {
			pthread_cond_wait(&st->cond, &st->base.lock);
			continue;
		}
		st->leading[op] = 1;
		gather(st, op);
		if (op == OP_LAUNCH) {
			pthread_mutex_unlock(&st->base.lock);
			lambda_limiter_acquire(&launches);
			pthread_mutex_lock(&st->base.lock);
		}
		for (i = 0, k = 0; i < st->base.n_nodes && k < MAX_BATCH; i++)
			if (st->nodes[i].waiting == op) {
				st->nodes[i].waiting = -1;
				list[k++] = &st->nodes[i];
			}
		pthread_mutex_unlock(&st->base.lock);
		if (op == OP_LAUNCH) {
			send_launch(st, list, k);
			lambda_limiter_release(&launches, lambda_launch_interval());
		} else {
			send_terminate(st, list, k);
		}
		pthread_mutex_lock(&st->base.lock);
		for (i = 0; i < k; i++)
			list[i]->done = 1;
		st->leading[op] = 0;
		pthread_cond_broadcast(&st->cond);
	}
	rc = ln->rc;
	if (rc)
		sky_err_set(err, "%s", ln->err);
	pthread_mutex_unlock(&st->base.lock);
	return rc;
}
