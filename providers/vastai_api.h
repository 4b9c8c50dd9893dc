/* The Vast.ai REST API as skyfs speaks it (vastai_api.c): the client (API
 * key, base URL, one call through sky_api_json with Vast's error table),
 * the request bodies it sends (the /bundles/ search, the ask's rental,
 * the onstart command) and the parsers of the answers it reads into plain
 * structs, so that vastai.c never walks JSON itself. Everything but the
 * client's calls (vastai_call, vastai_search) is a pure function over the
 * catalog's tables (tests/unit/test_vastai.c).
 *
 * Wire facts (shared/reference/provider-apis.md §3): errors are
 * {"success":false,"error":CODE,"msg":TEXT} (some endpoints send only msg
 * or message; 429 is often plain text without Retry-After); GET
 * /instances/{id}/ answers {"instances": {...}}, an object, where the list
 * answers an array; gpu_name carries no memory ("A100 SXM4" is 40 or 80 GB:
 * gpu_ram, in MB, tells them apart).
 *
 * Ownership: struct vastai_client is the caller's; vastai_client_init fills
 * it, vastai_client_fini frees its HTTP handles and wipes the key. Locking:
 * vastai_call may run in several threads on one client (sky_http_do is
 * thread-safe; the rest is read-only after init). */
#ifndef SKY_VASTAI_API_H
#define SKY_VASTAI_API_H

#include <stddef.h>

#include <jansson.h>

#include "common/util.h"
#include "providers/http.h"
#include "providers/provider.h"

#define VASTAI_DEFAULT_URL "https://console.vast.ai/api/v0"
#define VASTAI_DEFAULT_IMAGE "vastai/base-image:cuda-12.1.1-auto"
#define VASTAI_OFFERS_LIMIT 64          /* asks a search returns */

/* ---- the client ------------------------------------------------------------------- */

struct vastai_client {
	char base[512];                /* no trailing '/': SKYFS_VASTAI_URL or the default */
	char *key;                     /* the API key (wiped before it is freed) */
	char source[300];              /* where it came from: "environment", a file name */
	struct sky_http *http;
};

/* The key from VAST_API_KEY, else the file ~/.config/vastai/vast_api_key
 * ($XDG_CONFIG_HOME/vastai/vast_api_key when that is set), trimmed.
 * 0 with *key (free with sky_cloud_free_secret) and source, or -ENOENT
 * with why in msg. */
int vastai_load_key(char **key, char *source, size_t srclen, char *msg, size_t msglen);

/* The key and the base URL, and an HTTP client. 0, or -EACCES (no key:
 * every candidate of the provider would fail alike) / -ENOMEM, with err. */
int vastai_client_init(struct vastai_client *c, struct sky_err *err);
void vastai_client_fini(struct vastai_client *c);

/* One call: method on base + path with an optional JSON body; retries
 * throttling (429), 5xx and timeouts (a short backoff from 300 ms, as
 * Vast's own CLI: it sends no Retry-After). 0 and *out (json_decref), or
 * -errno (sky_api_errno of the kind) with the failure in err as
 * "vastai: <what>: <code>: <msg>" (err may be NULL) and in *e (may be
 * NULL). Notes refused keys for providers/vastai/status. */
int vastai_call(struct vastai_client *c, const char *method, const char *path, json_t *body,
		json_t **out, struct sky_err *err, const char *what, struct sky_api_error *e);
/* providers/vastai/status's "usable:" and "endpoint:" lines. */
void vastai_render_health(struct sky_buf *out, int configured);

/* Vast's errors by code first, then by status: no_such_ask and 410 (the
 * ask is gone) are capacity, invalid_price is price, 401/403 auth, 429
 * throttle, 5xx server; a 2xx whose body says "success": false is a
 * refusal too. Fills e's code and message from the body (error, msg or
 * message). */
enum sky_api_kind vastai_classify(long status, json_t *body, const char *raw,
				  struct sky_api_error *e);

/* ---- searching asks ------------------------------------------------------------------ */

#define VASTAI_MAX_NAMES 24

/* What a POST /bundles/ asks for. */
struct vastai_query {
	char names[VASTAI_MAX_NAMES][48];  /* gpu_name "in"; none: any GPU */
	int n_names;
	int num_gpus;                  /* 0: any */
	int gpu_ram_min_mb;            /* 0: no bound */
	int gpu_ram_max_mb;
	int vcpus;                     /* cpu_cores_effective gte; 0: any */
	int memory_gb;                 /* cpu_ram gte (MB on the wire); 0: any */
	double max_price;              /* dph_total (on-demand) or min_bid (spot) lte; 0: none */
	enum sky_market market;        /* type "on-demand" or "bid"; ordered by that price */
	int limit;
};

/* The Vast gpu_name values a catalog request may show up as: the names and
 * aliases of every catalog row the request accepts, and of the rows of the
 * same family with another memory size (the 80 GB A100 reports the 40 GB
 * row's "A100 SXM4"), spelled Vast's way ("RTX-4090" -> "RTX 4090"),
 * without those that carry a memory size (Vast's never do). Also the
 * gpu_ram window (MB) of the accepted rows. -ENOENT when the catalog does
 * not know request. */
int vastai_gpu_names(const char *request, struct vastai_query *q);

/* The search a request (one alternative of the spec) needs in market m:
 * its accelerator's names and memory window, count, vcpus, memory and
 * max_price; r NULL: any GPU (the catalog's refresh). -ENOENT when Vast
 * cannot have it (no accelerator: Vast rents GPU machines). */
struct sky_request;
int vastai_request_query(const struct sky_request *r, enum sky_market m, int limit,
			 struct vastai_query *q);

/* The search's JSON body (json_decref), NULL when out of memory:
 *   {"verified":{"eq":true},"rentable":{"eq":true},"gpu_name":{"in":[...]},
 *    "num_gpus":{"eq":N},"gpu_ram":{"gte":..,"lte":..},"dph_total":{"lte":P},
 *    "order":[["dph_total","asc"]],"type":"on-demand","limit":64} */
json_t *vastai_bundles_query(const struct vastai_query *q);

/* One ask (a machine for rent) of a search's answer. */
struct vastai_ask {
	long long id;                  /* what PUT /asks/{id}/ rents */
	char gpu_name[64];             /* as Vast spells it */
	int num_gpus;
	int gpu_ram_mb;
	double dph_total;              /* on-demand $/h */
	double min_bid;                /* interruptible floor $/h; 0 when absent */
	char geolocation[32];          /* as a region word ("Texas,US"); "" when absent */
	int vcpus;                     /* cpu_cores_effective (else cpu_cores); 0 unknown */
	int memory_gb;                 /* cpu_ram / 1024; 0 unknown */
};

/* {"offers":[...]}: every ask with an id, a gpu_name and num_gpus, into a
 * malloc'd array (*out, *n; free()). -EPROTO when there is no offers array. */
int vastai_parse_asks(json_t *doc, struct vastai_ask **out, size_t *n);

/* POST /bundles/ with q: the asks, parsed (*asks: free()). 0, or -errno
 * with err. */
int vastai_search(struct vastai_client *c, const struct vastai_query *q,
		  struct vastai_ask **asks, size_t *n, struct sky_err *err);

/* The catalog name of an ask's GPU: the catalog row gpu_name denotes, or
 * the row of its family whose memory matches gpu_ram when that row's does
 * not (within 15%); gpu_name as reported when the catalog does not know
 * it. */
void vastai_accel_of(const char *gpu_name, int gpu_ram_mb, char *out, size_t len);

/* An offer's instance type is the GPU's name ("A100 SXM4" -> "A100_SXM4":
 * no spaces in plan's columns); the shape is that, the catalog name, the
 * count and the geolocation. vastai_shape_gpu undoes vastai_shape_name. */
void vastai_shape_name(const char *gpu_name, char *out, size_t len);
void vastai_shape_gpu(const char *instance_type, char *out, size_t len);

/* The offer an ask is, in market m (price dph_total or min_bid; -ENOENT
 * for spot when the ask has no min_bid). */
int vastai_ask_offer(const struct vastai_ask *a, enum sky_market m, struct sky_offer *o);

/* Whether ask a is a machine of offer o's shape (same instance type,
 * catalog name, count and region). */
int vastai_ask_fits(const struct vastai_ask *a, const struct sky_offer *o);

/* ---- renting and the instances ------------------------------------------------------- */

/* The sh command onstart runs: writes $SKYFS_HOST_KEY (base64 of an
 * OpenSSH private key) as <ssh_dir>/ssh_host_ed25519_key, removes every
 * other host key there, derives the .pub, then runs restart (the real one
 * makes sshd reload its keys). 0, or -ENOSPC when it does not fit. */
#define VASTAI_SSHD_RESTART \
	"(kill -HUP \"$(cat /var/run/sshd.pid 2>/dev/null)\" 2>/dev/null || " \
	"pkill -HUP -x sshd || service ssh restart || /usr/sbin/sshd) >/dev/null 2>&1"
int vastai_onstart(char *out, size_t len, const char *ssh_dir, const char *restart);

/* PUT /asks/{id}/'s body. price > 0 makes it an interruptible bid. */
struct vastai_rent {
	const char *image;
	int disk_gb;
	const char *label;
	const char *host_key_b64;      /* env SKYFS_HOST_KEY */
	const char *onstart;
	double price;
};
json_t *vastai_rent_body(const struct vastai_rent *r);

/* {"success":true,"new_contract":N}: 0 and *id, or -EPROTO. */
int vastai_parse_new_contract(json_t *doc, long long *id);

/* An instance as GET /instances/ and /instances/{id}/ show it. */
struct vastai_instance {
	long long id;
	char actual_status[32];        /* "" while null (just created) */
	char intended_status[32];
	char status_msg[256];
	char label[128];
	char ssh_host[128];            /* the proxy's */
	int ssh_port;
	char public_ip[64];
	int direct_port;               /* ports["22/tcp"][0].HostPort; 0 when absent */
};

/* {"instances": {...}} (one instance: *n = 1) or {"instances": [...]}
 * (the list), into a malloc'd array; {"instances": null} is none. -EPROTO
 * without an instances member. */
int vastai_parse_instances(json_t *doc, struct vastai_instance **out, size_t *n);

/* Where to SSH: the direct address (public_ipaddr and the host port of
 * 22/tcp) when both are known, else the proxy's ssh_host:ssh_port.
 * -ENOENT while neither is known. */
int vastai_ssh_endpoint(const struct vastai_instance *in, char *host, size_t len, int *port);

/* actual_status exited, offline or unknown: not coming back. */
int vastai_failed(const struct vastai_instance *in);

/* ---- the provider's offers (vastai_offers.c) ----------------------------------------- */

struct sky_spec;
int vastai_offers(const struct sky_spec *spec, struct sky_offer **out, size_t *n,
		  struct sky_err *err);

#endif
