/* The cloud APIs' HTTP client: libcurl easy handles pooled per client (see
 * http.h). Each handle keeps its own connection cache, so a thread that
 * takes a handle back from the pool reuses its open connection. */
#define LOG_MODULE "http"
#include "providers/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"

#define POOL_MAX 32                   /* idle handles kept per client */
#define DEFAULT_TIMEOUT_MS 20000
#define CONNECT_TIMEOUT_MS 10000
#define DEFAULT_MAX_RESPONSE (16u << 20)

struct sky_http {
	pthread_mutex_t lock;
	CURL *idle[POOL_MAX];
	int n_idle;
};

static int default_timeout_ms = DEFAULT_TIMEOUT_MS;

void sky_http_set_default_timeout_ms(int ms)
{
	if (ms > 0)
		default_timeout_ms = ms;
}

int sky_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

struct sky_http *sky_http_new(void)
{
	struct sky_http *h = calloc(1, sizeof(*h));

	if (h)
		pthread_mutex_init(&h->lock, NULL);
	return h;
}

void sky_http_free(struct sky_http *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < h->n_idle; i++)
		curl_easy_cleanup(h->idle[i]);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static CURL *take(struct sky_http *h)
{
	CURL *c = NULL;

	pthread_mutex_lock(&h->lock);
	if (h->n_idle)
		c = h->idle[--h->n_idle];
	pthread_mutex_unlock(&h->lock);
	return c ? c : curl_easy_init();
}

static void give_back(struct sky_http *h, CURL *c)
{
	pthread_mutex_lock(&h->lock);
	if (h->n_idle < POOL_MAX) {
		curl_easy_reset(c);   /* options go; the connection cache stays */
		h->idle[h->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	if (c)
		curl_easy_cleanup(c);
}

struct sink {
	struct sky_buf *b;
	size_t max;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->b->len + len > s->max) {
		s->too_big = 1;
		return 0;    /* aborts the transfer */
	}
	return sky_buf_append(s->b, p, len) ? 0 : len;
}

/* Retry-After: delta-seconds, or an HTTP date. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct sky_http_resp *resp = arg;
	size_t len = size * n;
	char buf[128];
	struct tm tm = { 0 };

	if (len < 12 || len >= sizeof(buf) || strncasecmp(p, "retry-after:", 12))
		return len;
	memcpy(buf, p + 12, len - 12);
	buf[len - 12] = '\0';
	if (strspn(buf, " \t0123456789\r\n") == strlen(buf))
		resp->retry_after_ms = strtol(buf, NULL, 10) * 1000;
	else if (strptime(buf + strspn(buf, " \t"), "%a, %d %b %Y %H:%M:%S", &tm))
		resp->retry_after_ms = ((long)timegm(&tm) - (long)time(NULL)) * 1000;
	if (resp->retry_after_ms < 0)
		resp->retry_after_ms = 0;
	return len;
}

static int map_curl(CURLcode cc, int too_big)
{
	if (too_big)
		return -EFBIG;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int sky_http_do(struct sky_http *h, const struct sky_http_req *req, struct sky_http_resp *resp)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct sink sink = { &resp->body, req->max_response ? req->max_response :
			     DEFAULT_MAX_RESPONSE, 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	CURL *c;
	size_t i;
	int rc = 0;

	sky_buf_free(&resp->body);
	resp->status = 0;
	resp->retry_after_ms = -1;
	resp->error[0] = '\0';
	if (!(c = take(h))) {
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < req->n_headers; i++) {
		if (!(tmp = curl_slist_append(hdrs, req->headers[i]))) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs = tmp;
	}
	/* curl would add "Expect: 100-continue" to larger bodies: a round trip
	 * for nothing, and a header the request was not signed with */
	if (!(tmp = curl_slist_append(hdrs, "Expect:"))) {
		rc = -ENOMEM;
		goto out;
	}
	hdrs = tmp;
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->unix_socket)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (req->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	/* worker threads call this: no signals for timeouts */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 (long)(req->timeout_ms > 0 ? req->timeout_ms : default_timeout_ms));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "skyfs/" SKYFS_VERSION);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		rc = map_curl(cc, sink.too_big);
		snprintf(resp->error, sizeof(resp->error), "%s",
			 sink.too_big ? "answer too large" : errbuf[0] ? errbuf :
			 curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!resp->body.data && sky_buf_append(&resp->body, "", 0))
		rc = -ENOMEM;
out:
	if (rc == -ENOMEM && !resp->error[0])
		snprintf(resp->error, sizeof(resp->error), "out of memory");
	/* the handle must not keep pointers into this call's memory */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
	give_back(h, c);
	curl_slist_free_all(hdrs);
	return rc;
}

int sky_http_url_parts(const char *url, char *host, size_t hostlen, char *path, size_t pathlen)
{
	CURLU *u = curl_url();
	char *h = NULL, *port = NULL, *p = NULL;
	int rc = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		goto out;
	/* the Host header carries the port only when the URL names one */
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK)
		p = NULL;
	if ((size_t)snprintf(host, hostlen, "%s%s%s", h, port ? ":" : "", port ? port : "") >=
	    hostlen ||
	    (size_t)snprintf(path, pathlen, "%s", p && *p ? p : "/") >= pathlen) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	rc = 0;
out:
	curl_free(h);
	curl_free(port);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* ---- kinds and retrying ------------------------------------------------------ */

int sky_api_errno(enum sky_api_kind kind)
{
	switch (kind) {
	case SKY_API_OK:
		return 0;
	case SKY_API_CAPACITY:
	case SKY_API_PRICE:
	case SKY_API_QUOTA:
		return -EAGAIN;
	case SKY_API_AUTH:
		return -EACCES;
	case SKY_API_NOTFOUND:
		return -ENOENT;
	case SKY_API_DUPLICATE:
		return -EEXIST;
	case SKY_API_DEPENDENCY:
		return -EBUSY;
	case SKY_API_NETWORK:
	case SKY_API_THROTTLE:
		return -ETIMEDOUT;
	case SKY_API_SERVER:
		return -EREMOTEIO;
	default:
		return -EIO;
	}
}

int sky_api_retryable(enum sky_api_kind kind)
{
	return kind == SKY_API_THROTTLE || kind == SKY_API_SERVER || kind == SKY_API_NETWORK;
}

void sky_retry_wait(const struct sky_retry *r, int n, long retry_after_ms)
{
	static __thread unsigned int seed;
	long cap = r->base_delay_ms, ms;
	struct timespec ts;

	if (!seed)
		seed = (unsigned int)time(NULL) ^ (unsigned int)pthread_self();
	if (retry_after_ms >= 0) {
		ms = retry_after_ms < r->max_delay_ms ? retry_after_ms : r->max_delay_ms;
	} else {
		while (--n > 0 && cap < r->max_delay_ms)
			cap *= 2;
		if (cap > r->max_delay_ms)
			cap = r->max_delay_ms;
		ms = cap > 0 ? (long)(rand_r(&seed) % cap) : 0;
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int sky_retry_run(const struct sky_retry *r, const char *what,
		  int (*attempt)(void *arg, struct sky_api_error *e, long *retry_after_ms),
		  void *arg, struct sky_api_error *e)
{
	int rc, n;

	for (n = 0;;) {
		long retry_after = -1;

		memset(e, 0, sizeof(*e));
		rc = attempt(arg, e, &retry_after);
		e->attempts = ++n;
		if (!rc || !sky_api_retryable(e->kind) || n >= r->max_attempts)
			return rc;
		log_debug("%s: %s%s%s, retry %d of %d", what, e->code, e->code[0] ? ": " : "",
			  e->message, n, r->max_attempts - 1);
		sky_retry_wait(r, n, retry_after);
	}
}
