/* The EC2 Query API as skyfs speaks it (aws_api.c): signed calls with
 * bounded retries, the mapping of every error code to what the provider
 * does about it (one table), and the parsers of the responses it reads
 * into plain structs, so that aws.c never walks XML itself.
 *
 * Ownership: struct aws_client is the caller's (aws.c keeps one per pool
 * and a short-lived one for offers); aws_client_init fills it,
 * aws_client_fini frees its HTTP handles and wipes its secrets. Locking:
 * aws_call may run in several threads on one client (the HTTP handle pool
 * is locked; everything else is read-only after init). */
#ifndef SKY_AWS_API_H
#define SKY_AWS_API_H

#include <stddef.h>

#include <libxml/tree.h>

#include "common/util.h"
#include "providers/http.h"
#include "providers/aws_auth.h"

#define AWS_API_VERSION "2016-11-15"

/* A failed call (http.h); code is EC2's <Code>. */
#define aws_error sky_api_error

/* The kind of an EC2 error code and HTTP status (the one table). */
enum sky_api_kind aws_err_classify(const char *code, long http_status);

struct sky_http;

struct aws_client {
	char endpoint[512];            /* https://ec2.<region>.amazonaws.com/ or an override */
	char host[300];                /* of endpoint, for the signature */
	char path[256];
	char region[32];
	struct sky_aws_creds creds;
	struct sky_http *http;
	int timeout_ms;                /* per attempt; 0 = the HTTP client's default */
	struct sky_retry retry;        /* throttling, 5xx and no answer */
};

/* Credentials (aws_auth.h), the region (region, else the credentials'
 * profile or environment, else us-east-1) and the endpoint
 * (AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL, else the region's).
 * Returns 0, or -ENOENT / -EINVAL / -ENOMEM with msg. */
int aws_client_init(struct aws_client *c, const char *region, char *msg, size_t msglen);
void aws_client_fini(struct aws_client *c);

/* One call. body holds the pairs after Action and Version (built with
 * sky_aws_query_add into a buffer, may be empty). Throttling, 5xx and
 * network failures are retried with exponential backoff and full jitter,
 * at most max_attempts calls. Returns 0 and the parsed answer in *doc
 * (xmlFreeDoc), or -errno (aws_err_errno) with e filled. */
int aws_call(struct aws_client *c, const char *action, const struct sky_buf *params,
	     xmlDoc **doc, struct aws_error *e);

/* ---- response parsers (pure; unit-tested on the documented shapes) ---- */

/* Parses an answer body: 0 and *doc for a success document; for an error
 * document (<Response><Errors><Error>), -EIO with e's code and message set
 * and kind classified with http_status. -EBADMSG for what is not XML. */
int aws_parse_answer(const char *body, size_t len, long http_status, xmlDoc **doc,
		     struct aws_error *e);

struct aws_instance {
	char id[32];
	char type[32];
	char state[24];                /* pending, running, shutting-down, terminated, ... */
	int state_code;
	char public_ip[64];
	char private_ip[64];
	int spot;                      /* instanceLifecycle = spot */
	char reason_code[64];          /* stateReason code, e.g. Server.SpotInstanceTermination */
	char reason[256];              /* stateReason message */
	char pool_tag[128];            /* the skyfs:pool tag, "" when absent */
	int rank;                      /* the skyfs:node tag, -1 when absent */
};

/* Instances of a RunInstances (instancesSet at the root) or
 * DescribeInstances (reservationSet/item/instancesSet) answer, appended to
 * *out (realloc'd; *n counts). next_token gets nextToken ("" if none). */
int aws_parse_instances(xmlDoc *doc, struct aws_instance **out, size_t *n,
			char *next_token, size_t tokenlen);
/* TerminateInstances: each instance's current state, in *out as above
 * (id, state, state_code only). */
int aws_parse_terminating(xmlDoc *doc, struct aws_instance **out, size_t *n);

struct aws_spot_price {
	char type[32];
	char zone[32];
	double price;
	long long when;                /* epoch seconds */
};
int aws_parse_spot_prices(xmlDoc *doc, struct aws_spot_price **out, size_t *n,
			  char *next_token, size_t tokenlen);

/* DescribeImages: the id of the image created last ("" when none). */
int aws_parse_newest_image(xmlDoc *doc, char *id, size_t idlen, char *name, size_t namelen);

/* The text of the root's child element name ("" when absent), e.g.
 * groupId of CreateSecurityGroup, keyPairId of ImportKeyPair. */
void aws_xml_root_text(xmlDoc *doc, const char *name, char *buf, size_t len);
/* DescribeSecurityGroups: the first group's id into buf; -ENOENT if none. */
int aws_parse_group_id(xmlDoc *doc, char *buf, size_t len);

#endif
