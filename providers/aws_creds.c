/* AWS credentials and region the way the AWS CLI finds them (see
 * aws_auth.h): the environment, then the shared credentials file, then the
 * config file.
 *
 * The files are read as botocore's configparser reads them: full-line
 * comments, "name = value" or "name: value", case-insensitive names, and
 * indented lines after a value belong to it (the config file's nested
 * "s3 =" blocks), so a key inside such a block is not taken for a
 * profile's own. Secrets pass through stack and heap copies that are wiped
 * before they are freed; messages name files, lines and keys, never values. */
#include "providers/aws_auth.h"
#include "common/util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

/* Real files are a few KiB; the cap keeps a wrong path (a device, a log)
 * from being slurped. */
#define FILE_MAX (1024 * 1024)

/* What one file says about the profile wanted. */
struct profile {
	int found;                    /* the section exists */
	int key_id_line, secret_line; /* where the keys were, for messages */
	char key_id[sizeof(((struct sky_aws_creds *)0)->access_key_id)];
	char secret[sizeof(((struct sky_aws_creds *)0)->secret_access_key)];
	char token[sizeof(((struct sky_aws_creds *)0)->session_token)];
	char region[sizeof(((struct sky_aws_creds *)0)->region)];
};

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void trim(const char **p, size_t *len)
{
	while (*len && is_blank(**p)) {
		(*p)++;
		(*len)--;
	}
	while (*len && is_blank((*p)[*len - 1]))
		(*len)--;
}

static int span_is(const char *p, size_t len, const char *s)
{
	return strlen(s) == len && !memcmp(p, s, len);
}

/* Credentials files name sections "[NAME]"; config files "[profile NAME]",
 * except the default profile, which may be "[default]" there too. */
static int section_matches(const char *p, size_t len, const char *profile, int config)
{
	trim(&p, &len);
	if (!config || span_is(p, len, "default"))
		return span_is(p, len, profile);
	if (len < 8 || memcmp(p, "profile", 7) || !is_blank(p[7]))
		return 0;
	p += 8;
	len -= 8;
	trim(&p, &len);
	return span_is(p, len, profile);
}

/* Copies one value of the wanted section into p; -EINVAL when it does not
 * fit (the message names the key, not the value). */
static int store(struct profile *p, const char *key, size_t klen, const char *val,
		 size_t vlen, const char *path, int lineno, char *msg, size_t msglen)
{
	const struct {
		const char *name;
		char *dst;
		size_t size;
		int *line;
	} fields[] = {
		{ "aws_access_key_id", p->key_id, sizeof(p->key_id), &p->key_id_line },
		{ "aws_secret_access_key", p->secret, sizeof(p->secret), &p->secret_line },
		{ "aws_session_token", p->token, sizeof(p->token), NULL },
		{ "region", p->region, sizeof(p->region), NULL },
	};
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(fields); i++) {
		if (strlen(fields[i].name) != klen || strncasecmp(key, fields[i].name, klen))
			continue;
		if (vlen >= fields[i].size) {
			set_msg(msg, msglen, "%s line %d: %s is longer than %zu bytes", path, lineno,
				fields[i].name, fields[i].size - 1);
			return -EINVAL;
		}
		memcpy(fields[i].dst, val, vlen);
		fields[i].dst[vlen] = '\0';
		if (fields[i].line)
			*fields[i].line = vlen ? lineno : 0;
	}
	return 0;
}

/* Parses the whole of data (so that a broken file is reported wherever the
 * break is, as the CLI does) and keeps the wanted section's keys. */
static int parse(const char *data, size_t len, const char *path, const char *profile,
		 int config, struct profile *p, char *msg, size_t msglen)
{
	const char *at = data, *end = data + len;
	int lineno = 0, have_section = 0, in_wanted = 0, rc = 0;
	size_t opt_indent = SIZE_MAX;         /* no value yet to continue */

	while (at < end && !rc) {
		const char *nl = memchr(at, '\n', (size_t)(end - at));
		const char *l = at, *delim;
		size_t n = nl ? (size_t)(nl - at) : (size_t)(end - at), indent = 0;

		at += n + 1;
		lineno++;
		while (indent < n && is_blank(l[indent]))
			indent++;
		trim(&l, &n);
		if (!n || *l == '#' || *l == ';')
			continue;
		if (memchr(l, '\0', n)) {
			set_msg(msg, msglen, "%s line %d: a NUL byte", path, lineno);
			return -EINVAL;
		}
		if (indent > opt_indent)
			continue;             /* continues the value before */
		if (*l == '[') {
			const char *close = memrchr(l, ']', n);

			if (!close) {
				set_msg(msg, msglen, "%s line %d: '[' without ']'", path, lineno);
				return -EINVAL;
			}
			have_section = 1;
			opt_indent = SIZE_MAX;
			in_wanted = section_matches(l + 1, (size_t)(close - l - 1), profile, config);
			p->found |= in_wanted;
			continue;
		}
		for (delim = l; delim < l + n && *delim != '=' && *delim != ':'; delim++)
			;
		if (delim == l + n || delim == l) {
			set_msg(msg, msglen, "%s line %d: expected [section] or name = value", path,
				lineno);
			return -EINVAL;
		}
		if (!have_section) {
			set_msg(msg, msglen, "%s line %d: name = value before any [section]", path,
				lineno);
			return -EINVAL;
		}
		opt_indent = indent;
		if (in_wanted) {
			const char *key = l, *val = delim + 1;
			size_t klen = (size_t)(delim - l), vlen = n - klen - 1;

			trim(&key, &klen);
			trim(&val, &vlen);
			rc = store(p, key, klen, val, vlen, path, lineno, msg, msglen);
		}
	}
	return rc;
}

/* A missing file (or no path, without HOME) is an empty one. */
static int read_profile(const char *path, const char *profile, int config, struct profile *p,
			char *msg, size_t msglen)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (!*path)
		return 0;
	rc = sky_read_file(path, &data, &len, FILE_MAX);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return 0;
	if (rc == -EFBIG)
		set_msg(msg, msglen, "%s is larger than %d bytes", path, FILE_MAX);
	else if (rc)
		set_msg(msg, msglen, "cannot read %s: %s", path, strerror(-rc));
	if (!rc)
		rc = parse(data, len, path, profile, config, p, msg, msglen);
	if (data)
		OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

/* The file named by env (a leading "~/" is HOME), else HOME/.aws/name;
 * "" when neither can be known. */
static int file_path(const char *env, const char *name, char *out, size_t outlen)
{
	const char *v = getenv(env), *home = getenv("HOME");
	int n;

	out[0] = '\0';
	if (v && *v && !(v[0] == '~' && v[1] == '/'))
		n = snprintf(out, outlen, "%s", v);
	else if (!home || !*home)
		return 0;
	else if (v && *v)
		n = snprintf(out, outlen, "%s/%s", home, v + 2);
	else
		n = snprintf(out, outlen, "%s/.aws/%s", home, name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static const char *shown(const char *path, const char *fallback)
{
	return *path ? path : fallback;
}

static int put(char *dst, size_t size, const char *v, const char *what, char *msg,
	       size_t msglen)
{
	if (sky_strlcpy(dst, v, size) < size)
		return 0;
	set_msg(msg, msglen, "%s is longer than %zu bytes", what, size - 1);
	return -EINVAL;
}

/* 1 with keys from the environment, 0 without any, or -errno. */
static int from_env(struct sky_aws_creds *out, char *msg, size_t msglen)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	int rc;

	if ((!id || !*id) && (!secret || !*secret))
		return 0;
	/* half a pair is a mistake to report, not a reason to fall back to a
	 * file's keys for another account */
	if (!id || !*id || !secret || !*secret) {
		set_msg(msg, msglen, "%s is set but %s is not",
			id && *id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			id && *id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -EINVAL;
	}
	rc = put(out->access_key_id, sizeof(out->access_key_id), id, "AWS_ACCESS_KEY_ID", msg,
		 msglen);
	if (!rc)
		rc = put(out->secret_access_key, sizeof(out->secret_access_key), secret,
			 "AWS_SECRET_ACCESS_KEY", msg, msglen);
	if (!rc && token)
		rc = put(out->session_token, sizeof(out->session_token), token,
			 "AWS_SESSION_TOKEN", msg, msglen);
	if (!rc)
		sky_strlcpy(out->source, "environment", sizeof(out->source));
	return rc ? rc : 1;
}

/* Takes the keys from whichever file has them for the profile. */
static int from_files(struct sky_aws_creds *out, const char *profile, int named,
		      const struct profile *pc, const char *cred_path,
		      const struct profile *pf, const char *conf_path, char *msg, size_t msglen)
{
	const char *cshown = shown(cred_path, "~/.aws/credentials (HOME is not set)");
	const char *fshown = shown(conf_path, "~/.aws/config (HOME is not set)");
	const struct profile *p = pc;
	const char *path = cred_path;

	if (!pc->key_id_line && !pc->secret_line) {
		p = pf;
		path = conf_path;
	}
	if (!p->key_id_line && !p->secret_line) {
		if (named && !pc->found && !pf->found)
			set_msg(msg, msglen, "AWS_PROFILE names profile %s, which is in neither %s "
				"nor %s", profile, cshown, fshown);
		else if (!pc->found && !pf->found)
			set_msg(msg, msglen, "no AWS credentials: AWS_ACCESS_KEY_ID is not set and "
				"there is no profile %s in %s or %s", profile, cshown, fshown);
		else
			set_msg(msg, msglen, "no AWS credentials: profile %s has no "
				"aws_access_key_id in %s or %s", profile, cshown, fshown);
		return -ENOENT;
	}
	if (!p->key_id_line || !p->secret_line) {
		set_msg(msg, msglen, "%s line %d: profile %s has %s but no %s", path,
			p->key_id_line ? p->key_id_line : p->secret_line, profile,
			p->key_id_line ? "aws_access_key_id" : "aws_secret_access_key",
			p->key_id_line ? "aws_secret_access_key" : "aws_access_key_id");
		return -EINVAL;
	}
	memcpy(out->access_key_id, p->key_id, sizeof(out->access_key_id));
	memcpy(out->secret_access_key, p->secret, sizeof(out->secret_access_key));
	memcpy(out->session_token, p->token, sizeof(out->session_token));
	snprintf(out->source, sizeof(out->source), "profile %s in %s", profile, path);
	return 0;
}

int sky_aws_load_creds(struct sky_aws_creds *out, char *msg, size_t msglen)
{
	const char *profile = getenv("AWS_PROFILE");
	const char *region_var = "AWS_REGION", *region = getenv(region_var);
	char cred_path[PATH_MAX], conf_path[PATH_MAX];
	struct profile *pc = NULL, *pf = NULL;
	int named = profile && *profile, env, rc;

	memset(out, 0, sizeof(*out));
	set_msg(msg, msglen, "%s", "");
	if (!named)
		profile = "default";
	if (!region || !*region) {
		region_var = "AWS_DEFAULT_REGION";
		region = getenv(region_var);
	}
	/* two profiles of ~4.5 KiB each: too much for a thread's stack */
	pc = calloc(1, sizeof(*pc));
	pf = calloc(1, sizeof(*pf));
	if (!pc || !pf) {
		rc = -ENOMEM;
		goto out;
	}
	rc = file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", cred_path, sizeof(cred_path));
	if (!rc)
		rc = file_path("AWS_CONFIG_FILE", "config", conf_path, sizeof(conf_path));
	if (rc) {
		set_msg(msg, msglen, "the path of the AWS credentials or config file is too long");
		goto out;
	}
	env = rc = from_env(out, msg, msglen);
	if (rc < 0)
		goto out;
	rc = read_profile(conf_path, profile, 1, pf, msg, msglen);
	if (!rc && !env)
		rc = read_profile(cred_path, profile, 0, pc, msg, msglen);
	if (!rc && !env)
		rc = from_files(out, profile, named, pc, cred_path, pf, conf_path, msg, msglen);
	if (rc)
		goto out;
	if (region && *region)
		rc = put(out->region, sizeof(out->region), region, region_var, msg, msglen);
	else
		memcpy(out->region, pf->region, sizeof(out->region));
out:
	if (rc < 0)
		OPENSSL_cleanse(out, sizeof(*out));
	if (pc)
		OPENSSL_cleanse(pc, sizeof(*pc));
	if (pf)
		OPENSSL_cleanse(pf, sizeof(*pf));
	free(pc);
	free(pf);
	return rc < 0 ? rc : 0;
}
