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
};

struct sky_http_resp {
	long status;                    /* HTTP status; 0 when no answer came */
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

/* The host (with ":port" when the URL names one) and the path of url, for
 * signing ("/" when the URL has none). */
int sky_http_url_parts(const char *url, char *host, size_t hostlen, char *path, size_t pathlen);

#endif
