/* The HTTP client every cloud provider's API goes through (libcurl).
 *
 * One struct sky_http per provider client: a small pool of curl easy
 * handles, each keeping its connections open between requests, so that
 * calls from several provisioning threads reuse connections without
 * sharing a handle. TLS peer and host verification stay on; every request
 * has a whole-request timeout and a connect timeout; answers are capped in
 * size. Nothing here logs a header or a body (they may hold credentials).
 *
 * Locking: sky_http_do() may be called from any number of threads at once;
 * the handle pool has its own lock, never held during a transfer. */
#ifndef SKY_HTTP_H
#define SKY_HTTP_H

#include <stddef.h>

#include "common/util.h"

struct sky_http;

struct sky_http_req {
	const char *method;             /* "GET", "POST", "DELETE", ... */
	const char *url;
	const char *const *headers;     /* "Name: value" lines */
	size_t n_headers;
	const void *body;               /* sent as is; NULL for none */
	size_t body_len;
	int timeout_ms;                 /* the whole request; the default when 0 */
	size_t max_response;            /* bytes of body kept; 16 MiB when 0 */
	const char *unix_socket;        /* connect to this socket instead of the URL's
					 * host (slurmrestd); NULL for TCP */
};

struct sky_http_resp {
	long status;                    /* HTTP status; 0 when no answer came */
	long retry_after_ms;            /* the answer's Retry-After, -1 when none */
	struct sky_buf body;            /* the answer's body; the caller frees it */
	char error[256];                /* why there was no answer */
};

/* curl_global_init, once, before any thread (the daemon's start-up). */
int sky_http_global_init(void);

/* The time limit of requests that set none (20 s; -o api_timeout). Call
 * before any request. */
void sky_http_set_default_timeout_ms(int ms);

struct sky_http *sky_http_new(void);
void sky_http_free(struct sky_http *h);

/* Performs one request. 0 when an answer arrived (any status: the caller
 * reads resp->status); -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EPROTO
 * (TLS), -EFBIG (answer over max_response) or -EIO otherwise, with the
 * reason in resp->error. resp->body is reset first; free it after. */
int sky_http_do(struct sky_http *h, const struct sky_http_req *req, struct sky_http_resp *resp);

/* ---- what a cloud API's failure means, and retrying ------------------------- */

/* Every provider classifies its API's errors into these (its own table of
 * codes), and acts on the kind, not on the code. */
enum sky_api_kind {
	SKY_API_OK,
	SKY_API_CAPACITY,    /* no capacity for this offer: next candidate */
	SKY_API_PRICE,       /* the price moved above the max: next candidate */
	SKY_API_QUOTA,       /* account limits: next candidate */
	SKY_API_THROTTLE,    /* rate limited: retried with backoff (Retry-After) */
	SKY_API_SERVER,      /* 5xx: retried with backoff */
	SKY_API_NETWORK,     /* no answer (timeout, refused): retried with backoff */
	SKY_API_AUTH,        /* credentials refused: the provider is unusable */
	SKY_API_NOTFOUND,    /* the thing named is not there */
	SKY_API_DUPLICATE,   /* it is there already */
	SKY_API_DEPENDENCY,  /* still in use */
	SKY_API_CLIENT,      /* any other refusal of the request */
};
/* provider.h's errno for a kind: -EAGAIN next candidate, -EACCES provider
 * unusable, -ETIMEDOUT (no answer, throttled), -EREMOTEIO (5xx), -ENOENT,
 * -EEXIST, -EBUSY, -EIO. */
int sky_api_errno(enum sky_api_kind kind);
int sky_api_retryable(enum sky_api_kind kind);

/* A failed API call, for messages (never a credential). */
struct sky_api_error {
	enum sky_api_kind kind;
	long http_status;              /* 0 when no answer came */
	char code[96];                 /* the API's error code, "" for none */
	char message[400];             /* the API's message or the transport's reason */
	int attempts;                  /* calls made, retries included */
};

/* Bounded retries: at most max_attempts calls; between them the answer's
 * Retry-After (capped at max_delay_ms) or, without one, a full-jitter
 * exponential backoff: uniform in [0, min(max_delay, base * 2^n)). */
struct sky_retry {
	int max_attempts;
	int base_delay_ms;
	int max_delay_ms;
};
#define SKY_RETRY_DEFAULT ((struct sky_retry){ 6, 200, 5000 })
/* Sleeps before the call after the n-th failed one (n >= 1). */
void sky_retry_wait(const struct sky_retry *r, int n, long retry_after_ms);
/* Calls attempt(arg, e, &retry_after_ms) until it succeeds, fails with a
 * kind that is not retryable, or r->max_attempts calls were made, waiting
 * sky_retry_wait between them; e is cleared before each call and counts
 * the attempts. what names the call in the debug log. Returns the last
 * attempt's result. */
int sky_retry_run(const struct sky_retry *r, const char *what,
		  int (*attempt)(void *arg, struct sky_api_error *e, long *retry_after_ms),
		  void *arg, struct sky_api_error *e);

/* The host (with ":port" when the URL names one) and the path of url, for
 * signing ("/" when the URL has none). */
int sky_http_url_parts(const char *url, char *host, size_t hostlen, char *path, size_t pathlen);

#endif
