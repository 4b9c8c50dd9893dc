/* AWS request authentication: Signature Version 4 (aws_sigv4.c), the
 * Query API's form encoding (aws_sigv4.c) and credentials the way the AWS
 * CLI finds them (aws_creds.c).
 *
 * Pure functions over caller-owned memory: no global state, no locking, no
 * network. Every function returns 0 or -errno. Secrets are only ever read
 * from the caller's struct; nothing here logs. */
#ifndef SKY_AWS_AUTH_H
#define SKY_AWS_AUTH_H

#include <stddef.h>
#include <time.h>

struct sky_buf;

/* ---- Signature Version 4 ---------------------------------------------------- */

struct sky_sigv4_header {
	const char *name;             /* any case; the signer lower-cases it */
	const char *value;            /* as sent; the signer trims it and folds
				       * inner runs of spaces (and line breaks) */
};

/* One request to sign. Headers must include host and x-amz-date (and
 * x-amz-security-token with session credentials); every header given is
 * signed. A name given twice is one canonical header whose values are
 * joined with "," in the order given. */
struct sky_sigv4_input {
	const char *method;           /* "POST" */
	const char *path;             /* unencoded ("/", "/a/./b/../c", "/a b/"):
				       * the signer resolves "." and "..", drops
				       * empty segments, keeps a trailing '/' and
				       * URI-encodes each segment once (not S3's
				       * rules) */
	const char *query;            /* raw query string without '?', "" or NULL for
				       * none; %XY is decoded and re-encoded, so
				       * "a%20b" and "a b" sign alike; '+' is a '+' */
	const struct sky_sigv4_header *headers;
	size_t n_headers;
	const void *body;             /* the exact bytes sent; may be NULL when body_len is 0 */
	size_t body_len;
	const char *region;           /* "us-east-1" */
	const char *service;          /* "ec2" */
	const char *amz_date;         /* "20150830T123600Z", the x-amz-date value */
};

/* The six-line canonical request (no trailing newline), appended to out. */
int sky_sigv4_canonical_request(const struct sky_sigv4_input *in, struct sky_buf *out);
/* "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256(creq)>", appended to out. */
int sky_sigv4_string_to_sign(const struct sky_sigv4_input *in, const char *creq,
			     struct sky_buf *out);
/* kSigning for (secret, YYYYMMDD, region, service). */
int sky_sigv4_signing_key(const char *secret, const char *date8, const char *region,
			  const char *service, unsigned char key[32]);
/* The whole Authorization header value, appended to out:
 * "AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=a;b, Signature=hex". */
int sky_sigv4_authorization(const struct sky_sigv4_input *in, const char *access_key_id,
			    const char *secret, struct sky_buf *out);
/* "YYYYMMDDTHHMMSSZ" (UTC) for t into out[17]. */
void sky_aws_amz_date(time_t t, char out[17]);
/* Lower-case hex SHA-256 of data into out[65]. */
void sky_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- Query API form encoding ------------------------------------------------- */

/* Appends s (len bytes) URI-encoded as SigV4 wants: A-Z a-z 0-9 - _ . ~
 * kept, every other byte %XY with upper-case hex (space is %20, never +);
 * '/' is kept when keep_slash is set (paths). */
int sky_aws_uri_encode(struct sky_buf *b, const char *s, size_t len, int keep_slash);

/* A form body "Action=RunInstances&Version=2016-11-15&Name=value&...":
 * names and values encoded with sky_aws_uri_encode. An allocation failure
 * is remembered (rc) and reported by the caller once, at the end. */
struct sky_aws_query {
	struct sky_buf *body;         /* caller-owned buffer the pairs go into */
	int rc;                       /* first error, 0 when none */
};
void sky_aws_query_add(struct sky_aws_query *q, const char *name, const char *value);
void sky_aws_query_addf(struct sky_aws_query *q, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- Credentials ----------------------------------------------------------------- */

struct sky_aws_creds {
	char access_key_id[128];
	char secret_access_key[256];
	char session_token[4096];     /* "" without one */
	char region[32];              /* AWS_REGION, AWS_DEFAULT_REGION, else the
				       * profile's region in the config file; "" if none */
	char source[512];             /* where the keys came from, for status and
				       * messages ("environment", "profile default in
				       * /root/.aws/credentials"); never a secret */
};

/* Finds credentials as the AWS CLI does:
 * 1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 * 2. else the profile AWS_PROFILE (default "default") in the credentials
 *    file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials:
 *    sections "[NAME]"), then in the config file (AWS_CONFIG_FILE, default
 *    ~/.aws/config: sections "[profile NAME]", and "[default]").
 * Keys aws_access_key_id, aws_secret_access_key, aws_session_token, region;
 * '#' and ';' start comment lines; names and values are trimmed.
 * Returns 0; -ENOENT when none are found (msg says where it looked, and
 * that AWS_PROFILE's profile is missing when it was set); -EINVAL for a
 * file it cannot parse, a profile with only one of the two keys (msg
 * names the file and line), only one of the two environment keys set, or
 * a value too long for its field; -EFBIG for a file over 1 MiB; another
 * -errno for a file it cannot read. A missing file counts as empty. On
 * failure *out is zeroed. msg never holds a secret. */
int sky_aws_load_creds(struct sky_aws_creds *out, char *msg, size_t msglen);

#endif
