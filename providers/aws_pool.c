/* The aws provider's plumbing and per-pool resources: the call wrapper
 * and the credentials' health for status, the pool's instance cache
 * (one DescribeInstances for every waiting thread), and the key pair,
 * security group and image that prepare() sets up and teardown() removes. */
#define LOG_MODULE "aws"
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "providers/aws_internal.h"
#include "providers/http.h"
#include "scheduler/spec.h"
#include "providers/cloud.h"
#include "transport/sshkey.h"

#define DEFAULT_IMAGE_NAME "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)*"
#define CHECKIP_URL "https://checkip.amazonaws.com/"
#define IMAGE_CACHE_S (24 * 3600)

static struct sky_cloud_health health = SKY_CLOUD_HEALTH_INIT;
static struct {
	pthread_mutex_t lock;
	char region[32];
} last = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* One call, its failure as "aws: <what>: <Code>: <Message>" in err. */
int aws_pcall(struct aws_client *c, const char *action, const struct sky_buf *params,
		xmlDoc **doc, struct sky_err *err, const char *what, struct aws_error *out)
{
	struct aws_error e;
	int rc = aws_call(c, action, params, doc, &e);

	sky_cloud_health_note(&health, rc, &e, c->endpoint);
	pthread_mutex_lock(&last.lock);
	sky_strlcpy(last.region, c->region, sizeof(last.region));
	pthread_mutex_unlock(&last.lock);
	if (rc && err) {
		if (e.kind == SKY_API_AUTH)
			sky_err_set(err, "aws: credentials refused, check them (%s): %s: %s: %s",
				    c->creds.source, action, e.code, e.message);
		else
			sky_err_set(err, "aws: %s: %s%s%s%s", what, e.code, e.code[0] ? ": " : "",
				    e.message, e.attempts > 1 ? " (after retries)" : "");
	}
	if (out)
		*out = e;
	return rc;
}

void aws_render_health(struct sky_buf *out, int configured)
{
	sky_cloud_health_render(&health, out, configured);
	pthread_mutex_lock(&last.lock);
	if (last.region[0])
		sky_buf_printf(out, "region: %s\n", last.region);
	pthread_mutex_unlock(&last.lock);
}

int aws_client_for(struct aws_client *c, const char *region, struct sky_err *err)
{
	char msg[512] = "";
	int rc = aws_client_init(c, region, msg, sizeof(msg));

	if (rc)
		sky_err_set(err, "aws: %s", msg[0] ? msg : strerror(-rc));
	/* without credentials every candidate of the provider would fail alike */
	return rc == -ENOENT || rc == -EINVAL ? -EACCES : rc;
}

/* ---- prepare: key pair, security group, image ----------------------------------- */

/* Adds "Name.1=..." style numbered lists and tags: the Query API's shape. */
void aws_add_tag(struct sky_aws_query *q, int n, const char *key, const char *value)
{
	char name[64];

	snprintf(name, sizeof(name), "TagSpecification.1.Tag.%d.Key", n);
	sky_aws_query_add(q, name, key);
	snprintf(name, sizeof(name), "TagSpecification.1.Tag.%d.Value", n);
	sky_aws_query_add(q, name, value);
}

/* A call whose answer only says true; its failure in err and *e. */
int aws_simple_call(struct aws_state *st, const char *action, struct sky_buf *q,
		       struct sky_err *err, const char *what, struct aws_error *e)
{
	xmlDoc *doc = NULL;
	int rc = aws_pcall(&st->api, action, q, &doc, err, what, e);

	xmlFreeDoc(doc);
	sky_buf_free(q);
	return rc;
}

int aws_delete_key_pair(struct aws_state *st, struct sky_err *err)
{
	struct sky_buf q = { 0 };
	struct sky_aws_query p = { &q, 0 };

	sky_aws_query_add(&p, "KeyName", st->key_name);
	return p.rc ? p.rc : aws_simple_call(st, "DeleteKeyPair", &q, err, "deleting the key pair",
					 NULL);
}

/* The pool's login key, made here and imported; one left by an earlier
 * run of this pool (same name) is replaced. */
int aws_import_key(struct aws_state *st, struct sky_err *err)
{
	char pub[SKY_SSHKEY_LINE_MAX];
	struct aws_error e;
	int rc, tries;

	if ((rc = sky_cloud_login_key(st->base.dir, st->base.resume, st->key_name, st->base.key_path,
				      sizeof(st->base.key_path), pub, sizeof(pub), err)))
		return rc;
	for (tries = 0; tries < 2; tries++) {
		struct sky_buf q = { 0 };
		struct sky_aws_query p = { &q, 0 };
		char b64[2 * SKY_SSHKEY_LINE_MAX];

		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pub, (int)strlen(pub));
		sky_aws_query_add(&p, "KeyName", st->key_name);
		sky_aws_query_add(&p, "PublicKeyMaterial", b64);
		rc = p.rc ? p.rc : aws_simple_call(st, "ImportKeyPair", &q, err,
					       "importing the key pair", &e);
		if (rc != -EEXIST)
			break;
		/* ours by its name: a recovering pool's login key is the one it
		 * holds (sky_cloud_login_key kept it) */
		if (st->base.resume) {
			rc = 0;
			break;
		}
		/* a crashed run's, whose private half is gone */
		if ((rc = aws_delete_key_pair(st, err)))
			break;
	}
	if (!rc)
		st->key_imported = 1;
	return rc;
}

/* This machine's address as the internet sees it, as a /32. */
static int own_cidr(char *out, size_t len, struct sky_err *err)
{
	const char *url = getenv("SKYFS_CHECKIP_URL");
	struct sky_http *h = sky_http_new();
	struct sky_http_req req = { 0 };
	struct sky_http_resp resp = { 0 };
	unsigned a, b, c, d;
	char tail;
	int rc;

	if (!h)
		return -ENOMEM;
	req.method = "GET";
	req.url = url && *url ? url : CHECKIP_URL;
	req.timeout_ms = 10000;
	req.max_response = 4096;
	rc = sky_http_do(h, &req, &resp);
	if (!rc && (resp.status != 200 ||
		    sscanf(resp.body.data, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) < 4 ||
		    a > 255 || b > 255 || c > 255 || d > 255))
		rc = -EPROTO;
	if (rc)
		sky_err_set(err, "aws: cannot learn this machine's public IPv4 address from %s "
			    "(%s); set ssh_cidr in the spec", req.url,
			    resp.error[0] ? resp.error : "no address in the answer");
	else
		snprintf(out, len, "%u.%u.%u.%u/32", a, b, c, d);
	sky_buf_free(&resp.body);
	sky_http_free(h);
	return rc;
}

int aws_delete_group(struct aws_state *st, struct sky_err *err, struct aws_error *e)
{
	struct sky_buf q = { 0 };
	struct sky_aws_query p = { &q, 0 };

	sky_aws_query_add(&p, "GroupId", st->group_id);
	return p.rc ? p.rc : aws_simple_call(st, "DeleteSecurityGroup", &q, err,
					 "deleting the security group", e);
}

/* The id of the group named as the pool's (one an earlier run made). */
static int find_group(struct aws_state *st, struct sky_err *err)
{
	struct sky_buf q = { 0 };
	struct sky_aws_query p = { &q, 0 };
	xmlDoc *doc = NULL;
	int rc;

	sky_aws_query_add(&p, "GroupName.1", st->key_name);
	rc = p.rc ? p.rc : aws_pcall(&st->api, "DescribeSecurityGroups", &q, &doc, err,
				     "finding the security group", NULL);
	sky_buf_free(&q);
	if (!rc && aws_parse_group_id(doc, st->group_id, sizeof(st->group_id))) {
		sky_err_set(err, "aws: DescribeSecurityGroups answered without a groupId");
		rc = -EPROTO;
	}
	xmlFreeDoc(doc);
	return rc;
}

int aws_create_group(struct aws_state *st, struct sky_err *err)
{
	char cidr[64];
	struct aws_error e;
	xmlDoc *doc = NULL;
	int rc, tries;

	if (st->base.spec->ssh_cidr)
		sky_strlcpy(cidr, st->base.spec->ssh_cidr, sizeof(cidr));
	else if ((rc = own_cidr(cidr, sizeof(cidr), err)))
		return rc;
	for (tries = 0; tries < 2; tries++) {
		struct sky_buf q = { 0 };
		struct sky_aws_query p = { &q, 0 };

		sky_aws_query_add(&p, "GroupName", st->key_name);
		sky_aws_query_add(&p, "GroupDescription", "skyfs pool: SSH from the controller only");
		rc = p.rc ? p.rc : aws_pcall(&st->api, "CreateSecurityGroup", &q, &doc, err,
					"creating the security group", &e);
		sky_buf_free(&q);
		if (rc != -EEXIST)
			break;
		/* a recovering pool's machines are in it: keep it */
		if (st->base.resume) {
			xmlFreeDoc(doc);
			doc = NULL;
			return find_group(st, err);
		}
		/* an earlier run of this pool left it: delete by name, make anew */
		sky_aws_query_add(&p, "GroupName", st->key_name);
		if ((rc = p.rc ? p.rc : aws_simple_call(st, "DeleteSecurityGroup", &q, err,
						     "replacing the security group", NULL)))
			break;
	}
	if (rc)
		goto out;
	aws_xml_root_text(doc, "groupId", st->group_id, sizeof(st->group_id));
	if (!st->group_id[0]) {
		sky_err_set(err, "aws: CreateSecurityGroup answered without a groupId");
		rc = -EPROTO;
		goto out;
	}
	{
		struct sky_buf q = { 0 };
		struct sky_aws_query p = { &q, 0 };

		sky_aws_query_add(&p, "GroupId", st->group_id);
		sky_aws_query_add(&p, "IpPermissions.1.IpProtocol", "tcp");
		sky_aws_query_add(&p, "IpPermissions.1.FromPort", "22");
		sky_aws_query_add(&p, "IpPermissions.1.ToPort", "22");
		sky_aws_query_add(&p, "IpPermissions.1.IpRanges.1.CidrIp", cidr);
		rc = p.rc ? p.rc : aws_simple_call(st, "AuthorizeSecurityGroupIngress", &q, err,
					       "opening SSH in the security group", NULL);
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

/* The newest Deep Learning Base AMI of a region, looked up once a day. */
static struct {
	pthread_mutex_t lock;
	struct { char region[32]; char id[64]; double at; } rows[8];
} images = { .lock = PTHREAD_MUTEX_INITIALIZER };

int aws_find_image(struct aws_state *st, struct sky_err *err)
{
	struct sky_buf q = { 0 };
	struct sky_aws_query p = { &q, 0 };
	xmlDoc *doc = NULL;
	char name[256];
	size_t i, slot = 0;
	int rc;

	if (st->base.spec->image) {
		/* the spec's image may name a container image (container provider) */
		if (strncmp(st->base.spec->image, "ami-", 4)) {
			sky_err_set(err, "aws: image %s is not an AWS machine image (ami-...)",
				    st->base.spec->image);
			return -EINVAL;
		}
		sky_strlcpy(st->image, st->base.spec->image, sizeof(st->image));
		return 0;
	}
	pthread_mutex_lock(&images.lock);
	for (i = 0; i < SKY_ARRAY_SIZE(images.rows); i++) {
		if (!strcmp(images.rows[i].region, st->api.region) &&
		    sky_mono() - images.rows[i].at < IMAGE_CACHE_S)
			sky_strlcpy(st->image, images.rows[i].id, sizeof(st->image));
		if (images.rows[i].at < images.rows[slot].at)
			slot = i;
	}
	pthread_mutex_unlock(&images.lock);
	if (st->image[0])
		return 0;
	sky_aws_query_add(&p, "Owner.1", "amazon");
	sky_aws_query_add(&p, "Filter.1.Name", "name");
	sky_aws_query_add(&p, "Filter.1.Value.1", DEFAULT_IMAGE_NAME);
	sky_aws_query_add(&p, "Filter.2.Name", "state");
	sky_aws_query_add(&p, "Filter.2.Value.1", "available");
	rc = p.rc ? p.rc : aws_pcall(&st->api, "DescribeImages", &q, &doc, err, "finding the image",
				NULL);
	sky_buf_free(&q);
	if (!rc && aws_parse_newest_image(doc, st->image, sizeof(st->image), name, sizeof(name))) {
		sky_err_set(err, "aws: no \"%s\" image in %s; set image = ami-... in the spec",
			    DEFAULT_IMAGE_NAME, st->api.region);
		rc = -ENOENT;
	}
	xmlFreeDoc(doc);
	if (rc)
		return rc;
	log_info("%s: image %s (%s)", st->api.region, st->image, name);
	pthread_mutex_lock(&images.lock);
	for (i = 0; i < SKY_ARRAY_SIZE(images.rows); i++)
		if (!strcmp(images.rows[i].region, st->api.region))
			slot = i;
	sky_strlcpy(images.rows[slot].region, st->api.region, sizeof(images.rows[slot].region));
	sky_strlcpy(images.rows[slot].id, st->image, sizeof(images.rows[slot].id));
	images.rows[slot].at = sky_mono();
	pthread_mutex_unlock(&images.lock);
	return 0;
}

/* ---- the pool's instances, described together ------------------------------------ */

int aws_describe(struct aws_client *c, const char *const *filters, struct aws_instance **out,
		 size_t *n, struct sky_err *err)
{
	char token[1024] = "", name[48];
	int rc, f, v;

	do {
		struct sky_buf q = { 0 };
		struct sky_aws_query p = { &q, 0 };
		xmlDoc *doc = NULL;

		const char *const *fl = filters;

		/* "name", "value", ..., NULL, then the next filter; NULL NULL ends */
		for (f = 1; *fl; f++, fl++) {
			snprintf(name, sizeof(name), "Filter.%d.Name", f);
			sky_aws_query_add(&p, name, *fl++);
			for (v = 1; *fl; v++, fl++) {
				snprintf(name, sizeof(name), "Filter.%d.Value.%d", f, v);
				sky_aws_query_add(&p, name, *fl);
			}
		}
		if (token[0])
			sky_aws_query_add(&p, "NextToken", token);
		rc = p.rc ? p.rc : aws_pcall(c, "DescribeInstances", &q, &doc, err,
					     "describing the instances", NULL);
		if (!rc)
			rc = aws_parse_instances(doc, out, n, token, sizeof(token));
		sky_buf_free(&q);
		xmlFreeDoc(doc);
	} while (!rc && token[0]);
	return rc;
}

/* Refreshes st->seen unless it is younger than max_age: one thread asks
 * EC2, every other waits for that answer. Lock not held. */
static int describe(void *arg, struct sky_err *err)
{
	struct aws_state *st = arg;
	struct aws_instance *list = NULL;
	const char *filters[] = { "tag:skyfs:pool", st->base.id, NULL,
				  "tag:skyfs:mount", st->base.mount, NULL, NULL };
	size_t n = 0;
	int rc;

	rc = aws_describe(&st->api, filters, &list, &n, err);
	pthread_mutex_lock(&st->base.lock);
	if (!rc) {
		free(st->seen);
		st->seen = list;
		st->n_seen = n;
		list = NULL;
	}
	pthread_mutex_unlock(&st->base.lock);
	free(list);
	return rc;
}

int aws_refresh(struct aws_state *st, double max_age, struct sky_err *err)
{
	return sky_cloud_poll(&st->base.poll, max_age, describe, st, err);
}

/* The cached view of instance id: 0 and *out, -ENOENT when not listed. */
int aws_lookup(struct aws_state *st, const char *id, struct aws_instance *out)
{
	size_t i;
	int rc = -ENOENT;

	pthread_mutex_lock(&st->base.lock);
	for (i = 0; i < st->n_seen; i++)
		if (!strcmp(st->seen[i].id, id)) {
			*out = st->seen[i];
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&st->base.lock);
	return rc;
}

int aws_gone(const struct aws_instance *in)
{
	return !strcmp(in->state, "shutting-down") || !strcmp(in->state, "terminated") ||
	       !strcmp(in->state, "stopping") || !strcmp(in->state, "stopped");
}

void aws_why_gone(const struct aws_instance *in, char *buf, size_t len)
{
	int spot = !strcmp(in->reason_code, "Server.SpotInstanceTermination");

	snprintf(buf, len, "instance %s %s%s%s%s%s", in->id, spot ? "reclaimed by AWS (spot)" :
		 in->state, in->reason_code[0] ? " (" : "", in->reason_code,
		 in->reason[0] && !spot ? ": " : "", in->reason[0] && !spot ? in->reason : "");
	if (in->reason_code[0])
		sky_strlcpy(buf + strlen(buf), ")", len - strlen(buf));
}

