/* RunPod's GraphQL API (see runpod_api.h): the API key, the client, the
 * error table, the request bodies and the answer parsers. Nothing here
 * keeps state between calls or logs (a body may hold the key's effects:
 * the pod's environment carries a private host key). */
#include "providers/runpod_api.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "common/util.h"
#include "providers/json_api.h"

#define MAX_COUNT 8            /* offers for 1..8 GPUs per node at most */
#define CONFIG_MAX (64 * 1024)

/* ---- the API key ------------------------------------------------------------------ */

static const char *skip_space(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* One `name = value` line of config.toml; 1 when it is the key's. */
static int key_line(const char *s, const char *end, char *key, size_t keylen, int *too_long)
{
	const char *name = s, *v, *vend;
	size_t n;

	while (s < end && (isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
		s++;
	n = (size_t)(s - name);
	if (!((n == 6 && !strncasecmp(name, "apikey", 6)) ||
	      (n == 7 && !strncasecmp(name, "api_key", 7))))
		return 0;
	s = skip_space(s, end);
	if (s >= end || *s != '=')
		return 0;
	v = skip_space(s + 1, end);
	if (v < end && (*v == '"' || *v == '\'')) {
		vend = memchr(v + 1, *v, (size_t)(end - v - 1));
		if (!vend)
			return 0;
		v++;
	} else {
		for (vend = v; vend < end && *vend != ' ' && *vend != '\t' && *vend != '#'; vend++)
			;
	}
	if (vend == v)
		return 0;
	if ((size_t)(vend - v) >= keylen) {
		*too_long = 1;
		return 0;
	}
	memcpy(key, v, (size_t)(vend - v));
	key[vend - v] = '\0';
	return 1;
}

int rp_config_key(const char *text, const char *profile, char *key, size_t keylen)
{
	const char *line, *end, *s;
	size_t plen = strlen(profile);
	int in_scope = !strcmp(profile, "default"), too_long = 0;

	for (line = text; line && *line; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		s = skip_space(line, end);
		if (s >= end || *s == '#')
			continue;
		if (*s == '[') {
			/* only the profile's section (and for the default one, the
			 * top level) names our key */
			const char *close = memchr(s, ']', (size_t)(end - s)), *a = skip_space(s + 1, end);
			const char *b = close ? close : end;

			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			in_scope = (size_t)(b - a) == plen && !strncmp(a, profile, plen);
			continue;
		}
		if (in_scope && key_line(s, end, key, keylen, &too_long))
			return 0;
	}
	return too_long ? -ENAMETOOLONG : -ENOENT;
}

int rp_load_key(char *key, size_t keylen, char *source, size_t srclen, char *msg,
		size_t msglen)
{
	const char *env = getenv("RUNPOD_API_KEY"), *home = getenv("HOME");
	const char *profile = getenv("SKYFS_RUNPOD_PROFILE");
	char path[4200], where[256], *text = NULL;
	size_t len = 0;
	int rc;

	key[0] = '\0';
	if (env && *env) {
		if (sky_strlcpy(key, env, keylen) >= keylen) {
			key[0] = '\0';
			snprintf(msg, msglen, "RUNPOD_API_KEY is longer than %zu bytes", keylen - 1);
			return -ENOENT;
		}
		sky_strlcpy(source, "environment", srclen);
		return 0;
	}
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : "/";
	}
	if (!profile || !*profile)
		profile = "default";
	/* "[work]" only for a profile the user named: the default reads as before */
	snprintf(where, sizeof(where), "~/.runpod/config.toml%s%.200s%s",
		 strcmp(profile, "default") ? " [" : "", strcmp(profile, "default") ? profile : "",
		 strcmp(profile, "default") ? "]" : "");
	snprintf(path, sizeof(path), "%s/.runpod/config.toml", home);
	rc = sky_read_file(path, &text, &len, CONFIG_MAX);
	if (rc == -ENOENT) {
		snprintf(msg, msglen, "no API key: set RUNPOD_API_KEY or apikey in %s", where);
		goto out;
	}
	if (rc) {
		snprintf(msg, msglen, "cannot read ~/.runpod/config.toml: %s", strerror(-rc));
		goto out;
	}
	rc = rp_config_key(text, profile, key, keylen);
	if (rc == -ENAMETOOLONG)
		snprintf(msg, msglen, "the apikey in %s is longer than %zu bytes", where, keylen - 1);
	else if (rc)
		snprintf(msg, msglen, "no apikey line in %s", where);
	else
		sky_strlcpy(source, where, srclen);
out:
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	if (rc)
		OPENSSL_cleanse(key, keylen);
	return rc == -ENAMETOOLONG ? -ENOENT : rc;
}

/* ---- the client --------------------------------------------------------------------- */

int rp_client_init(struct rp_client *c, char *msg, size_t msglen)
{
	const char *url = getenv("SKYFS_RUNPOD_URL");
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = rp_load_key(c->key, sizeof(c->key), c->source, sizeof(c->source), msg, msglen)))
		return rc;
	if (sky_strlcpy(c->url, url && *url ? url : RP_DEFAULT_URL, sizeof(c->url)) >=
	    sizeof(c->url)) {
		snprintf(msg, msglen, "SKYFS_RUNPOD_URL is too long");
		rc = -ENAMETOOLONG;
		goto out;
	}
	if (!(c->http = sky_http_new())) {
		snprintf(msg, msglen, "out of memory");
		rc = -ENOMEM;
	}
out:
	if (rc)
		rp_client_fini(c);
	return rc;
}

void rp_client_fini(struct rp_client *c)
{
	sky_http_free(c->http);
	c->http = NULL;
	OPENSSL_cleanse(c->key, sizeof(c->key));
}

int rp_call(struct rp_client *c, json_t *body, json_t **data, struct sky_api_error *e)
{
	struct sky_api_req r = { 0 };
	json_t *answer = NULL;
	int rc;

	*data = NULL;
	if (!body) {
		memset(e, 0, sizeof(*e));
		e->kind = SKY_API_CLIENT;
		snprintf(e->message, sizeof(e->message), "out of memory");
		return -ENOMEM;
	}
	r.method = "POST";
	r.url = c->url;
	r.bearer = c->key;
	r.body = body;
	r.classify = rp_classify;
	if ((rc = sky_api_json(c->http, &r, &answer, e)))
		return rc;
	/* rp_classify lets no answer through without a data object */
	*data = json_incref(json_object_get(answer, "data"));
	json_decref(answer);
	if (*data)
		return 0;
	e->kind = SKY_API_CLIENT;
	snprintf(e->message, sizeof(e->message), "an answer without data");
	return -EPROTO;
}

/* ---- errors --------------------------------------------------------------------- */

/* Codes that say what happened whatever the message. */
static const struct {
	const char *code;
	enum sky_api_kind kind;
} exact_codes[] = {
	{ "SUPPLY_CONSTRAINT", SKY_API_CAPACITY },
	{ "UNAUTHENTICATED", SKY_API_AUTH },
	{ "UNAUTHORIZED", SKY_API_AUTH },
	{ "FORBIDDEN", SKY_API_AUTH },
	{ "RATE_LIMITED", SKY_API_THROTTLE },
	{ "TOO_MANY_REQUESTS", SKY_API_THROTTLE },
}, generic_codes[] = {
	/* Apollo's catch-all for a resolver's exception: the message says more */
	{ "INTERNAL_SERVER_ERROR", SKY_API_SERVER },
	{ "NOT_FOUND", SKY_API_NOTFOUND },
	{ "GRAPHQL_PARSE_FAILED", SKY_API_CLIENT },
	{ "GRAPHQL_VALIDATION_FAILED", SKY_API_CLIENT },
	{ "BAD_USER_INPUT", SKY_API_CLIENT },
};

/* Messages RunPod has used without a telling code (case-insensitive). */
static const struct {
	const char *text;
	enum sky_api_kind kind;
} messages[] = {
	{ "no longer any instances available", SKY_API_CAPACITY },
	{ "no instances available", SKY_API_CAPACITY },
	{ "not enough free gpus", SKY_API_CAPACITY },
	{ "minimum bid", SKY_API_PRICE },
	{ "not found", SKY_API_NOTFOUND },
	{ "could not find", SKY_API_NOTFOUND },
};

static enum sky_api_kind error_kind(const char *code, const char *message)
{
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(exact_codes); i++)
		if (!strcmp(code, exact_codes[i].code))
			return exact_codes[i].kind;
	for (i = 0; i < SKY_ARRAY_SIZE(messages); i++)
		if (strcasestr(message, messages[i].text))
			return messages[i].kind;
	for (i = 0; i < SKY_ARRAY_SIZE(generic_codes); i++)
		if (!strcmp(code, generic_codes[i].code))
			return generic_codes[i].kind;
	return SKY_API_CLIENT;
}

enum sky_api_kind rp_classify(long status, json_t *body, const char *raw,
			      struct sky_api_error *e)
{
	json_t *first = json_array_get(json_object_get(body, "errors"), 0);
	const char *code = sky_json_str(json_object_get(first, "extensions"), "code");
	const char *message = sky_json_str(first, "message");
	enum sky_api_kind kind;

	(void)raw;
	if (!first && json_is_object(body)) {
		/* a plain error object ({"error": "..."}) on a refusal */
		message = sky_json_str(body, "error");
		if (!message[0])
			message = sky_json_str(body, "message");
	}
	snprintf(e->code, sizeof(e->code), "%s", code);
	if (status >= 200 && status < 300)
		snprintf(e->message, sizeof(e->message), "%s", message);
	else if (message[0])   /* else sky_api_json says "HTTP <status>: <body>" */
		snprintf(e->message, sizeof(e->message), "HTTP %ld: %s", status, message);
	if (status < 200 || status >= 300) {
		kind = sky_api_classify_status(status);
		/* a 400 carrying GraphQL errors: their code says more */
		if (kind == SKY_API_CLIENT && first)
			kind = error_kind(code, message);
		return kind;
	}
	if (first)
		return error_kind(code, message);
	if (body && !json_is_object(json_object_get(body, "data"))) {
		snprintf(e->message, sizeof(e->message), "HTTP %ld without a data object", status);
		return SKY_API_CLIENT;
	}
	return SKY_API_OK;
}

/* ---- requests -------------------------------------------------------------------- */

/* The fields of a pod that the provider reads (pod and myself.pods). */
#define POD_FIELDS "id name desiredStatus runtime { uptimeInSeconds " \
	"ports { ip isIpPublic privatePort publicPort type } }"

/* RunPod's input type names (its schema; runpod-python sends literals). */
static const char q_gpu_types[] =
	"query GpuTypes { gpuTypes { id displayName memoryInGb secureCloud communityCloud "
	"maxGpuCount securePrice communityPrice secureSpotPrice communitySpotPrice } }";
static const char q_deploy[] =
	"mutation Deploy($input: PodFindAndDeployOnDemandInput!) { "
	"podFindAndDeployOnDemand(input: $input) { id imageName machineId } }";
static const char q_rent[] =
	"mutation Rent($input: PodRentInterruptableInput!) { "
	"podRentInterruptable(input: $input) { id imageName machineId } }";
static const char q_pod[] =
	"query Pod($input: PodFilter!) { pod(input: $input) { " POD_FIELDS " } }";
static const char q_pods[] = "query Pods { myself { pods { " POD_FIELDS " } } }";
static const char q_terminate[] =
	"mutation Terminate($input: PodTerminateInput!) { podTerminate(input: $input) }";

/* Installs the host key skyfs made as the only one sshd loads (a HostKey
 * line turns off the defaults; the image's /start.sh makes RSA and ECDSA
 * keys when they are missing, and those must not be offered instead),
 * then runs the image's start with the key out of its environment. A
 * failed install still starts the pod: the pinned key then refuses it. */
const char rp_docker_args[] =
	"bash -c 'rm -f /etc/ssh/ssh_host_* && "
	"printf %s \"$SKYFS_HOST_KEY\" | base64 -d > /etc/ssh/ssh_host_ed25519_key && "
	"chmod 600 /etc/ssh/ssh_host_ed25519_key && "
	"ssh-keygen -y -f /etc/ssh/ssh_host_ed25519_key > /etc/ssh/ssh_host_ed25519_key.pub && "
	"sed -i \"1i HostKey /etc/ssh/ssh_host_ed25519_key\" /etc/ssh/sshd_config; "
	"exec env -u SKYFS_HOST_KEY /start.sh'";

/* {"query": query, "variables": {"input": input}}; input stolen, may be
 * NULL for none. */
static json_t *request(const char *query, json_t *input)
{
	if (!input)
		return json_pack("{s:s}", "query", query);
	return json_pack("{s:s, s:{s:o}}", "query", query, "variables", "input", input);
}

json_t *rp_req_gpu_types(void)
{
	return request(q_gpu_types, NULL);
}

json_t *rp_req_deploy(const struct rp_deploy *d)
{
	json_t *env, *input;

	env = json_pack("[{s:s, s:s}, {s:s, s:s}]", "key", "PUBLIC_KEY", "value", d->public_key,
			"key", "SKYFS_HOST_KEY", "value", d->host_key_b64);
	input = json_pack("{s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:s, s:o, s:b, s:b, s:s}",
			  "cloudType", d->cloud, "gpuTypeId", d->gpu_type,
			  "gpuCount", d->gpu_count, "name", d->name, "imageName", d->image,
			  "containerDiskInGb", d->container_disk_gb, "volumeInGb", 0,
			  "ports", "22/tcp", "env", env, "startSsh", 1, "supportPublicIp", 1,
			  "dockerArgs", rp_docker_args);
	if (input && d->spot && json_object_set_new(input, "bidPerGpu", json_real(d->bid_per_gpu))) {
		json_decref(input);
		input = NULL;
	}
	return input ? request(d->spot ? q_rent : q_deploy, input) : NULL;
}

json_t *rp_req_pod(const char *pod_id)
{
	json_t *input = json_pack("{s:s}", "podId", pod_id);

	return input ? request(q_pod, input) : NULL;
}

json_t *rp_req_pods(void)
{
	return request(q_pods, NULL);
}

json_t *rp_req_terminate(const char *pod_id)
{
	json_t *input = json_pack("{s:s}", "podId", pod_id);

	return input ? request(q_terminate, input) : NULL;
}

/* ---- answers --------------------------------------------------------------------- */

/* The catalog's name for a GPU type: its id ("NVIDIA H100 80GB HBM3") or
 * display name ("H100 SXM"), else the id as it is. */
static void accelerator_of(const char *id, const char *display, char *out, size_t len)
{
	const struct sky_accel *a = sky_accel_find(id);

	if (!a && display[0])
		a = sky_accel_find(display);
	sky_strlcpy(out, a ? a->name : id, len);
}

int rp_parse_gpu_types(json_t *data, struct sky_offer **out, size_t *n)
{
	static const struct {
		const char *region, *available, *price[2];   /* [market] */
	} clouds[] = {
		{ "secure", "secureCloud", { "securePrice", "secureSpotPrice" } },
		{ "community", "communityCloud", { "communityPrice", "communitySpotPrice" } },
	};
	json_t *types = json_object_get(data, "gpuTypes"), *t;
	struct sky_offer *offers = NULL;
	size_t i, k = 0, cap = 0;
	int c, m, count, max;

	*out = NULL;
	*n = 0;
	if (!json_is_array(types))
		return -EPROTO;
	json_array_foreach(types, i, t) {
		const char *id = sky_json_str(t, "id");
		char accel[64];

		if (!id[0])
			continue;
		accelerator_of(id, sky_json_str(t, "displayName"), accel, sizeof(accel));
		max = (int)json_integer_value(json_object_get(t, "maxGpuCount"));
		max = max < 1 ? 1 : max > MAX_COUNT ? MAX_COUNT : max;
		for (c = 0; c < (int)SKY_ARRAY_SIZE(clouds); c++) {
			if (json_is_false(json_object_get(t, clouds[c].available)))
				continue;
			for (m = 0; m < 2; m++) {
				double price = json_number_value(json_object_get(t, clouds[c].price[m]));

				/* no spot price: no spot offer (RunPod may have none) */
				if (!(price > 0))
					continue;
				for (count = 1; count <= max; count++) {
					struct sky_offer *o;

					if (k == cap) {
						size_t ncap = cap ? 2 * cap : 64;
						struct sky_offer *grown = realloc(offers,
										  ncap * sizeof(*grown));

						if (!grown) {
							free(offers);
							return -ENOMEM;
						}
						offers = grown;
						cap = ncap;
					}
					o = &offers[k++];
					memset(o, 0, sizeof(*o));
					sky_strlcpy(o->provider, "runpod", sizeof(o->provider));
					snprintf(o->instance_type, sizeof(o->instance_type), "%s/%s", id,
						 clouds[c].region);
					sky_strlcpy(o->region, clouds[c].region, sizeof(o->region));
					sky_strlcpy(o->accelerator, accel, sizeof(o->accelerator));
					o->accelerator_count = count;
					o->market = m ? SKY_MARKET_SPOT : SKY_MARKET_ON_DEMAND;
					o->price_usd_per_hour = price * count;
					o->source = SKY_SOURCE_LIVE;
				}
			}
		}
	}
	*out = offers;
	*n = k;
	return 0;
}

int rp_parse_deploy(json_t *data, char *id, size_t idlen)
{
	json_t *pod = json_object_get(data, "podFindAndDeployOnDemand");
	const char *s;

	if (!pod)
		pod = json_object_get(data, "podRentInterruptable");
	s = sky_json_str(pod, "id");
	if (!s[0] || sky_strlcpy(id, s, idlen) >= idlen)
		return -EPROTO;
	return 0;
}

int rp_parse_pod(json_t *pod, struct rp_pod *out)
{
	json_t *runtime = json_object_get(pod, "runtime"), *ports, *p;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!sky_json_str(pod, "id")[0] ||
	    sky_strlcpy(out->id, sky_json_str(pod, "id"), sizeof(out->id)) >= sizeof(out->id))
		return -EPROTO;
	sky_strlcpy(out->name, sky_json_str(pod, "name"), sizeof(out->name));
	sky_strlcpy(out->status, sky_json_str(pod, "desiredStatus"), sizeof(out->status));
	out->has_runtime = json_is_object(runtime);
	ports = json_object_get(runtime, "ports");
	json_array_foreach(ports, i, p) {
		const char *ip = sky_json_str(p, "ip"), *type = sky_json_str(p, "type");
		json_int_t public_port = json_integer_value(json_object_get(p, "publicPort"));

		/* sshd's port as the internet reaches it; the private
		 * addresses are the host's own network */
		if (json_integer_value(json_object_get(p, "privatePort")) != 22 ||
		    !json_is_true(json_object_get(p, "isIpPublic")) || !ip[0] ||
		    public_port < 1 || public_port > 65535 || (type[0] && strcmp(type, "tcp")))
			continue;
		sky_strlcpy(out->ip, ip, sizeof(out->ip));
		out->port = (int)public_port;
		break;
	}
	return 0;
}

int rp_parse_pod_answer(json_t *data, struct rp_pod *out)
{
	json_t *pod = json_object_get(data, "pod");

	memset(out, 0, sizeof(*out));
	if (!pod || json_is_null(pod))
		return -ENOENT;
	return rp_parse_pod(pod, out);
}

int rp_parse_pods(json_t *data, struct rp_pod **out, size_t *n)
{
	json_t *pods = json_object_get(json_object_get(data, "myself"), "pods"), *p;
	struct rp_pod *list;
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_array(pods))
		return -EPROTO;
	if (!(list = calloc(json_array_size(pods) + 1, sizeof(*list))))
		return -ENOMEM;
	json_array_foreach(pods, i, p)
		if (!rp_parse_pod(p, &list[k]))
			k++;
	*out = list;
	*n = k;
	return 0;
}

int rp_pod_gone(const struct rp_pod *p)
{
	return !strcmp(p->status, "EXITED") || !strcmp(p->status, "TERMINATED") ||
	       !strcmp(p->status, "DEAD");
}
