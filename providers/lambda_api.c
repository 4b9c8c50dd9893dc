/* Lambda Cloud's REST API in plain functions (see lambda_api.h): the error
 * table, request bodies, answer parsers, names, and the launch limiter. */
#include "providers/lambda_api.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "common/util.h"
#include "providers/json_api.h"

/* ---- errors -------------------------------------------------------------------- */

/* Lambda's codes (provider-apis.md section 4); anything else goes by status. */
static const struct {
	const char *code;
	enum sky_api_kind kind;
} codes[] = {
	{ "global/invalid-api-key", SKY_API_AUTH },
	{ "global/account-inactive", SKY_API_AUTH },
	{ "instance-operations/launch/insufficient-capacity", SKY_API_CAPACITY },
	{ "global/quota-exceeded", SKY_API_QUOTA },
	{ "global/object-does-not-exist", SKY_API_NOTFOUND },
	{ "global/invalid-parameters", SKY_API_CLIENT },
};

/* src into dst on one line: messages end up in one-line status files */
static void one_line(char *dst, size_t len, const char *src)
{
	size_t i, k = strlen(dst);

	for (i = 0; src[i] && k + 1 < len; i++)
		dst[k++] = src[i] == '\n' || src[i] == '\r' || src[i] == '\t' ? ' ' : src[i];
	dst[k] = '\0';
}

enum sky_api_kind lambda_classify(long status, json_t *body, const char *raw,
				  struct sky_api_error *e)
{
	json_t *err = json_object_get(body, "error");
	const char *code = sky_json_str(err, "code");
	const char *suggestion = sky_json_str(err, "suggestion");
	size_t i;

	(void)raw;
	if (status >= 200 && status < 300)
		return SKY_API_OK;
	e->code[0] = e->message[0] = '\0';
	one_line(e->code, sizeof(e->code), code);
	one_line(e->message, sizeof(e->message), sky_json_str(err, "message"));
	if (suggestion[0]) {
		one_line(e->message, sizeof(e->message), e->message[0] ? " (" : "(");
		one_line(e->message, sizeof(e->message), suggestion);
		one_line(e->message, sizeof(e->message), ")");
	}
	/* whatever the body says, 429 means "later" */
	if (status == 429)
		return SKY_API_THROTTLE;
	for (i = 0; code[0] && i < SKY_ARRAY_SIZE(codes); i++)
		if (!strcmp(codes[i].code, code))
			return codes[i].kind;
	return sky_api_classify_status(status);
}

/* ---- offers -------------------------------------------------------------------- */

/* "H100 (80 GB PCIe)" -> base "H100", memory "80", form "PCIe" */
static void split_gpu(const char *desc, char *base, size_t blen, char *mem, size_t mlen,
		      char *form, size_t flen)
{
	const char *open = strchr(desc, '(');
	const char *p;
	size_t n;

	mem[0] = form[0] = '\0';
	n = open ? (size_t)(open - desc) : strlen(desc);
	while (n && desc[n - 1] == ' ')
		n--;
	snprintf(base, blen, "%.*s", (int)n, desc);
	if (!open)
		return;
	for (p = open + 1; *p == ' '; p++)
		;
	for (n = 0; isdigit((unsigned char)p[n]); n++)
		;
	if (!n)
		return;
	snprintf(mem, mlen, "%.*s", (int)n, p);
	for (p += n; *p == ' '; p++)
		;
	if (!strncasecmp(p, "GB", 2))
		p += 2;
	while (*p == ' ')
		p++;
	for (n = 0; p[n] && p[n] != ')' && p[n] != ' '; n++)
		;
	snprintf(form, flen, "%.*s", (int)n, p);
}

void lambda_accelerator(const char *gpu_description, const char *description, char *out,
			size_t len)
{
	char base[64], mem[16], form[32], name[160];
	const struct sky_accel *a = NULL;
	const char *d = gpu_description;

	out[0] = '\0';
	if (!d || !d[0]) {
		/* "1x A10 (24 GB PCIe)": the device after the count */
		d = description ? description : "";
		while (isdigit((unsigned char)*d))
			d++;
		if (*d == 'x' && d != description)
			d++;
		while (*d == ' ')
			d++;
	}
	split_gpu(d, base, sizeof(base), mem, sizeof(mem), form, sizeof(form));
	if (!strncasecmp(base, "Tesla ", 6))
		memmove(base, base + 6, strlen(base + 6) + 1);
	if (!base[0])
		return;
	if (mem[0] && form[0]) {
		snprintf(name, sizeof(name), "%s-%s-%sGB", base, form, mem);
		a = sky_accel_find(name);
	}
	if (!a && mem[0]) {
		snprintf(name, sizeof(name), "%s-%sGB", base, mem);
		a = sky_accel_find(name);
	}
	if (!a)
		a = sky_accel_find(base);
	snprintf(out, len, "%s", a ? a->name : base);
}

/* 0 when absent, and for what no int holds ("gpus": 1e300): converting
 * such a number is undefined behaviour. */
static int json_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	double d = json_is_number(v) ? json_number_value(v) : 0;

	return d > INT_MIN && d < INT_MAX ? (int)d : 0;
}

int lambda_parse_instance_types(json_t *doc, struct sky_offer **out, size_t *n)
{
	json_t *data = json_object_get(doc, "data"), *entry, *regions, *region;
	struct sky_offer *list = NULL, *grown;
	size_t k = 0, cap = 0, i;
	const char *key;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_object(data))
		return -EPROTO;
	json_object_foreach(data, key, entry) {
		json_t *t = json_object_get(entry, "instance_type");
		json_t *specs = json_object_get(t, "specs");
		json_t *cents = json_object_get(t, "price_cents_per_hour");
		const char *name = sky_json_str(t, "name");

		regions = json_object_get(entry, "regions_with_capacity_available");
		if (!json_is_object(t) || !json_is_number(cents))
			continue;
		json_array_foreach(regions, i, region) {
			struct sky_offer *o;

			if (!sky_json_str(region, "name")[0])
				continue;
			if (k == cap) {
				cap = cap ? 2 * cap : 32;
				if (!(grown = realloc(list, cap * sizeof(*list)))) {
					rc = -ENOMEM;
					goto out;
				}
				list = grown;
			}
			o = &list[k++];
			memset(o, 0, sizeof(*o));
			sky_strlcpy(o->provider, "lambda", sizeof(o->provider));
			sky_strlcpy(o->instance_type, name[0] ? name : key,
				    sizeof(o->instance_type));
			sky_strlcpy(o->region, sky_json_str(region, "name"), sizeof(o->region));
			o->accelerator_count = json_int(specs, "gpus");
			if (o->accelerator_count > 0)
				lambda_accelerator(sky_json_str(t, "gpu_description"),
						   sky_json_str(t, "description"), o->accelerator,
						   sizeof(o->accelerator));
			else
				o->accelerator_count = 0;
			o->vcpus = json_int(specs, "vcpus");
			o->memory_gb = json_int(specs, "memory_gib");
			o->market = SKY_MARKET_ON_DEMAND;
			o->price_usd_per_hour = json_number_value(cents) / 100.0;
			o->source = SKY_SOURCE_LIVE;
		}
	}
out:
	if (rc) {
		free(list);
		return rc;
	}
	/* callers free *out whatever *n is */
	*out = list ? list : calloc(1, sizeof(*list));
	*n = k;
	return *out ? 0 : -ENOMEM;
}

/* ---- names --------------------------------------------------------------------- */

void lambda_prefix(const char *pool_id, char *out, size_t len)
{
	/* sky_cloud_pool_id: "<name>-<8 hex>-<8 hex>"; the hashes make it unique */
	size_t n = strlen(pool_id), tail = 18, room = LAMBDA_PREFIX_MAX - 6;

	if (len > LAMBDA_PREFIX_MAX + 1)
		len = LAMBDA_PREFIX_MAX + 1;
	if (n <= room || n < tail)
		snprintf(out, len, "skyfs-%s", pool_id);
	else
		snprintf(out, len, "skyfs-%.*s%s", (int)(room - tail), pool_id,
			 pool_id + n - tail);
}

void lambda_batch_name(const char *prefix, const int *ranks, int k, char *out, size_t len)
{
	if (k <= 1)
		snprintf(out, len, "%s-%d", prefix, k ? ranks[0] : 0);
	else
		snprintf(out, len, "%s-%d-%d", prefix, ranks[0], ranks[k - 1]);
}

int lambda_name_matches(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	return n && !strncmp(name, prefix, n) && name[n] == '-';
}

int lambda_name_carries(const char *name, const char *prefix, int rank)
{
	const char *p = name + strlen(prefix) + 1;
	size_t a, b;

	if (!lambda_name_matches(name, prefix) || rank < 0 || !(a = strspn(p, "0123456789")) ||
	    a > 9)
		return 0;
	if (!p[a])
		return atoi(p) == rank;
	if (p[a] != '-' || !(b = strspn(p + a + 1, "0123456789")) || b > 9 || p[a + 1 + b])
		return 0;
	return atoi(p) == rank || atoi(p + a + 1) == rank;
}

/* ---- requests ------------------------------------------------------------------ */

json_t *lambda_ssh_key_body(const char *name, const char *public_key)
{
	return json_pack("{s:s, s:s}", "name", name, "public_key", public_key);
}

json_t *lambda_launch_body(const char *region, const char *type, const char *key_name,
			   int quantity, const char *name)
{
	return json_pack("{s:s, s:s, s:[s], s:i, s:s}", "region_name", region,
			 "instance_type_name", type, "ssh_key_names", key_name, "quantity",
			 quantity, "name", name);
}

json_t *lambda_terminate_body(char (*ids)[64], size_t n)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; list && i < n; i++)
		if (ids[i][0] && json_array_append_new(list, json_string(ids[i]))) {
			json_decref(list);
			return NULL;
		}
	return list ? json_pack("{s:o}", "instance_ids", list) : NULL;
}

/* ---- answers ------------------------------------------------------------------- */

static void parse_instance(json_t *o, struct lambda_instance *in)
{
	memset(in, 0, sizeof(*in));
	sky_strlcpy(in->id, sky_json_str(o, "id"), sizeof(in->id));
	sky_strlcpy(in->name, sky_json_str(o, "name"), sizeof(in->name));
	sky_strlcpy(in->status, sky_json_str(o, "status"), sizeof(in->status));
	sky_strlcpy(in->ip, sky_json_str(o, "ip"), sizeof(in->ip));
	sky_strlcpy(in->private_ip, sky_json_str(o, "private_ip"), sizeof(in->private_ip));
	sky_strlcpy(in->type, sky_json_str(json_object_get(o, "instance_type"), "name"),
		    sizeof(in->type));
	sky_strlcpy(in->region, sky_json_str(json_object_get(o, "region"), "name"),
		    sizeof(in->region));
}

int lambda_parse_instances(json_t *doc, const char *prefix, struct lambda_instance **out,
			   size_t *n)
{
	json_t *data = json_object_get(doc, "data"), *list = NULL, *o;
	struct lambda_instance *grown;
	size_t i, k;

	if (json_is_array(data))
		list = data;
	else if (json_is_array(json_object_get(data, "terminated_instances")))
		list = json_object_get(data, "terminated_instances");
	else if (!json_is_object(data))
		return -EPROTO;
	/* no list: one instance, GET /instances/{id} */
	k = list ? json_array_size(list) : 1;
	if (!k)
		return 0;
	if (!(grown = realloc(*out, (*n + k) * sizeof(**out))))
		return -ENOMEM;
	*out = grown;
	for (i = 0; i < k; i++) {
		o = list ? json_array_get(list, i) : data;
		parse_instance(o, &grown[*n]);
		if (grown[*n].id[0] && (!prefix || lambda_name_matches(grown[*n].name, prefix)))
			(*n)++;
	}
	return 0;
}

int lambda_parse_launch(json_t *doc, char (*ids)[64], size_t max, size_t *n)
{
	json_t *list = json_object_get(json_object_get(doc, "data"), "instance_ids"), *v;
	size_t i;

	*n = 0;
	if (!json_is_array(list))
		return -EPROTO;
	json_array_foreach(list, i, v)
		if (json_is_string(v) && *n < max)
			sky_strlcpy(ids[(*n)++], json_string_value(v), sizeof(ids[0]));
	return 0;
}

int lambda_parse_ssh_key(json_t *doc, char *id, size_t len)
{
	const char *s = sky_json_str(json_object_get(doc, "data"), "id");

	sky_strlcpy(id, s, len);
	return s[0] ? 0 : -EPROTO;
}

int lambda_find_ssh_key(json_t *doc, const char *name, char *id, size_t len)
{
	json_t *list = json_object_get(doc, "data"), *k;
	size_t i;

	if (!json_is_array(list))
		return -EPROTO;
	json_array_foreach(list, i, k)
		if (!strcmp(sky_json_str(k, "name"), name) && sky_json_str(k, "id")[0]) {
			sky_strlcpy(id, sky_json_str(k, "id"), len);
			return 0;
		}
	return -ENOENT;
}

enum sky_instance_state lambda_instance_state(const char *status)
{
	if (!strcmp(status, "active") || !strcmp(status, "unhealthy"))
		return SKY_INST_RUNNING;
	if (!strcmp(status, "terminating"))
		return SKY_INST_STOPPING;
	if (!strcmp(status, "terminated"))
		return SKY_INST_GONE;
	/* booting, or not listed yet */
	return SKY_INST_PENDING;
}

/* ---- the launch limiter --------------------------------------------------------- */

double lambda_limiter_acquire(struct lambda_limiter *l)
{
	double wait, t0 = sky_mono();
	struct timespec ts;

	pthread_mutex_lock(&l->lock);
	while (l->busy)
		pthread_cond_wait(&l->cond, &l->lock);
	l->busy = 1;
	wait = l->next - sky_mono();
	pthread_mutex_unlock(&l->lock);
	if (wait > 0) {
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	return sky_mono() - t0;
}

void lambda_limiter_release(struct lambda_limiter *l, double interval_s)
{
	pthread_mutex_lock(&l->lock);
	l->busy = 0;
	l->next = sky_mono() + interval_s;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

double lambda_launch_interval(void)
{
	const char *s = getenv("SKYFS_LAMBDA_LAUNCH_INTERVAL_MS");
	char *end;
	long ms;

	if (!s || !*s)
		return LAMBDA_DEFAULT_LAUNCH_INTERVAL_MS / 1000.0;
	ms = strtol(s, &end, 10);
	if (*end || ms < 0 || ms > 600000)
		return LAMBDA_DEFAULT_LAUNCH_INTERVAL_MS / 1000.0;
	return (double)ms / 1000.0;
}
