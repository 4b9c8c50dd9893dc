/* EC2 Query API calls: signing (aws_auth.h), sending (http.h), retrying,
 * error mapping and the response parsers (see aws_api.h). */
#include "providers/aws_api.h"

#include <ctype.h>
#include <errno.h>
#include <libxml/parser.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "providers/http.h"

#define DEFAULT_REGION "us-east-1"

/* ---- errors ------------------------------------------------------------------- */

static const struct {
	const char *code;
	enum sky_api_kind kind;
} codes[] = {
	{ "InsufficientInstanceCapacity", SKY_API_CAPACITY },
	{ "InsufficientHostCapacity", SKY_API_CAPACITY },
	{ "InsufficientCapacity", SKY_API_CAPACITY },
	{ "InsufficientReservedInstanceCapacity", SKY_API_CAPACITY },
	{ "Unsupported", SKY_API_CAPACITY },   /* the type is not offered in that zone */
	{ "SpotMaxPriceTooLow", SKY_API_PRICE },
	{ "MaxSpotInstanceCountExceeded", SKY_API_QUOTA },
	{ "VcpuLimitExceeded", SKY_API_QUOTA },
	{ "InstanceLimitExceeded", SKY_API_QUOTA },
	{ "RequestLimitExceeded", SKY_API_THROTTLE },
	{ "Throttling", SKY_API_THROTTLE },
	{ "ThrottlingException", SKY_API_THROTTLE },
	{ "InternalError", SKY_API_SERVER },
	{ "InternalFailure", SKY_API_SERVER },
	{ "ServiceUnavailable", SKY_API_SERVER },
	{ "Unavailable", SKY_API_SERVER },
	{ "AuthFailure", SKY_API_AUTH },
	{ "UnauthorizedOperation", SKY_API_AUTH },
	{ "SignatureDoesNotMatch", SKY_API_AUTH },
	{ "InvalidClientTokenId", SKY_API_AUTH },
	{ "RequestExpired", SKY_API_AUTH },      /* this machine's clock is off */
	{ "OptInRequired", SKY_API_AUTH },
	{ "PendingVerification", SKY_API_AUTH },
	{ "Blocked", SKY_API_AUTH },
	{ "DependencyViolation", SKY_API_DEPENDENCY },
};

enum sky_api_kind aws_err_classify(const char *code, long http_status)
{
	size_t i, n = code ? strlen(code) : 0;

	for (i = 0; n && i < SKY_ARRAY_SIZE(codes); i++)
		if (!strcmp(code, codes[i].code))
			return codes[i].kind;
	if (n > 9 && !strcmp(code + n - 9, ".NotFound"))
		return SKY_API_NOTFOUND;
	if (n > 10 && !strcmp(code + n - 10, ".Duplicate"))
		return SKY_API_DUPLICATE;
	if (http_status == 503)
		return SKY_API_THROTTLE;
	if (http_status >= 500)
		return SKY_API_SERVER;
	if (http_status == 401 || http_status == 403)
		return SKY_API_AUTH;
	return http_status ? SKY_API_CLIENT : SKY_API_NETWORK;
}

/* ---- XML ---------------------------------------------------------------------- */

static xmlNode *child(xmlNode *parent, const char *name)
{
	xmlNode *n;

	for (n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name))
			return n;
	return NULL;
}

/* The text of parent/a/b/... (NULL-terminated names) into buf, "" if absent. */
static void text_at(xmlNode *parent, char *buf, size_t len, ...)
{
	va_list ap;
	const char *name;
	xmlChar *t;

	va_start(ap, len);
	while (parent && (name = va_arg(ap, const char *)))
		parent = child(parent, name);
	va_end(ap);
	buf[0] = '\0';
	if (!parent || !(t = xmlNodeGetContent(parent)))
		return;
	sky_strlcpy(buf, (const char *)t, len);
	xmlFree(t);
}
#define TEXT(parent, buf, ...) text_at(parent, buf, sizeof(buf), __VA_ARGS__, (const char *)NULL)

void aws_xml_root_text(xmlDoc *doc, const char *name, char *buf, size_t len)
{
	text_at(xmlDocGetRootElement(doc), buf, len, name, (const char *)NULL);
}

int aws_parse_group_id(xmlDoc *doc, char *buf, size_t len)
{
	xmlNode *root = xmlDocGetRootElement(doc);

	buf[0] = '\0';
	text_at(root, buf, len, "securityGroupInfo", "item", "groupId", (const char *)NULL);
	return buf[0] ? 0 : -ENOENT;
}

/* EC2's messages may span lines (SignatureDoesNotMatch quotes the whole
 * canonical request); status and events take one line. */
static void one_line(char *s)
{
	char *r, *w = s;
	int space = 0;

	for (r = s; *r; r++) {
		if (isspace((unsigned char)*r)) {
			space = w != s;
			continue;
		}
		if (space)
			*w++ = ' ';
		space = 0;
		*w++ = *r;
	}
	*w = '\0';
}

int aws_parse_answer(const char *body, size_t len, long http_status, xmlDoc **doc,
		     struct aws_error *e)
{
	xmlDoc *d;
	xmlNode *root, *err;

	*doc = NULL;
	/* no network, no entities, no DTDs: the answer is data, nothing more */
	d = xmlReadMemory(body, (int)len, "answer.xml", NULL,
			  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = d ? xmlDocGetRootElement(d) : NULL;
	if (!root) {
		xmlFreeDoc(d);
		e->kind = aws_err_classify(NULL, http_status);
		e->http_status = http_status;
		snprintf(e->message, sizeof(e->message), "HTTP %ld with an answer that is not XML",
			 http_status);
		return -EBADMSG;
	}
	err = child(child(root, "Errors"), "Error");
	if (!strcmp((const char *)root->name, "Response") || err || http_status >= 300) {
		TEXT(err, e->code, "Code");
		TEXT(err, e->message, "Message");
		one_line(e->message);
		e->http_status = http_status;
		e->kind = aws_err_classify(e->code, http_status);
		if (!e->message[0])
			snprintf(e->message, sizeof(e->message), "HTTP %ld", http_status);
		xmlFreeDoc(d);
		return -EIO;
	}
	*doc = d;
	return 0;
}

static int grow(void **arr, size_t n, size_t size)
{
	void *p;

	if (n & (n - 1) && n)   /* grows at powers of two */
		return 0;
	p = realloc(*arr, (n ? n * 2 : 4) * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

static void parse_one(xmlNode *item, struct aws_instance *in)
{
	char code[16], key[64], val[128];
	xmlNode *t;

	memset(in, 0, sizeof(*in));
	in->rank = -1;
	TEXT(item, in->id, "instanceId");
	TEXT(item, in->type, "instanceType");
	TEXT(item, in->state, "instanceState", "name");
	TEXT(item, code, "instanceState", "code");
	in->state_code = atoi(code) & 0xff;   /* the high byte is internal */
	TEXT(item, in->public_ip, "ipAddress");
	TEXT(item, in->private_ip, "privateIpAddress");
	TEXT(item, val, "instanceLifecycle");
	in->spot = !strcmp(val, "spot");
	TEXT(item, in->reason_code, "stateReason", "code");
	TEXT(item, in->reason, "stateReason", "message");
	for (t = child(child(item, "tagSet"), "item"); t; t = t->next) {
		if (t->type != XML_ELEMENT_NODE)
			continue;
		TEXT(t, key, "key");
		TEXT(t, val, "value");
		if (!strcmp(key, "skyfs:pool"))
			sky_strlcpy(in->pool_tag, val, sizeof(in->pool_tag));
		else if (!strcmp(key, "skyfs:node"))
			in->rank = atoi(val);
	}
}

static int add_instances(xmlNode *set, struct aws_instance **out, size_t *n)
{
	xmlNode *it;

	for (it = set ? set->children : NULL; it; it = it->next) {
		if (it->type != XML_ELEMENT_NODE || strcmp((const char *)it->name, "item"))
			continue;
		if (grow((void **)out, *n, sizeof(**out)))
			return -ENOMEM;
		parse_one(it, &(*out)[(*n)++]);
	}
	return 0;
}

int aws_parse_instances(xmlDoc *doc, struct aws_instance **out, size_t *n,
			char *next_token, size_t tokenlen)
{
	xmlNode *root = xmlDocGetRootElement(doc), *r;
	int rc;

	if (next_token)
		text_at(root, next_token, tokenlen, "nextToken", (const char *)NULL);
	if ((rc = add_instances(child(root, "instancesSet"), out, n)))
		return rc;
	for (r = child(child(root, "reservationSet"), "item"); r; r = r->next)
		if (r->type == XML_ELEMENT_NODE &&
		    (rc = add_instances(child(r, "instancesSet"), out, n)))
			return rc;
	return 0;
}

int aws_parse_terminating(xmlDoc *doc, struct aws_instance **out, size_t *n)
{
	xmlNode *it;
	char code[16];

	for (it = child(child(xmlDocGetRootElement(doc), "instancesSet"), "item"); it;
	     it = it->next) {
		if (it->type != XML_ELEMENT_NODE)
			continue;
		if (grow((void **)out, *n, sizeof(**out)))
			return -ENOMEM;
		struct aws_instance *in = &(*out)[(*n)++];

		memset(in, 0, sizeof(*in));
		in->rank = -1;
		TEXT(it, in->id, "instanceId");
		TEXT(it, in->state, "currentState", "name");
		TEXT(it, code, "currentState", "code");
		in->state_code = atoi(code) & 0xff;
	}
	return 0;
}

/* "2026-11-29T05:43:26.000Z" as epoch seconds (0 when unreadable). */
static long long iso_time(const char *s)
{
	return (long long)sky_parse_time(s);
}

int aws_parse_spot_prices(xmlDoc *doc, struct aws_spot_price **out, size_t *n,
			  char *next_token, size_t tokenlen)
{
	xmlNode *root = xmlDocGetRootElement(doc), *it;
	char price[32], when[64];

	if (next_token)
		text_at(root, next_token, tokenlen, "nextToken", (const char *)NULL);
	for (it = child(child(root, "spotPriceHistorySet"), "item"); it; it = it->next) {
		struct aws_spot_price *sp;
		char *end;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		if (grow((void **)out, *n, sizeof(**out)))
			return -ENOMEM;
		sp = &(*out)[*n];
		memset(sp, 0, sizeof(*sp));
		TEXT(it, sp->type, "instanceType");
		TEXT(it, sp->zone, "availabilityZone");
		TEXT(it, price, "spotPrice");
		TEXT(it, when, "timestamp");
		sp->price = strtod(price, &end);
		sp->when = iso_time(when);
		/* a row without a type or a price is no offer */
		if (sp->type[0] && end != price && sp->price > 0)
			(*n)++;
	}
	return 0;
}

int aws_parse_newest_image(xmlDoc *doc, char *id, size_t idlen, char *name, size_t namelen)
{
	xmlNode *it;
	char best[64] = "", created[64], iid[64], iname[256], state[32];

	id[0] = '\0';
	if (name && namelen)
		name[0] = '\0';
	for (it = child(child(xmlDocGetRootElement(doc), "imagesSet"), "item"); it;
	     it = it->next) {
		if (it->type != XML_ELEMENT_NODE)
			continue;
		TEXT(it, iid, "imageId");
		TEXT(it, iname, "name");
		TEXT(it, created, "creationDate");
		TEXT(it, state, "imageState");
		/* ISO 8601 in UTC orders as text */
		if (!iid[0] || (state[0] && strcmp(state, "available")) || strcmp(created, best) <= 0)
			continue;
		sky_strlcpy(best, created, sizeof(best));
		sky_strlcpy(id, iid, idlen);
		if (name && namelen)
			sky_strlcpy(name, iname, namelen);
	}
	return id[0] ? 0 : -ENOENT;
}

/* ---- the client ------------------------------------------------------------- */

int aws_client_init(struct aws_client *c, const char *region, char *msg, size_t msglen)
{
	const char *ep;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = sky_aws_load_creds(&c->creds, msg, msglen)))
		goto fail;
	sky_strlcpy(c->region, region && *region ? region : c->creds.region[0] ?
		    c->creds.region : DEFAULT_REGION, sizeof(c->region));
	ep = getenv("AWS_ENDPOINT_URL_EC2");
	if (!ep || !*ep)
		ep = getenv("AWS_ENDPOINT_URL");
	if (ep && *ep)
		snprintf(c->endpoint, sizeof(c->endpoint), "%s", ep);
	else
		snprintf(c->endpoint, sizeof(c->endpoint), "https://ec2.%s.amazonaws.com/",
			 c->region);
	if (sky_http_url_parts(c->endpoint, c->host, sizeof(c->host), c->path,
			       sizeof(c->path))) {
		snprintf(msg, msglen, "invalid EC2 endpoint URL \"%s\"", c->endpoint);
		rc = -EINVAL;
		goto fail;
	}
	if (!(c->http = sky_http_new())) {
		rc = -ENOMEM;
		goto fail;
	}
	c->retry = SKY_RETRY_DEFAULT;
	return 0;
fail:
	OPENSSL_cleanse(&c->creds, sizeof(c->creds));
	return rc;
}

void aws_client_fini(struct aws_client *c)
{
	sky_http_free(c->http);
	c->http = NULL;
	OPENSSL_cleanse(&c->creds, sizeof(c->creds));
}

/* One signed POST; 0 with *doc, or -errno with e. */
struct aws_attempt {
	struct aws_client *c;
	const struct sky_buf *body;
	xmlDoc **doc;
};

static int attempt(void *arg, struct aws_error *e, long *retry_after)
{
	struct aws_attempt *a = arg;
	struct aws_client *c = a->c;
	const struct sky_buf *body = a->body;
	xmlDoc **doc = a->doc;
	struct sky_sigv4_header sh[4];
	struct sky_sigv4_input in = { 0 };
	struct sky_buf authz = { 0 }, hv[5] = { { 0 } };
	struct sky_http_resp resp = { 0 };
	struct sky_http_req req = { 0 };
	const char *lines[5];
	char date[17];
	size_t nh = 0, i;
	int rc;

	sky_aws_amz_date(time(NULL), date);
	sh[nh++] = (struct sky_sigv4_header){ "content-type",
		"application/x-www-form-urlencoded; charset=utf-8" };
	sh[nh++] = (struct sky_sigv4_header){ "host", c->host };
	sh[nh++] = (struct sky_sigv4_header){ "x-amz-date", date };
	if (c->creds.session_token[0])
		sh[nh++] = (struct sky_sigv4_header){ "x-amz-security-token",
			c->creds.session_token };
	in.method = "POST";
	in.path = c->path;
	in.query = "";
	in.headers = sh;
	in.n_headers = nh;
	in.body = body->data;
	in.body_len = body->len;
	in.region = c->region;
	in.service = "ec2";
	in.amz_date = date;
	if ((rc = sky_sigv4_authorization(&in, c->creds.access_key_id, c->creds.secret_access_key,
					  &authz)))
		goto out;
	for (i = 0; i < nh; i++)
		if ((rc = sky_buf_printf(&hv[i], "%s: %s", sh[i].name, sh[i].value)))
			goto out;
	if ((rc = sky_buf_printf(&hv[nh], "Authorization: %s", authz.data)))
		goto out;
	for (i = 0; i <= nh; i++)
		lines[i] = hv[i].data;
	req.method = "POST";
	req.url = c->endpoint;
	req.headers = lines;
	req.n_headers = nh + 1;
	req.body = body->data ? body->data : "";
	req.body_len = body->len;
	req.timeout_ms = c->timeout_ms;
	rc = sky_http_do(c->http, &req, &resp);
	if (rc) {
		e->kind = rc == -EFBIG || rc == -ENOMEM ? SKY_API_CLIENT : SKY_API_NETWORK;
		e->http_status = 0;
		e->code[0] = '\0';
		snprintf(e->message, sizeof(e->message), "%s: %s", c->host, resp.error);
		goto out;
	}
	*retry_after = resp.retry_after_ms;
	rc = aws_parse_answer(resp.body.data, resp.body.len, resp.status, doc, e);
	if (rc == -EIO)
		rc = sky_api_errno(e->kind) ? sky_api_errno(e->kind) : -EIO;
out:
	/* the signature and the session token must not linger on the heap */
	for (i = 0; i < SKY_ARRAY_SIZE(hv); i++) {
		if (hv[i].data)
			OPENSSL_cleanse(hv[i].data, hv[i].len);
		sky_buf_free(&hv[i]);
	}
	sky_buf_free(&authz);
	sky_buf_free(&resp.body);
	return rc;
}

int aws_call(struct aws_client *c, const char *action, const struct sky_buf *params,
	     xmlDoc **doc, struct aws_error *e)
{
	struct sky_buf body = { 0 };
	struct sky_aws_query q = { &body, 0 };
	struct aws_attempt a = { c, &body, doc };
	int rc;

	*doc = NULL;
	memset(e, 0, sizeof(*e));
	sky_aws_query_add(&q, "Action", action);
	sky_aws_query_add(&q, "Version", AWS_API_VERSION);
	if (!q.rc && params && params->len)
		q.rc = sky_buf_printf(&body, "&%s", params->data);
	if (q.rc) {
		rc = q.rc;
		snprintf(e->message, sizeof(e->message), "out of memory");
		e->kind = SKY_API_CLIENT;
		goto out;
	}
	rc = sky_retry_run(&c->retry, action, attempt, &a, e);
	if (rc && !e->kind)
		e->kind = SKY_API_CLIENT;
out:
	sky_buf_free(&body);
	return rc;
}
