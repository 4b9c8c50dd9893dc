/* AWS Signature Version 4 and the Query API's form encoding (see
 * aws_auth.h).
 *
 * The canonical forms follow AWS's published test suite
 * (shared/data/aws-sig-v4-test-suite): paths are normalized the way every
 * service but S3 wants, query pairs and headers are sorted byte-wise after
 * encoding and lower-casing. Every builder appends to the caller's buffer
 * and, on failure, cuts it back to where it was, so a caller never sends
 * half a header. */
#include "providers/aws_auth.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
/* Real secrets are 40 bytes; the cap only bounds a stack buffer. */
#define SECRET_MAX 1024
#define AMZ_DATE_LEN 16

static const char hexdigits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdigits[p[i] >> 4];
		out[2 * i + 1] = hexdigits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Puts b back to len bytes: the builders' way of undoing a partial append. */
static void buf_cut(struct sky_buf *b, size_t len)
{
	if (b->data && b->len > len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

void sky_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	/* EVP_Digest only fails without memory; an empty string then makes
	 * the signature wrong, never a read of uninitialized bytes. */
	if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != sizeof(md)) {
		out[0] = '\0';
		return;
	}
	hex_encode(md, sizeof(md), out);
}

static int hmac256(const void *key, size_t keylen, const void *data, size_t len,
		   unsigned char out[32])
{
	unsigned int outlen = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) || outlen != 32)
		return -ENOMEM;
	return 0;
}

void sky_aws_amz_date(time_t t, char out[17])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != AMZ_DATE_LEN)
		out[0] = '\0';
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

int sky_aws_uri_encode(struct sky_buf *b, const char *s, size_t len, int keep_slash)
{
	static const char upper[] = "0123456789ABCDEF";
	size_t mark = b->len, i, run;
	int rc = 0;

	for (i = 0; i < len && !rc; i += run) {
		unsigned char c = (unsigned char)s[i];
		char esc[3] = { '%', upper[c >> 4], upper[c & 15] };

		/* copy runs of kept bytes at once: most input is plain */
		for (run = 0; i + run < len; run++) {
			c = (unsigned char)s[i + run];
			if (!unreserved(c) && !(keep_slash && c == '/'))
				break;
		}
		if (run) {
			rc = sky_buf_append(b, s + i, run);
			continue;
		}
		rc = sky_buf_append(b, esc, 3);
		run = 1;
	}
	if (rc)
		buf_cut(b, mark);
	return rc;
}

/* ---- canonical URI ------------------------------------------------------- */

struct span {
	const char *p;
	size_t len;
};

/* "." segments go, ".." drops the segment before it (never above the root),
 * empty segments ("//") go; a trailing slash stays when the path had one.
 * This is what the suite's normalize-path cases expect; S3 would differ. */
static int canonical_uri(const char *path, struct sky_buf *out)
{
	size_t plen = strlen(path), nseg = 0, i;
	struct span *seg = calloc(plen / 2 + 1, sizeof(*seg));
	const char *p = path, *end = path + plen;
	int rc = 0;

	if (!seg)
		return -ENOMEM;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg)
				nseg--;
		} else if (n && !(n == 1 && p[0] == '.')) {
			seg[nseg].p = p;
			seg[nseg++].len = n;
		}
		p += n + 1;
	}
	for (i = 0; i < nseg && !rc; i++) {
		rc = sky_buf_append(out, "/", 1);
		if (!rc)
			rc = sky_aws_uri_encode(out, seg[i].p, seg[i].len, 0);
	}
	if (!rc && (!nseg || (plen && path[plen - 1] == '/')))
		rc = sky_buf_append(out, "/", 1);
	free(seg);
	return rc;
}

/* ---- canonical query ----------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XY (a '%' without two hex digits stays itself) and re-encodes,
 * so that "a%20b" and "a b" sign alike. '+' is not a space here: the query
 * string is not a form body. */
static int reencode(struct sky_buf *out, const char *s, size_t len)
{
	struct sky_buf dec = { 0 };
	size_t i;
	int rc = sky_buf_append(&dec, "", 0);

	for (i = 0; i < len && !rc; i++) {
		char c = s[i];

		if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		rc = sky_buf_append(&dec, &c, 1);
	}
	if (!rc)
		rc = sky_aws_uri_encode(out, dec.data, dec.len, 0);
	sky_buf_free(&dec);
	return rc;
}

/* One encoded "name=value" pair: offsets into a shared buffer while it
 * grows, pointers once it is complete. */
struct qpair {
	size_t name_off, value_off;
	const char *name, *value;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static int canonical_query(const char *query, struct sky_buf *out)
{
	struct sky_buf store = { 0 };
	struct qpair *pairs = NULL;
	size_t qlen = query ? strlen(query) : 0, n = 0, i;
	const char *p = query, *end;
	int rc = 0;

	if (!qlen)
		return 0;
	end = query + qlen;   /* not before: NULL + 0 is undefined too */
	pairs = calloc(qlen / 2 + 1, sizeof(*pairs));
	if (!pairs)
		return -ENOMEM;
	while (p < end && !rc) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t len = amp ? (size_t)(amp - p) : (size_t)(end - p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;

		if (len) {
			pairs[n].name_off = store.len;
			rc = reencode(&store, p, nlen);
			if (!rc)
				rc = sky_buf_append(&store, "", 1);
			pairs[n].value_off = store.len;
			if (!rc && eq)
				rc = reencode(&store, eq + 1, len - nlen - 1);
			if (!rc)
				rc = sky_buf_append(&store, "", 1);
			n++;
		}
		p += len + 1;
	}
	if (rc)
		goto out;
	for (i = 0; i < n; i++) {
		pairs[i].name = store.data + pairs[i].name_off;
		pairs[i].value = store.data + pairs[i].value_off;
	}
	qsort(pairs, n, sizeof(*pairs), qpair_cmp);
	for (i = 0; i < n && !rc; i++)
		rc = sky_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
out:
	free(pairs);
	sky_buf_free(&store);
	return rc;
}

/* ---- canonical headers --------------------------------------------------- */

struct hdr {
	size_t index;                 /* order given: duplicates keep it */
	size_t name_off, value_off;
	const char *name, *value;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int valid_name(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == ':' || *s == 0x7f)
			return 0;
	return 1;
}

/* Appends the value trimmed, every inner run of whitespace (a folded
 * multi-line value's line breaks included) as one space. */
static int fold_value(struct sky_buf *b, const char *v)
{
	int rc = 0, gap = 0;

	while (is_space(*v))
		v++;
	for (; *v && !rc; v++) {
		if (is_space(*v)) {
			gap = 1;
			continue;
		}
		if (gap)
			rc = sky_buf_append(b, " ", 1);
		gap = 0;
		if (!rc)
			rc = sky_buf_append(b, v, 1);
	}
	return rc;
}

/* Fills canon with "name:v1,v2\n" lines and signed with "a;b;c". */
static int canonical_headers(const struct sky_sigv4_input *in, struct sky_buf *canon,
			     struct sky_buf *signed_hdrs)
{
	struct sky_buf store = { 0 };
	struct hdr *h = NULL;
	size_t n = in->n_headers, i;
	int rc = 0;

	if (!n)
		return -EINVAL;       /* host is required */
	h = calloc(n, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (i = 0; i < n && !rc; i++) {
		const char *name = in->headers[i].name, *value = in->headers[i].value;
		size_t k;

		if (!valid_name(name) || !value) {
			rc = -EINVAL;
			break;
		}
		h[i].index = i;
		h[i].name_off = store.len;
		for (k = 0; name[k] && !rc; k++) {
			char c = name[k] >= 'A' && name[k] <= 'Z' ? (char)(name[k] - 'A' + 'a') : name[k];
			rc = sky_buf_append(&store, &c, 1);
		}
		if (!rc)
			rc = sky_buf_append(&store, "", 1);
		h[i].value_off = store.len;
		if (!rc)
			rc = fold_value(&store, value);
		if (!rc)
			rc = sky_buf_append(&store, "", 1);
	}
	if (rc)
		goto out;
	for (i = 0; i < n; i++) {
		h[i].name = store.data + h[i].name_off;
		h[i].value = store.data + h[i].value_off;
	}
	qsort(h, n, sizeof(*h), hdr_cmp);
	for (i = 0; i < n && !rc; i++) {
		int same = i && !strcmp(h[i].name, h[i - 1].name);

		if (same) {
			rc = sky_buf_printf(canon, ",%s", h[i].value);
			continue;
		}
		rc = sky_buf_printf(canon, "%s%s:%s", i ? "\n" : "", h[i].name, h[i].value);
		if (!rc)
			rc = sky_buf_printf(signed_hdrs, "%s%s", i ? ";" : "", h[i].name);
	}
	if (!rc)
		rc = sky_buf_append(canon, "\n", 1);
out:
	free(h);
	sky_buf_free(&store);
	return rc;
}

/* ---- the signature ------------------------------------------------------- */

static int valid_input(const struct sky_sigv4_input *in)
{
	if (!in || !in->method || !*in->method || !in->path || !in->region || !*in->region ||
	    !in->service || !*in->service || !in->amz_date || (!in->headers && in->n_headers) ||
	    (!in->body && in->body_len))
		return 0;
	return strlen(in->amz_date) == AMZ_DATE_LEN && in->amz_date[8] == 'T';
}

/* The canonical request, and the signed header list the Authorization
 * header repeats. */
static int build_creq(const struct sky_sigv4_input *in, struct sky_buf *out,
		      struct sky_buf *signed_hdrs)
{
	struct sky_buf canon = { 0 };
	char body_hash[65];
	size_t mark = out->len;
	int rc;

	if (!valid_input(in))
		return -EINVAL;
	rc = sky_buf_printf(out, "%s\n", in->method);
	if (!rc)
		rc = canonical_uri(in->path, out);
	if (!rc)
		rc = sky_buf_append(out, "\n", 1);
	if (!rc)
		rc = canonical_query(in->query, out);
	if (!rc)
		rc = canonical_headers(in, &canon, signed_hdrs);
	if (rc)
		goto out;
	sky_sha256_hex(in->body, in->body_len, body_hash);
	rc = sky_buf_printf(out, "\n%s\n%s\n%s", canon.data, signed_hdrs->data, body_hash);
out:
	if (rc)
		buf_cut(out, mark);
	sky_buf_free(&canon);
	return rc;
}

int sky_sigv4_canonical_request(const struct sky_sigv4_input *in, struct sky_buf *out)
{
	struct sky_buf signed_hdrs = { 0 };
	int rc = build_creq(in, out, &signed_hdrs);

	sky_buf_free(&signed_hdrs);
	return rc;
}

int sky_sigv4_string_to_sign(const struct sky_sigv4_input *in, const char *creq,
			     struct sky_buf *out)
{
	char hash[65];

	if (!valid_input(in) || !creq)
		return -EINVAL;
	sky_sha256_hex(creq, strlen(creq), hash);
	return sky_buf_printf(out, ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", in->amz_date,
			      in->amz_date, in->region, in->service, hash);
}

int sky_sigv4_signing_key(const char *secret, const char *date8, const char *region,
			  const char *service, unsigned char key[32])
{
	char k_secret[4 + SECRET_MAX];
	unsigned char k_date[32], k_region[32], k_service[32];
	size_t slen;
	int rc;

	if (!secret || !date8 || strlen(date8) != 8 || !region || !service)
		return -EINVAL;
	slen = strlen(secret);
	if (slen > SECRET_MAX)
		return -EINVAL;
	memcpy(k_secret, "AWS4", 4);
	memcpy(k_secret + 4, secret, slen);
	rc = hmac256(k_secret, 4 + slen, date8, 8, k_date);
	if (!rc)
		rc = hmac256(k_date, 32, region, strlen(region), k_region);
	if (!rc)
		rc = hmac256(k_region, 32, service, strlen(service), k_service);
	if (!rc)
		rc = hmac256(k_service, 32, "aws4_request", 12, key);
	OPENSSL_cleanse(k_secret, sizeof(k_secret));
	OPENSSL_cleanse(k_date, sizeof(k_date));
	OPENSSL_cleanse(k_region, sizeof(k_region));
	OPENSSL_cleanse(k_service, sizeof(k_service));
	return rc;
}

int sky_sigv4_authorization(const struct sky_sigv4_input *in, const char *access_key_id,
			    const char *secret, struct sky_buf *out)
{
	struct sky_buf creq = { 0 }, sts = { 0 }, signed_hdrs = { 0 };
	unsigned char key[32], sig[32];
	char date8[9], sig_hex[65];
	int rc;

	if (!access_key_id || !*access_key_id || !secret)
		return -EINVAL;
	rc = build_creq(in, &creq, &signed_hdrs);
	if (!rc)
		rc = sky_sigv4_string_to_sign(in, creq.data, &sts);
	if (rc)
		goto out;
	memcpy(date8, in->amz_date, 8);
	date8[8] = '\0';
	rc = sky_sigv4_signing_key(secret, date8, in->region, in->service, key);
	if (!rc)
		rc = hmac256(key, sizeof(key), sts.data, sts.len, sig);
	if (rc)
		goto out;
	hex_encode(sig, sizeof(sig), sig_hex);
	rc = sky_buf_printf(out, ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, "
			    "SignedHeaders=%s, Signature=%s", access_key_id, date8, in->region,
			    in->service, signed_hdrs.data, sig_hex);
out:
	OPENSSL_cleanse(key, sizeof(key));
	sky_buf_free(&creq);
	sky_buf_free(&sts);
	sky_buf_free(&signed_hdrs);
	return rc;
}

/* ---- Query API form bodies ----------------------------------------------- */

void sky_aws_query_add(struct sky_aws_query *q, const char *name, const char *value)
{
	size_t mark;
	int rc;

	if (q->rc)
		return;
	if (!name || !*name || !value) {
		q->rc = -EINVAL;
		return;
	}
	mark = q->body->len;
	rc = q->body->len ? sky_buf_append(q->body, "&", 1) : 0;
	if (!rc)
		rc = sky_aws_uri_encode(q->body, name, strlen(name), 0);
	if (!rc)
		rc = sky_buf_append(q->body, "=", 1);
	if (!rc)
		rc = sky_aws_uri_encode(q->body, value, strlen(value), 0);
	if (rc) {
		buf_cut(q->body, mark);
		q->rc = rc;
	}
}

void sky_aws_query_addf(struct sky_aws_query *q, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *value = NULL;
	int n;

	if (q->rc)
		return;
	va_start(ap, fmt);
	n = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (n < 0) {
		q->rc = -ENOMEM;
		return;
	}
	sky_aws_query_add(q, name, value);
	free(value);
}
