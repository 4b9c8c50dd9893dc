/* The Vast.ai REST API (see vastai_api.h): the client and its one call,
 * Vast's error table, the bodies skyfs sends and the parsers of what it
 * reads. Only the client touches the network or the environment. */
#define LOG_MODULE "vastai"
#include "providers/vastai_api.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "catalog/select.h"
#include "providers/cloud.h"
#include "providers/json_api.h"

#define KEY_FILE_MAX 4096
/* Vast answers 429 for calls closer together than an endpoint's minimum
 * interval, with no Retry-After; its CLI backs off from 0.3 s. */
#define VASTAI_RETRY ((struct sky_retry){ 8, 300, 5000 })
#define RAM_SLACK 0.15               /* gpu_ram reads below the nominal size */

static struct sky_cloud_health health = SKY_CLOUD_HEALTH_INIT;

/* ---- the client ---------------------------------------------------------------------- */

int vastai_load_key(char **key, char *source, size_t srclen, char *msg, size_t msglen)
{
	const char *env = getenv("VAST_API_KEY"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char path[4096], *text = NULL, *start, *end;
	size_t len = 0;
	int rc;

	*key = NULL;
	if (env && *env) {
		text = strdup(env);
		sky_strlcpy(source, "environment", srclen);
	} else {
		if (xdg && *xdg) {
			snprintf(path, sizeof(path), "%s/vastai/vast_api_key", xdg);
			sky_strlcpy(source, path, srclen);
		} else if (home && *home) {
			snprintf(path, sizeof(path), "%s/.config/vastai/vast_api_key", home);
			sky_strlcpy(source, "~/.config/vastai/vast_api_key", srclen);
		} else {
			snprintf(msg, msglen, "no API key: VAST_API_KEY is not set and neither is HOME");
			return -ENOENT;
		}
		rc = sky_read_file(path, &text, &len, KEY_FILE_MAX);
		if (rc == -ENOENT) {
			snprintf(msg, msglen, "no API key: set VAST_API_KEY or write the key to %s",
				 source);
			return -ENOENT;
		}
		if (rc) {
			snprintf(msg, msglen, "cannot read %s: %s", source, strerror(-rc));
			return -ENOENT;
		}
	}
	if (!text)
		return -ENOMEM;
	for (start = text; isspace((unsigned char)*start); start++)
		;
	for (end = start + strlen(start); end > start && isspace((unsigned char)end[-1]); end--)
		;
	*end = '\0';
	if (!*start) {
		snprintf(msg, msglen, "the API key in %s is empty", source);
		sky_cloud_free_secret(text);
		return -ENOENT;
	}
	memmove(text, start, (size_t)(end - start) + 1);
	*key = text;
	return 0;
}

int vastai_client_init(struct vastai_client *c, struct sky_err *err)
{
	const char *url = getenv("SKYFS_VASTAI_URL");
	char msg[512] = "";
	size_t n;
	int rc;

	memset(c, 0, sizeof(*c));
	sky_strlcpy(c->base, url && *url ? url : VASTAI_DEFAULT_URL, sizeof(c->base));
	for (n = strlen(c->base); n > 0 && c->base[n - 1] == '/'; n--)
		c->base[n - 1] = '\0';
	if ((rc = vastai_load_key(&c->key, c->source, sizeof(c->source), msg, sizeof(msg)))) {
		sky_err_set(err, "vastai: %s", msg[0] ? msg : strerror(-rc));
		return rc == -ENOENT ? -EACCES : rc;
	}
	if (!(c->http = sky_http_new())) {
		vastai_client_fini(c);
		sky_err_set(err, "vastai: out of memory");
		return -ENOMEM;
	}
	return 0;
}

void vastai_client_fini(struct vastai_client *c)
{
	sky_cloud_free_secret(c->key);
	c->key = NULL;
	sky_http_free(c->http);
	c->http = NULL;
}

int vastai_call(struct vastai_client *c, const char *method, const char *path, json_t *body,
		json_t **out, struct sky_err *err, const char *what, struct sky_api_error *eout)
{
	struct sky_api_req req = { 0 };
	struct sky_api_error e;
	char url[1024];
	int rc;

	*out = NULL;
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	req.method = method;
	req.url = url;
	req.bearer = c->key;
	req.body = body;
	req.classify = vastai_classify;
	req.retry = VASTAI_RETRY;
	rc = sky_api_json(c->http, &req, out, &e);
	sky_cloud_health_note(&health, rc, &e, c->base);
	if (rc && err) {
		if (e.kind == SKY_API_AUTH)
			sky_err_set(err, "vastai: the API refused the key (from %s), check it: %s: "
				    "%s%s%s", c->source, what, e.code, e.code[0] ? ": " : "",
				    e.message);
		else
			sky_err_set(err, "vastai: %s: %s%s%s%s", what, e.code, e.code[0] ? ": " : "",
				    e.message, e.attempts > 1 ? " (after retries)" : "");
	}
	if (eout)
		*eout = e;
	return rc;
}

void vastai_render_health(struct sky_buf *out, int configured)
{
	sky_cloud_health_render(&health, out, configured);
}

enum sky_api_kind vastai_classify(long status, json_t *body, const char *raw,
				  struct sky_api_error *e)
{
	const char *code = "", *msg = "";
	int refused = 0;

	(void)raw;   /* plain text answers (429) become "HTTP 429: ..." in json_api.c */
	if (json_is_object(body)) {
		code = sky_json_str(body, "error");
		msg = sky_json_str(body, "msg");
		if (!*msg)
			msg = sky_json_str(body, "message");
		refused = json_is_false(json_object_get(body, "success"));
	}
	if (status >= 200 && status < 300 && !refused)
		return SKY_API_OK;
	snprintf(e->code, sizeof(e->code), "%s", code);
	snprintf(e->message, sizeof(e->message), "%s", msg);
	if (!strcmp(code, "no_such_ask") || status == 410)
		return SKY_API_CAPACITY;
	if (!strcmp(code, "invalid_price"))
		return SKY_API_PRICE;
	if (status >= 200 && status < 300)
		return SKY_API_CLIENT;
	return sky_api_classify_status(status);
}

/* ---- searching asks ------------------------------------------------------------------ */

/* A name Vast could report: '-' and '_' as blanks; none that carries a
 * memory size ("A100-80GB", "H100 80GB HBM3"): Vast's gpu_name never does. */
static void add_name(struct vastai_query *q, const char *name)
{
	char v[48];
	size_t i;
	int j;

	if (q->n_names >= VASTAI_MAX_NAMES || sky_strlcpy(v, name, sizeof(v)) >= sizeof(v))
		return;
	for (i = 0; v[i]; i++) {
		if (v[i] == '-' || v[i] == '_')
			v[i] = ' ';
		if (isdigit((unsigned char)v[i]) && !strncasecmp(v + i + 1, "GB", 2))
			return;
	}
	for (j = 0; j < q->n_names; j++)
		if (!strcasecmp(q->names[j], v))
			return;
	memcpy(q->names[q->n_names++], v, sizeof(v));
}

int vastai_gpu_names(const char *request, struct vastai_query *q)
{
	const struct sky_accel *rows = NULL;
	size_t n = 0, i, k;
	int lo = 0, hi = 0, j, any = 0;

	q->n_names = 0;
	rows = sky_catalog_accels(&n);
	for (i = 0; i < n; i++) {
		if (!sky_accel_accepts(request, rows[i].name))
			continue;
		any = 1;
		if (!lo || rows[i].memory_gb < lo)
			lo = rows[i].memory_gb;
		if (rows[i].memory_gb > hi)
			hi = rows[i].memory_gb;
		for (k = 0; k < n; k++) {
			if (k != i && (strcmp(rows[k].family, rows[i].family) ||
				       rows[k].memory_gb == rows[i].memory_gb))
				continue;
			add_name(q, rows[k].name);
			for (j = 0; j < rows[k].n_aliases; j++)
				add_name(q, rows[k].aliases[j]);
		}
	}
	if (!any)
		return -ENOENT;
	q->gpu_ram_min_mb = (int)floor(lo * 1024 * (1 - RAM_SLACK));
	q->gpu_ram_max_mb = (int)ceil(hi * 1024 * (1 + RAM_SLACK));
	return 0;
}

int vastai_request_query(const struct sky_request *r, enum sky_market m, int limit,
			 struct vastai_query *q)
{
	memset(q, 0, sizeof(*q));
	q->market = m;
	q->limit = limit;
	if (!r)
		return 0;
	/* Vast rents GPU machines: nothing for a request without one */
	if (!r->accelerator[0] || vastai_gpu_names(r->accelerator, q) || !q->n_names)
		return -ENOENT;
	q->num_gpus = r->accelerator_count;
	q->vcpus = r->vcpus;
	q->memory_gb = r->memory_gb;
	q->max_price = r->max_price;
	return 0;
}

/* root.field.op = value ({"dph_total": {"lte": 0.6}}); takes value. */
static int put_op(json_t *root, const char *field, const char *op, json_t *value)
{
	json_t *o = json_object_get(root, field);

	if (!value)
		return -ENOMEM;
	if (!o) {
		if (json_object_set_new(root, field, json_object())) {
			json_decref(value);
			return -ENOMEM;
		}
		o = json_object_get(root, field);
	}
	return json_object_set_new(o, op, value) ? -ENOMEM : 0;
}

json_t *vastai_bundles_query(const struct vastai_query *q)
{
	const char *price = q->market == SKY_MARKET_SPOT ? "min_bid" : "dph_total";
	json_t *root = json_object(), *names = json_array();
	int rc = !root || !names, i;

	rc = rc ? -ENOMEM : put_op(root, "verified", "eq", json_true());
	if (!rc)
		rc = put_op(root, "rentable", "eq", json_true());
	for (i = 0; !rc && i < q->n_names; i++)
		rc = json_array_append_new(names, json_string(q->names[i])) ? -ENOMEM : 0;
	if (!rc && q->n_names) {
		rc = put_op(root, "gpu_name", "in", names);
		names = NULL;
	}
	if (!rc && q->num_gpus > 0)
		rc = put_op(root, "num_gpus", "eq", json_integer(q->num_gpus));
	if (!rc && q->gpu_ram_min_mb > 0)
		rc = put_op(root, "gpu_ram", "gte", json_integer(q->gpu_ram_min_mb));
	if (!rc && q->gpu_ram_max_mb > 0)
		rc = put_op(root, "gpu_ram", "lte", json_integer(q->gpu_ram_max_mb));
	if (!rc && q->vcpus > 0)
		rc = put_op(root, "cpu_cores_effective", "gte", json_integer(q->vcpus));
	if (!rc && q->memory_gb > 0)
		rc = put_op(root, "cpu_ram", "gte", json_integer((json_int_t)q->memory_gb * 1024));
	if (!rc && q->max_price > 0)
		rc = put_op(root, price, "lte", json_real(q->max_price));
	if (!rc)
		rc = json_object_set_new(root, "order", json_pack("[[ss]]", price, "asc")) ||
		     json_object_set_new(root, "type", json_string(q->market == SKY_MARKET_SPOT ?
								  "bid" : "on-demand")) ||
		     json_object_set_new(root, "limit", json_integer(q->limit > 0 ? q->limit : 64));
	json_decref(names);
	if (rc) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int vastai_search(struct vastai_client *c, const struct vastai_query *q,
		  struct vastai_ask **asks, size_t *n, struct sky_err *err)
{
	json_t *body = vastai_bundles_query(q), *doc = NULL;
	int rc;

	*asks = NULL;
	*n = 0;
	if (!body)
		return -ENOMEM;
	rc = vastai_call(c, "POST", "/bundles/", body, &doc, err, "searching offers", NULL);
	if (!rc && (rc = vastai_parse_asks(doc, asks, n)) == -EPROTO)
		sky_err_set(err, "vastai: /bundles/ answered without an offers list");
	json_decref(body);
	json_decref(doc);
	return rc;
}

/* A number Vast may send as an integer, a real or a string ("20000"). */
static double num(json_t *v)
{
	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_string(v))
		return strtod(json_string_value(v), NULL);
	return 0;
}

/* A number as an int, or a long long for ids: 0 (as when absent) for NaN
 * and for what does not fit, since converting such a double is undefined
 * behaviour ("gpu_ram": 1e300 must not be). */
static int to_int(double d)
{
	return d > INT_MIN && d < INT_MAX ? (int)d : 0;
}

static long long to_id(double d)
{
	return d > -1e18 && d < 1e18 ? (long long)d : 0;
}

/* Vast's geolocation as a region word: "Texas, US" is "Texas,US" (a plan
 * or offers row is split on blanks by the tools that read it). */
static void region_of(const char *geo, char *out, size_t len)
{
	size_t k = 0;

	for (; *geo && k + 1 < len; geo++) {
		if (*geo == ' ' && k && out[k - 1] == ',')
			continue;
		out[k++] = *geo == ' ' || *geo == '\t' ? '_' : *geo;
	}
	out[k] = '\0';
}

int vastai_parse_asks(json_t *doc, struct vastai_ask **out, size_t *n)
{
	json_t *list = json_object_get(doc, "offers"), *o;
	struct vastai_ask *asks;
	size_t i, k = 0;
	double cpus;

	*out = NULL;
	*n = 0;
	if (!json_is_array(list))
		return -EPROTO;
	if (!(asks = calloc(json_array_size(list) + 1, sizeof(*asks))))
		return -ENOMEM;
	json_array_foreach(list, i, o) {
		struct vastai_ask *a = &asks[k];

		a->id = to_id(num(json_object_get(o, "id")));
		sky_strlcpy(a->gpu_name, sky_json_str(o, "gpu_name"), sizeof(a->gpu_name));
		a->num_gpus = to_int(num(json_object_get(o, "num_gpus")));
		if (a->id <= 0 || !a->gpu_name[0] || a->num_gpus <= 0)
			continue;
		a->gpu_ram_mb = to_int(num(json_object_get(o, "gpu_ram")));
		a->dph_total = num(json_object_get(o, "dph_total"));
		a->min_bid = num(json_object_get(o, "min_bid"));
		region_of(sky_json_str(o, "geolocation"), a->geolocation, sizeof(a->geolocation));
		cpus = num(json_object_get(o, "cpu_cores_effective"));
		a->vcpus = to_int(cpus > 0 ? cpus : num(json_object_get(o, "cpu_cores")));
		a->memory_gb = to_int(num(json_object_get(o, "cpu_ram")) / 1024);
		k++;
	}
	*out = asks;
	*n = k;
	return 0;
}

void vastai_accel_of(const char *gpu_name, int gpu_ram_mb, char *out, size_t len)
{
	const struct sky_accel *a = sky_accel_find(gpu_name), *rows, *best;
	double gb = gpu_ram_mb / 1024.0;
	size_t n, i;

	if (!a) {
		sky_strlcpy(out, gpu_name, len);
		return;
	}
	best = a;
	if (gpu_ram_mb > 0 && fabs(a->memory_gb - gb) > RAM_SLACK * a->memory_gb) {
		rows = sky_catalog_accels(&n);
		for (i = 0; i < n; i++)
			if (!strcmp(rows[i].family, a->family) &&
			    fabs(rows[i].memory_gb - gb) < fabs(best->memory_gb - gb))
				best = &rows[i];
	}
	sky_strlcpy(out, best->name, len);
}

void vastai_shape_name(const char *gpu_name, char *out, size_t len)
{
	size_t i;

	sky_strlcpy(out, gpu_name, len);
	for (i = 0; out[i]; i++)
		if (out[i] == ' ')
			out[i] = '_';
}

void vastai_shape_gpu(const char *instance_type, char *out, size_t len)
{
	size_t i;

	sky_strlcpy(out, instance_type, len);
	for (i = 0; out[i]; i++)
		if (out[i] == '_')
			out[i] = ' ';
}

int vastai_ask_offer(const struct vastai_ask *a, enum sky_market m, struct sky_offer *o)
{
	memset(o, 0, sizeof(*o));
	if (m == SKY_MARKET_SPOT ? !(a->min_bid > 0) : !(a->dph_total > 0))
		return -ENOENT;
	sky_strlcpy(o->provider, "vastai", sizeof(o->provider));
	vastai_shape_name(a->gpu_name, o->instance_type, sizeof(o->instance_type));
	sky_strlcpy(o->region, a->geolocation, sizeof(o->region));
	vastai_accel_of(a->gpu_name, a->gpu_ram_mb, o->accelerator, sizeof(o->accelerator));
	o->accelerator_count = a->num_gpus;
	o->vcpus = a->vcpus;
	o->memory_gb = a->memory_gb;
	o->market = m;
	o->price_usd_per_hour = m == SKY_MARKET_SPOT ? a->min_bid : a->dph_total;
	o->source = SKY_SOURCE_LIVE;
	return 0;
}

int vastai_ask_fits(const struct vastai_ask *a, const struct sky_offer *o)
{
	char shape[sizeof(o->instance_type)], accel[sizeof(o->accelerator)];
	char region[sizeof(o->region)];

	vastai_shape_name(a->gpu_name, shape, sizeof(shape));
	vastai_accel_of(a->gpu_name, a->gpu_ram_mb, accel, sizeof(accel));
	sky_strlcpy(region, a->geolocation, sizeof(region));
	return !strcmp(shape, o->instance_type) && !strcasecmp(accel, o->accelerator) &&
	       a->num_gpus == o->accelerator_count && !strcmp(region, o->region);
}

/* ---- renting and the instances ------------------------------------------------------- */

int vastai_onstart(char *out, size_t len, const char *ssh_dir, const char *restart)
{
	int n;

	if (strchr(ssh_dir, '\''))
		return -EINVAL;
	/* the image's sshd started with its own keys; only ours may stay */
	n = snprintf(out, len,
		     "umask 077; d='%s'; mkdir -p \"$d\" && "
		     "rm -f \"$d\"/ssh_host_*_key \"$d\"/ssh_host_*_key.pub && "
		     "printf '%%s' \"$SKYFS_HOST_KEY\" | base64 -d > \"$d/ssh_host_ed25519_key\" && "
		     "chmod 600 \"$d/ssh_host_ed25519_key\" && "
		     "{ ssh-keygen -y -f \"$d/ssh_host_ed25519_key\" 2>/dev/null > "
		     "\"$d/ssh_host_ed25519_key.pub\" || true; } && %s",
		     ssh_dir, restart);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

json_t *vastai_rent_body(const struct vastai_rent *r)
{
	json_t *body = json_pack("{s:s, s:i, s:s, s:s, s:{s:s}, s:s}", "image", r->image,
				 "disk", r->disk_gb, "runtype", "ssh", "label", r->label, "env",
				 "SKYFS_HOST_KEY", r->host_key_b64, "onstart", r->onstart);

	if (body && r->price > 0 && json_object_set_new(body, "price", json_real(r->price))) {
		json_decref(body);
		return NULL;
	}
	return body;
}

int vastai_parse_new_contract(json_t *doc, long long *id)
{
	*id = to_id(num(json_object_get(doc, "new_contract")));
	return *id > 0 ? 0 : -EPROTO;
}

static void parse_instance(json_t *o, struct vastai_instance *in)
{
	json_t *ports = json_object_get(json_object_get(o, "ports"), "22/tcp");

	memset(in, 0, sizeof(*in));
	in->id = to_id(num(json_object_get(o, "id")));
	sky_strlcpy(in->actual_status, sky_json_str(o, "actual_status"), sizeof(in->actual_status));
	sky_strlcpy(in->intended_status, sky_json_str(o, "intended_status"),
		    sizeof(in->intended_status));
	sky_strlcpy(in->status_msg, sky_json_str(o, "status_msg"), sizeof(in->status_msg));
	sky_strlcpy(in->label, sky_json_str(o, "label"), sizeof(in->label));
	sky_strlcpy(in->ssh_host, sky_json_str(o, "ssh_host"), sizeof(in->ssh_host));
	in->ssh_port = to_int(num(json_object_get(o, "ssh_port")));
	sky_strlcpy(in->public_ip, sky_json_str(o, "public_ipaddr"), sizeof(in->public_ip));
	in->direct_port = to_int(num(json_object_get(json_array_get(ports, 0),
						     "HostPort")));
}

int vastai_parse_instances(json_t *doc, struct vastai_instance **out, size_t *n)
{
	json_t *v = json_object_get(doc, "instances"), *o;
	struct vastai_instance *list;
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	if (!v)
		return -EPROTO;
	if (!(list = calloc(json_is_array(v) ? json_array_size(v) + 1 : 1, sizeof(*list))))
		return -ENOMEM;
	/* one instance is an object, the listing an array (Vast's quirk) */
	if (json_is_object(v)) {
		parse_instance(v, &list[0]);
		k = list[0].id > 0;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, o)
			if (json_is_object(o)) {
				parse_instance(o, &list[k]);
				k += list[k].id > 0;
			}
	} else if (!json_is_null(v)) {
		free(list);
		return -EPROTO;
	}
	*out = list;
	*n = k;
	return 0;
}

int vastai_ssh_endpoint(const struct vastai_instance *in, char *host, size_t len, int *port)
{
	/* direct first: nothing between us and the node's sshd, whose key we pin */
	if (in->public_ip[0] && in->direct_port > 0) {
		sky_strlcpy(host, in->public_ip, len);
		*port = in->direct_port;
		return 0;
	}
	if (in->ssh_host[0] && in->ssh_port > 0) {
		sky_strlcpy(host, in->ssh_host, len);
		*port = in->ssh_port;
		return 0;
	}
	return -ENOENT;
}

int vastai_failed(const struct vastai_instance *in)
{
	return !strcmp(in->actual_status, "exited") || !strcmp(in->actual_status, "offline") ||
	       !strcmp(in->actual_status, "unknown");
}
