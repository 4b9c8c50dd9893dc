/* JSON APIs over the HTTP client (json_api.c): the REST and GraphQL clouds
 * (RunPod, Vast.ai, Lambda) send a JSON body with a bearer token and get
 * JSON back. One call here is the whole exchange: the body encoded, the
 * token in the Authorization header (never logged, wiped after), the
 * answer parsed, classified by the provider's own table (classify), and
 * retried on throttling, 5xx and timeouts per sky_retry, honouring
 * Retry-After. Thread-safe as sky_http_do() is. */
#ifndef SKY_JSON_API_H
#define SKY_JSON_API_H

#include <jansson.h>

#include "providers/http.h"

/* What an answer means: status is the HTTP status, body the parsed JSON
 * (NULL when the answer was not JSON; raw is its text). Sets e->code and
 * e->message on failure and returns the kind; SKY_API_OK for success. */
typedef enum sky_api_kind (*sky_api_classify_fn)(long status, json_t *body, const char *raw,
						  struct sky_api_error *e);

struct sky_api_req {
	const char *method;            /* "GET", "POST", "PUT", "DELETE" */
	const char *url;
	const char *bearer;            /* the API key, sent as "Authorization: Bearer KEY" */
	const char *const *headers;    /* more "Name: value" lines (at most 4; the caller
					* wipes any secret among them) */
	size_t n_headers;
	const char *unix_socket;       /* sky_http_req's */
	int keep_error_doc;            /* a refusal's JSON document goes to *out too
					* (the caller frees it): it may say more */
	json_t *body;                  /* borrowed; NULL for none */
	sky_api_classify_fn classify;  /* NULL: sky_api_classify_status */
	struct sky_retry retry;        /* max_attempts 0: SKY_RETRY_DEFAULT */
	int timeout_ms;                /* per attempt; 0: the HTTP client's default */
};

/* One call with retries. 0 and *out (the parsed answer, json_decref; an
 * empty body is JSON null), or -errno (sky_api_errno of the kind) with e
 * (and with keep_error_doc, *out the refusal's document or NULL). */
int sky_api_json(struct sky_http *h, const struct sky_api_req *r, json_t **out,
		 struct sky_api_error *e);

/* The kind an HTTP status means on its own: 2xx OK, 401/403 auth, 404 not
 * found, 409 duplicate, 429 throttle, 5xx server, other 4xx client. */
enum sky_api_kind sky_api_classify_status(long status);

/* A string member of obj ("" when absent or not a string). */
const char *sky_json_str(json_t *obj, const char *key);

#endif
