/* RunPod's GraphQL API as skyfs speaks it (runpod_api.c): where the API key
 * comes from, the client (one sky_api_json call per operation), the one
 * table that maps RunPod's errors to what the provider does, the request
 * bodies and the parsers of the answers into plain structs, so that
 * runpod.c never builds or walks JSON itself. Builders and parsers are
 * pure functions (tests/unit/test_runpod.c).
 *
 * Every request is {"query": TEXT, "variables": {"input": {...}}}: the
 * values travel as JSON variables, never spliced into the query text, so
 * nothing a value holds can change the query.
 *
 * Ownership: struct rp_client is the caller's (runpod.c keeps one per pool
 * and a short-lived one for offers); rp_client_init fills it,
 * rp_client_fini frees its HTTP handles and wipes the key. Locking:
 * rp_call may run in several threads on one client (the HTTP handle pool
 * is locked; everything else is read-only after init). */
#ifndef SKY_RUNPOD_API_H
#define SKY_RUNPOD_API_H

#include <stddef.h>

#include <jansson.h>

#include "providers/http.h"
#include "providers/provider.h"

#define RP_DEFAULT_URL "https://api.runpod.io/graphql"
#define RP_KEY_MAX 256

/* ---- the API key -------------------------------------------------------------- */

/* The key of profile's section of a ~/.runpod/config.toml text:
 * `apikey = "..."` (the runpod CLI's spelling) or `api_key = "..."`
 * (runpod-python's, which writes one [section] per profile); for the
 * profile "default" the top level counts too. Quoted or bare, a trailing
 * # comment ignored. 0 and key, or -ENOENT when the text has none
 * (-ENAMETOOLONG: too long). */
int rp_config_key(const char *text, const char *profile, char *key, size_t keylen);

/* RUNPOD_API_KEY, else $HOME/.runpod/config.toml, the section that
 * SKYFS_RUNPOD_PROFILE names (the configuration file's runpod_profile;
 * "default" when unset). 0 with key and where it came from in source
 * ("environment", "~/.runpod/config.toml [work]"), or -ENOENT with why in
 * msg. Never logs or returns the key in msg. */
int rp_load_key(char *key, size_t keylen, char *source, size_t srclen, char *msg,
		size_t msglen);

/* ---- the client ----------------------------------------------------------------- */

struct rp_client {
	char url[512];                 /* SKYFS_RUNPOD_URL, else RP_DEFAULT_URL */
	char key[RP_KEY_MAX];
	char source[256];              /* where the key came from, for messages */
	struct sky_http *http;
};

/* 0, or -ENOENT (no key) / -ENOMEM with msg. */
int rp_client_init(struct rp_client *c, char *msg, size_t msglen);
void rp_client_fini(struct rp_client *c);

/* One GraphQL call (body from a builder below, borrowed) with sky_api_json's
 * retries; 0 and the answer's "data" object in *data (json_decref), or
 * -errno (sky_api_errno of the kind) with e. */
int rp_call(struct rp_client *c, json_t *body, json_t **data, struct sky_api_error *e);

/* What an answer means (sky_api_classify_fn): HTTP 401/403 refused key,
 * 429 throttled, 5xx server; HTTP 200 with errors[] classified by
 * errors[0].extensions.code (SUPPLY_CONSTRAINT: capacity) and, where the
 * code says nothing, by the message ("no longer any instances available"). */
enum sky_api_kind rp_classify(long status, json_t *body, const char *raw,
			      struct sky_api_error *e);

/* ---- requests (bodies to json_decref; NULL when out of memory) ------------------ */

/* Every GPU type with its prices (per GPU-hour) and largest count. */
json_t *rp_req_gpu_types(void);

struct rp_deploy {
	int spot;                      /* podRentInterruptable, else podFindAndDeployOnDemand */
	const char *cloud;             /* "SECURE" or "COMMUNITY" */
	const char *gpu_type;          /* gpuTypeId */
	int gpu_count;
	double bid_per_gpu;            /* spot only */
	const char *name;
	const char *image;
	const char *public_key;        /* env PUBLIC_KEY: the pool's login key */
	const char *host_key_b64;      /* env SKYFS_HOST_KEY: base64 of the private host key */
	int container_disk_gb;
};
/* The start command that installs SKYFS_HOST_KEY as the pod's only sshd
 * host key, then runs the image's own /start.sh (dockerArgs). */
extern const char rp_docker_args[];
json_t *rp_req_deploy(const struct rp_deploy *d);
json_t *rp_req_pod(const char *pod_id);
/* myself { pods }: every pod of the account, with its runtime. */
json_t *rp_req_pods(void);
json_t *rp_req_terminate(const char *pod_id);

/* ---- answers (the "data" object rp_call returns) -------------------------------- */

/* gpuTypes as offers: one per (type, cloud, market, count 1..maxGpuCount up
 * to 8) with a price; spot only where a spot price is listed. instance_type
 * "<gpuTypeId>/<secure|community>", region "secure"/"community", price per
 * node (count x per GPU), accelerator the catalog's name for the id or
 * display name (else the id). *out malloc'd (may be NULL when *n is 0). */
int rp_parse_gpu_types(json_t *data, struct sky_offer **out, size_t *n);

/* The new pod's id from a deploy answer (either mutation); -EPROTO when
 * the answer has none. */
int rp_parse_deploy(json_t *data, char *id, size_t idlen);

struct rp_pod {
	char id[64];
	char name[160];
	char status[24];               /* desiredStatus: RUNNING, EXITED, TERMINATED, ... */
	int has_runtime;               /* the container is up */
	char ip[64];                   /* of the public port that maps 22, "" until known */
	int port;
};
/* One pod object (pod or an item of myself.pods); -EPROTO without an id. */
int rp_parse_pod(json_t *pod, struct rp_pod *out);
/* pod(input:{podId}): 0 and *out, -ENOENT when the pod is null (gone). */
int rp_parse_pod_answer(json_t *data, struct rp_pod *out);
/* myself.pods, into *out (malloc'd; *n counts). */
int rp_parse_pods(json_t *data, struct rp_pod **out, size_t *n);
/* Not coming back: EXITED, TERMINATED (or any status but RUNNING/CREATED). */
int rp_pod_gone(const struct rp_pod *p);

#endif
