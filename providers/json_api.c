/* JSON API calls with retries (see json_api.h). */
#include "providers/json_api.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

enum sky_api_kind sky_api_classify_status(long status)
{
	if (status >= 200 && status < 300)
		return SKY_API_OK;
	if (status == 401 || status == 403)
		return SKY_API_AUTH;
	if (status == 404)
		return SKY_API_NOTFOUND;
	if (status == 409)
		return SKY_API_DUPLICATE;
	if (status == 429)
		return SKY_API_THROTTLE;
	if (status >= 500)
		return SKY_API_SERVER;
	return status ? SKY_API_CLIENT : SKY_API_NETWORK;
}

const char *sky_json_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

/* The answer's text on one line, for a message when it is not JSON. */
static void snippet(const char *raw, char *out, size_t len)
{
	size_t i, k = 0;

	for (i = 0; raw && raw[i] && k + 1 < len && k < 200; i++)
		out[k++] = raw[i] == '\n' || raw[i] == '\r' || raw[i] == '\t' ? ' ' : raw[i];
	out[k] = '\0';
}

struct json_attempt {
	struct sky_http *h;
	const struct sky_api_req *r;
	const char *payload;
	json_t **out;
};

static int attempt(void *arg, struct sky_api_error *e, long *retry_after)
{
	struct json_attempt *a = arg;
	const struct sky_api_req *r = a->r;
	const char *payload = a->payload;
	struct sky_http_resp resp = { 0 };
	struct sky_http_req req = { 0 };
	struct sky_buf auth = { 0 };
	const char *headers[3 + 4];
	json_t *doc = NULL;
	json_error_t jerr;
	size_t nh = 0;
	int rc;

	headers[nh++] = "Accept: application/json";
	if (payload)
		headers[nh++] = "Content-Type: application/json";
	if (r->bearer) {
		if ((rc = sky_buf_printf(&auth, "Authorization: Bearer %s", r->bearer)))
			goto out;
		headers[nh++] = auth.data;
	}
	for (size_t i = 0; i < r->n_headers && i < 4; i++)
		headers[nh++] = r->headers[i];
	req.method = r->method;
	req.url = r->url;
	req.headers = headers;
	req.n_headers = nh;
	req.body = payload;
	req.body_len = payload ? strlen(payload) : 0;
	req.timeout_ms = r->timeout_ms;
	req.unix_socket = r->unix_socket;
	rc = sky_http_do(a->h, &req, &resp);
	*retry_after = resp.retry_after_ms;
	if (rc) {
		e->kind = rc == -EFBIG || rc == -ENOMEM ? SKY_API_CLIENT : SKY_API_NETWORK;
		snprintf(e->message, sizeof(e->message), "%s", resp.error);
		goto out;
	}
	e->http_status = resp.status;
	if (resp.body.len)
		doc = json_loadb(resp.body.data, resp.body.len, JSON_DECODE_ANY, &jerr);
	else
		doc = json_null();
	e->kind = r->classify ? r->classify(resp.status, doc, resp.body.data, e) :
		  sky_api_classify_status(resp.status);
	if (e->kind == SKY_API_OK && !doc) {
		e->kind = SKY_API_CLIENT;
		snprintf(e->message, sizeof(e->message), "HTTP %ld with an answer that is not "
			 "JSON: %s", resp.status, jerr.text);
	}
	if (e->kind != SKY_API_OK) {
		if (!e->message[0]) {
			char text[256];

			snippet(resp.body.data, text, sizeof(text));
			snprintf(e->message, sizeof(e->message), "HTTP %ld%s%s", resp.status,
				 text[0] ? ": " : "", text);
		}
		rc = sky_api_errno(e->kind) ? sky_api_errno(e->kind) : -EIO;
		if (r->keep_error_doc) {
			json_decref(*a->out);
			*a->out = doc;
			doc = NULL;
		}
		goto out;
	}
	json_decref(*a->out);   /* an earlier attempt's refusal (keep_error_doc) */
	*a->out = doc;
	doc = NULL;
out:
	json_decref(doc);
	if (auth.data)
		OPENSSL_cleanse(auth.data, auth.len);
	sky_buf_free(&auth);
	sky_buf_free(&resp.body);
	return rc;
}

int sky_api_json(struct sky_http *h, const struct sky_api_req *r, json_t **out,
		 struct sky_api_error *e)
{
	struct sky_retry retry = r->retry.max_attempts ? r->retry : SKY_RETRY_DEFAULT;
	struct json_attempt a = { h, r, NULL, out };
	char *payload = NULL, what[600];
	int rc;

	*out = NULL;
	memset(e, 0, sizeof(*e));
	if (r->body && !(payload = json_dumps(r->body, JSON_COMPACT | JSON_ENCODE_ANY))) {
		e->kind = SKY_API_CLIENT;
		snprintf(e->message, sizeof(e->message), "out of memory");
		return -ENOMEM;
	}
	a.payload = payload;
	snprintf(what, sizeof(what), "%s %s", r->method, r->url);
	rc = sky_retry_run(&retry, what, attempt, &a, e);
	free(payload);
	return rc;
}
