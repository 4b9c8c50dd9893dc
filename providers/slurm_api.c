/* The slurm provider's REST client and wire (see slurm_api.h). */
#define LOG_MODULE "slurm"
#include "providers/slurm_api.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "common/log.h"
#include "common/util.h"
#include "providers/cloud.h"
#include "providers/json_api.h"

#define CALL_TIMEOUT_MS 15000

static struct sky_cloud_health health = SKY_CLOUD_HEALTH_INIT;

/* ---- the client ------------------------------------------------------------------- */

static const char *config_url(void)
{
	const char *url = getenv("SKYFS_SLURM_URL");

	return url && *url ? url : SKY_SLURM_DEFAULT_URL;
}

static void user_name(char *out, size_t len)
{
	const char *env = getenv("SKYFS_SLURM_USER");
	struct passwd pw, *res = NULL;
	char tmp[4096];

	if (env && *env)
		snprintf(out, len, "%s", env);
	else if (!getpwuid_r(geteuid(), &pw, tmp, sizeof(tmp), &res) && res)
		snprintf(out, len, "%s", res->pw_name);
	else
		snprintf(out, len, "%s", getenv("USER") ? getenv("USER") : "root");
}

void slurm_client_fini(struct slurm_client *c)
{
	if (c->token) {
		OPENSSL_cleanse(c->token, strlen(c->token));
		free(c->token);
	}
	sky_http_free(c->http);
	memset(c, 0, sizeof(*c));
}

int slurm_client_init(struct slurm_client *c, struct sky_err *err)
{
	const char *url = config_url(), *token = getenv("SLURM_JWT");
	size_t n;

	memset(c, 0, sizeof(*c));
	snprintf(c->where, sizeof(c->where), "%s", url);
	if (!strncmp(url, "unix:", 5)) {
		if (url[5] != '/' || strlen(url + 5) >= sizeof(c->socket)) {
			sky_err_set(err, "slurm: SKYFS_SLURM_URL: \"%s\" is not unix:/absolute/path "
				    "(at most %zu bytes)", url, sizeof(c->socket) - 1);
			return -EINVAL;
		}
		snprintf(c->socket, sizeof(c->socket), "%s", url + 5);
		snprintf(c->base, sizeof(c->base), "http://localhost/slurm/%s", SKY_SLURM_API);
	} else if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
		if (!token || !*token) {
			sky_err_set(err, "slurm: slurmrestd at %s needs a token: set SLURM_JWT "
				    "(scontrol token)", url);
			return -EACCES;
		}
		if ((size_t)snprintf(c->base, sizeof(c->base), "%s", url) >= sizeof(c->base) - 32) {
			sky_err_set(err, "slurm: SKYFS_SLURM_URL is too long");
			return -EINVAL;
		}
		for (n = strlen(c->base); n && c->base[n - 1] == '/'; n--)
			c->base[n - 1] = '\0';
		snprintf(c->base + n, sizeof(c->base) - n, "/slurm/%s", SKY_SLURM_API);
	} else {
		sky_err_set(err, "slurm: SKYFS_SLURM_URL: \"%s\" is neither unix:/path nor "
			    "http://host:port", url);
		return -EINVAL;
	}
	user_name(c->user, sizeof(c->user));
	if ((!c->socket[0] && !(c->token = strdup(token))) || !(c->http = sky_http_new())) {
		slurm_client_fini(c);
		sky_err_set(err, "slurm: out of memory");
		return -ENOMEM;
	}
	return 0;
}

void slurm_client_describe(struct sky_buf *out)
{
	const char *url = config_url(), *token = getenv("SLURM_JWT");
	char user[64];
	int tcp = strncmp(url, "unix:", 5) != 0;

	user_name(user, sizeof(user));
	sky_buf_printf(out, "configured: %s\n", !tcp ? "yes (slurmrestd socket, this user's "
		       "credentials)" : token && *token ? "yes (token from SLURM_JWT)" :
		       "no (SLURM_JWT is not set)");
	sky_buf_printf(out, "slurmrestd: %s%s\napi: %s\nuser: %s\n", url,
		       getenv("SKYFS_SLURM_URL") ? "" : " (default; SKYFS_SLURM_URL)", SKY_SLURM_API,
		       user);
	sky_cloud_health_render(&health, out, !tcp || (token && *token));
}

/* Slurm answers 500 for nearly everything in 22.05: the errno it carries
 * says what. The numbers are Slurm's (slurm_errno.h). */
enum sky_api_kind slurm_classify(long status, json_t *body, const char *raw,
				 struct sky_api_error *e)
{
	int code = 0;

	(void)raw;
	if (body && !slurm_parse_error(body, e->message, sizeof(e->message), &code)) {
		snprintf(e->code, sizeof(e->code), "%d", code);
		switch (code) {
		case 0:
			break;
		case -1:
			/* slurmctld refused what slurmrestd asked on our behalf:
			 * a token it does not take (22.05 says no more) */
			snprintf(e->message, sizeof(e->message), "slurmctld refused the request "
				 "(a token it does not take?)");
			return SKY_API_AUTH;
		case 2017:  /* ESLURM_INVALID_JOB_ID */
			return SKY_API_NOTFOUND;
		case 2020:  /* ESLURM_ALREADY_DONE */
			return SKY_API_DUPLICATE;
		case 1001: case 2002: case 2010: case 2045: case 2046: case 2066:
			/* access denied, user id missing/invalid, bad account/qos */
			return code == 1001 ? SKY_API_AUTH : SKY_API_CLIENT;
		case 2000: case 2003: case 2011: case 2013: case 2014: case 2015:
		case 2019: case 2050: case 2052: case 2053: case 2072: case 2100:
			/* invalid partition, node count, time limit, gres, ... */
			return SKY_API_CLIENT;
		default:
			if (code >= 2000 && code < 3000)
				return SKY_API_CLIENT;
			break;
		}
		if (status >= 200 && status < 300 && code)
			return SKY_API_CLIENT;
	}
	return sky_api_classify_status(status);
}

/* One call; "slurm: <what>: <why>" into err. */
static int call(struct slurm_client *c, const char *method, const char *path, json_t *body,
		json_t **out, struct sky_err *err, const char *what)
{
	struct sky_api_req r = { 0 };
	struct sky_api_error e;
	struct sky_buf hdr = { 0 };
	const char *headers[2];
	json_t *doc = NULL;
	char url[1024];
	int rc;

	snprintf(url, sizeof(url), "%s/%s", c->base, path);
	r.method = method;
	r.url = url;
	r.body = body;
	r.classify = slurm_classify;
	r.timeout_ms = CALL_TIMEOUT_MS;
	r.unix_socket = c->socket[0] ? c->socket : NULL;
	r.retry = (struct sky_retry){ 3, 200, 2000 };
	r.keep_error_doc = 1;
	if (c->token) {
		if (sky_buf_printf(&hdr, "X-SLURM-USER-NAME: %s", c->user) ||
		    sky_buf_append(&hdr, "", 1) ||
		    sky_buf_printf(&hdr, "X-SLURM-USER-TOKEN: %s", c->token) ||
		    sky_buf_append(&hdr, "", 1)) {
			rc = -ENOMEM;
			sky_err_set(err, "slurm: out of memory");
			goto out;
		}
		headers[0] = hdr.data;
		headers[1] = hdr.data + strlen(hdr.data) + 1;
		r.headers = headers;
		r.n_headers = 2;
	}
	rc = sky_api_json(c->http, &r, &doc, &e);
	sky_cloud_health_note(&health, rc, &e, c->where);
	if (rc && err) {
		if (e.kind == SKY_API_AUTH)
			sky_err_set(err, "slurm: %s: slurmrestd at %s refused user %s%s: %s", what,
				    c->where, c->user, c->token ? " with SLURM_JWT" : "", e.message);
		else if (e.kind == SKY_API_NETWORK)
			sky_err_set(err, "slurm: %s: no answer from slurmrestd at %s: %s", what,
				    c->where, e.message);
		else
			sky_err_set(err, "slurm: %s: %s", what, e.message);
	}
	/* a refusal's document too: it may name a job that was made */
	if (out) {
		*out = doc;
		doc = NULL;
	}
out:
	json_decref(doc);
	if (hdr.data)
		OPENSSL_cleanse(hdr.data, hdr.len);
	sky_buf_free(&hdr);
	return rc;
}

int slurm_ping(struct slurm_client *c, struct sky_err *err)
{
	return call(c, "GET", "ping", NULL, NULL, err, "ping");
}

int slurm_submit(struct slurm_client *c, json_t *body, long *job_id, struct sky_err *err)
{
	json_t *doc = NULL;
	int rc = call(c, "POST", "job/submit", body, &doc, err, "submitting the holding job");
	long made = 0;

	if (!rc && (rc = slurm_parse_submit(doc, job_id)))
		sky_err_set(err, "slurm: job/submit answered without a job id");
	/* refused, and queued all the same ("Requested partition configuration
	 * not available now"): it would wait for nothing */
	if (rc && doc && !slurm_parse_submit(doc, &made)) {
		log_info("job %ld was queued with an error: cancelling it", made);
		slurm_job_cancel(c, made, NULL);
	}
	json_decref(doc);
	return rc;
}

int slurm_job_get(struct slurm_client *c, long id, struct slurm_job *out, struct sky_err *err)
{
	char path[64], what[64];
	json_t *doc = NULL;
	int rc;

	snprintf(path, sizeof(path), "job/%ld", id);
	snprintf(what, sizeof(what), "job %ld", id);
	rc = call(c, "GET", path, NULL, &doc, err, what);
	if (!rc && (rc = slurm_parse_job(doc, out)) && rc != -ENOENT)
		sky_err_set(err, "slurm: job/%ld: unexpected answer", id);
	if (rc == -ENOENT)
		sky_err_set(err, "slurm: job %ld: no such job", id);
	json_decref(doc);
	return rc;
}

int slurm_job_cancel(struct slurm_client *c, long id, struct sky_err *err)
{
	char path[64], what[64];
	int rc;

	/* DELETE's default signal is SIGKILL: the job and all its steps */
	snprintf(path, sizeof(path), "job/%ld", id);
	snprintf(what, sizeof(what), "cancelling job %ld", id);
	rc = call(c, "DELETE", path, NULL, NULL, err, what);
	return rc == -ENOENT || rc == -EEXIST ? 0 : rc;
}

int slurm_jobs_named(struct slurm_client *c, const char *prefix, struct slurm_job **out,
		     size_t *n, struct sky_err *err)
{
	json_t *doc = NULL;
	int rc = call(c, "GET", "jobs", NULL, &doc, err, "listing jobs");

	*out = NULL;
	*n = 0;
	if (!rc && (rc = slurm_parse_jobs(doc, prefix, out, n)))
		sky_err_set(err, "slurm: jobs: unexpected answer");
	json_decref(doc);
	return rc;
}

int slurm_nodes_get(struct slurm_client *c, struct slurm_node **out, size_t *n,
		    struct sky_err *err)
{
	json_t *doc = NULL;
	int rc = call(c, "GET", "nodes", NULL, &doc, err, "listing nodes");

	*out = NULL;
	*n = 0;
	if (!rc && (rc = slurm_parse_nodes(doc, out, n)))
		sky_err_set(err, "slurm: nodes: unexpected answer");
	json_decref(doc);
	return rc;
}

/* ---- the wire ----------------------------------------------------------------------- */

static int set_str(json_t *o, const char *key, const char *v)
{
	return v && *v ? json_object_set_new(o, key, json_string(v)) : 0;
}

static int set_int(json_t *o, const char *key, long long v)
{
	return v > 0 ? json_object_set_new(o, key, json_integer(v)) : 0;
}

json_t *slurm_submit_body(const struct slurm_submit *s)
{
	json_t *doc = json_object(), *job = json_object(), *env = json_object();
	int bad = !doc || !job || !env;

	/* the holding script needs nothing of the daemon's environment, and
	 * must get none of its credentials */
	bad = bad || json_object_set_new(env, "PATH", json_string("/usr/local/bin:/usr/bin:/bin"));
	bad = bad || set_str(doc, "script", s->script);
	bad = bad || set_str(job, "name", s->name);
	bad = bad || set_str(job, "partition", s->partition);
	bad = bad || set_str(job, "account", s->account);
	bad = bad || set_str(job, "qos", s->qos);
	bad = bad || set_int(job, "time_limit", s->time_limit_min);
	bad = bad || json_object_set_new(job, "nodes", json_integer(1));
	bad = bad || json_object_set_new(job, "tasks", json_integer(1));
	bad = bad || set_int(job, "cpus_per_task", s->cpus);
	bad = bad || set_int(job, "memory_per_node", s->memory_mb);
	bad = bad || set_str(job, "gres", s->gres);
	bad = bad || set_str(job, "current_working_directory", s->workdir);
	bad = bad || set_str(job, "standard_output", s->output);
	bad = bad || set_str(job, "standard_error", s->output);
	/* a holding job that comes back after a preemption would hold nodes
	 * nobody uses: skyfs replaces a lost node itself */
	bad = bad || json_object_set_new(job, "requeue", json_false());
	if (!bad && (json_object_set(job, "environment", env) ||
		     json_object_set(doc, "job", job)))
		bad = 1;
	json_decref(env);
	json_decref(job);
	if (bad) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int slurm_parse_submit(json_t *doc, long *job_id)
{
	json_t *v = json_object_get(doc, "job_id");

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return -EPROTO;
	*job_id = (long)json_integer_value(v);
	return 0;
}

static void copy_str(json_t *o, const char *key, char *out, size_t len)
{
	snprintf(out, len, "%s", sky_json_str(o, key));
}

static int job_from(json_t *j, struct slurm_job *out)
{
	json_t *id = json_object_get(j, "job_id");

	memset(out, 0, sizeof(*out));
	if (!json_is_integer(id))
		return -EPROTO;
	out->id = (long)json_integer_value(id);
	copy_str(j, "name", out->name, sizeof(out->name));
	copy_str(j, "job_state", out->state, sizeof(out->state));
	copy_str(j, "state_reason", out->reason, sizeof(out->reason));
	copy_str(j, "nodes", out->nodes, sizeof(out->nodes));
	copy_str(j, "partition", out->partition, sizeof(out->partition));
	return out->state[0] ? 0 : -EPROTO;
}

int slurm_parse_job(json_t *doc, struct slurm_job *out)
{
	json_t *jobs = json_object_get(doc, "jobs");

	if (!json_is_array(jobs))
		return -EPROTO;
	if (!json_array_size(jobs))
		return -ENOENT;
	return job_from(json_array_get(jobs, 0), out);
}

int slurm_parse_jobs(json_t *doc, const char *prefix, struct slurm_job **out, size_t *n)
{
	json_t *jobs = json_object_get(doc, "jobs"), *j;
	struct slurm_job *list;
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_array(jobs))
		return -EPROTO;
	if (!(list = calloc(json_array_size(jobs) + 1, sizeof(*list))))
		return -ENOMEM;
	json_array_foreach(jobs, i, j) {
		if (prefix && strncmp(sky_json_str(j, "name"), prefix, strlen(prefix)))
			continue;
		if (job_from(j, &list[k]))
			continue;
		k++;
	}
	*out = list;
	*n = k;
	return 0;
}

static long long int_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

int slurm_parse_nodes(json_t *doc, struct slurm_node **out, size_t *n)
{
	json_t *nodes = json_object_get(doc, "nodes"), *j, *parts, *p;
	struct slurm_node *list;
	size_t i, k, used;

	*out = NULL;
	*n = 0;
	if (!json_is_array(nodes))
		return -EPROTO;
	if (!(list = calloc(json_array_size(nodes) + 1, sizeof(*list))))
		return -ENOMEM;
	json_array_foreach(nodes, i, j) {
		struct slurm_node *sn = &list[*n];

		copy_str(j, "name", sn->name, sizeof(sn->name));
		copy_str(j, "state", sn->state, sizeof(sn->state));
		copy_str(j, "gres", sn->gres, sizeof(sn->gres));
		copy_str(j, "gres_used", sn->gres_used, sizeof(sn->gres_used));
		sn->cpus = (int)int_of(j, "cpus");
		sn->alloc_cpus = (int)int_of(j, "alloc_cpus");
		sn->memory_mb = int_of(j, "real_memory");
		sn->alloc_memory_mb = int_of(j, "alloc_memory");
		parts = json_object_get(j, "partitions");
		used = 0;
		json_array_foreach(parts, k, p)
			if (json_is_string(p) && used < sizeof(sn->partitions))
				used += (size_t)snprintf(sn->partitions + used,
							 sizeof(sn->partitions) - used, "%s%s",
							 used ? "," : "", json_string_value(p));
		if (sn->name[0])
			(*n)++;
	}
	*out = list;
	return 0;
}

int slurm_parse_error(json_t *doc, char *msg, size_t len, int *code)
{
	json_t *errs = json_object_get(doc, "errors"), *e = NULL, *num;
	const char *text;

	if (json_is_array(errs) && json_array_size(errs))
		e = json_array_get(errs, 0);
	else if (json_object_get(doc, "error_number") || json_object_get(doc, "error_code") ||
		 json_object_get(doc, "errno"))
		e = doc;
	if (!json_is_object(e))
		return -ENOENT;
	num = json_object_get(e, "error_number");
	if (!num)
		num = json_object_get(e, "errno");
	if (!num)
		num = json_object_get(e, "error_code");
	*code = json_is_integer(num) ? (int)json_integer_value(num) : 0;
	text = sky_json_str(e, "description");
	if (!*text)
		text = sky_json_str(e, "error");
	snprintf(msg, len, "%s", *text ? text : "error without a message");
	return 0;
}

int slurm_gres_gpu(const char *gres, char *type, size_t len, int *count)
{
	const char *at = gres;

	/* "gpu:a100:4(S:0-1),shard:8" or "gpu:4" */
	while (at && *at) {
		const char *end = at + strcspn(at, ",");
		char item[128], *f1, *f2;

		snprintf(item, sizeof(item), "%.*s", (int)(end - at), at);
		item[strcspn(item, "(")] = '\0';
		if (!strncmp(item, "gpu:", 4)) {
			f1 = item + 4;
			f2 = strchr(f1, ':');
			if (f2) {
				*f2++ = '\0';
				snprintf(type, len, "%s", f1);
			} else {
				f2 = f1;
				type[0] = '\0';
			}
			*count = atoi(f2);
			return *count > 0 ? 0 : -ENOENT;
		}
		at = *end ? end + 1 : end;
	}
	return -ENOENT;
}

/* Whether a node can take an allocation at all (not down, drained, ...). */
static int usable(const char *state)
{
	static const char *const bad[] = { "down", "drain", "fail", "maint", "future",
					   "reboot", "power" };
	char low[32];
	size_t i;

	for (i = 0; state[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)state[i]);
	low[i] = '\0';
	for (i = 0; i < SKY_ARRAY_SIZE(bad); i++)
		if (strstr(low, bad[i]))
			return 0;
	return 1;
}

/* The offer for (partition, gres type) in list, made on first sight. */
static struct sky_offer *offer_for(struct sky_offer *list, size_t *n, const char *part,
				   const char *type, const char *accel)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp(list[i].region, part) && !strcmp(list[i].instance_type, type))
			return &list[i];
	memset(&list[*n], 0, sizeof(list[*n]));
	snprintf(list[*n].provider, sizeof(list[*n].provider), "slurm");
	snprintf(list[*n].region, sizeof(list[*n].region), "%s", part);
	snprintf(list[*n].instance_type, sizeof(list[*n].instance_type), "%s", type);
	snprintf(list[*n].accelerator, sizeof(list[*n].accelerator), "%s", accel);
	list[*n].shareable = 1;
	list[*n].market = SKY_MARKET_ON_DEMAND;
	list[*n].source = SKY_SOURCE_LIVE;
	list[*n].as_of = (long long)sky_now();
	return &list[(*n)++];
}

static void fold(struct sky_offer *o, const struct slurm_node *sn, int count)
{
	if (count > o->accelerator_count)
		o->accelerator_count = count;
	if (sn->cpus > o->vcpus)
		o->vcpus = sn->cpus;
	if (sn->memory_mb / 1024 > o->memory_gb)
		o->memory_gb = (int)(sn->memory_mb / 1024);
}

int slurm_offers_from_nodes(const struct slurm_node *nodes, size_t n, struct sky_offer **out,
			    size_t *n_out)
{
	struct sky_offer *list, *o;
	size_t i, cap = 0, k = 0;

	*out = NULL;
	*n_out = 0;
	for (i = 0; i < n; i++) {
		const char *c;

		cap += 2;
		for (c = nodes[i].partitions; *c; c++)
			cap += 2 * (*c == ',');
	}
	if (!(list = calloc(cap + 1, sizeof(*list))))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct slurm_node *sn = &nodes[i];
		char parts[256], *part, *save = NULL, type[64], gtype[72], canon[64];
		const struct sky_accel *a;
		int count = 0;

		if (!usable(sn->state) || !sn->partitions[0])
			continue;
		if (!slurm_gres_gpu(sn->gres, type, sizeof(type), &count)) {
			a = type[0] ? sky_accel_find(type) : NULL;
			snprintf(canon, sizeof(canon), "%s", a ? a->name : type[0] ? type : "GPU");
			snprintf(gtype, sizeof(gtype), "gpu%s%s", type[0] ? ":" : "", type);
		}
		snprintf(parts, sizeof(parts), "%s", sn->partitions);
		for (part = strtok_r(parts, ",", &save); part && k + 2 <= cap;
		     part = strtok_r(NULL, ",", &save)) {
			/* every node can run a job without a device */
			fold(offer_for(list, &k, part, "cpu", ""), sn, 0);
			if (count > 0) {
				o = offer_for(list, &k, part, gtype, canon);
				fold(o, sn, count);
			}
		}
	}
	*out = list;
	*n_out = k;
	return 0;
}
