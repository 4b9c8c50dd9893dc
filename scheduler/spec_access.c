/* The spec keys that say how nodes are reached: an ssh pool's hosts and
 * host-key policy, and a cloud pool's login (image, ssh_user, ssh_cidr).
 * Their rows are in spec_keys.c's table; their parsers are here. */
#include "scheduler/spec_keys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define fail spec_fail

/* ---- ssh: hosts and host keys --------------------------------------------- */

/* Keys whose value is one of a few words, stored as an enum (its index in
 * names, 0 the default and not written back by format). */
static int parse_word(struct spec_ctx *c, const struct spec_key *k, const char *val,
		      const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcasecmp(val, names[i])) {
			*FIELD(c, k, int) = (int)i;
			return 0;
		}
	return fail(c, -EINVAL, "%s: unknown \"%s\" (use %s or %s)", k->name, val, names[0],
		    names[1]);
}

static int format_word(const void *b, const struct spec_key *k, struct sky_buf *out,
		       const char *const *names)
{
	int v = *CFIELD(b, k, int);

	return v ? sky_buf_printf(out, "%s = %s\n", k->name, names[v]) : 0;
}

static const char *const policy_names[] = {
	[SKY_HOST_KEY_STRICT] = "strict", [SKY_HOST_KEY_ACCEPT_NEW] = "accept-new",
};
_Static_assert(sizeof(enum sky_host_key_policy) == sizeof(int), "stored as an int");

int spec_parse_policy(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		      const char *val)
{
	(void)suffix;
	return parse_word(c, k, val, policy_names, SKY_ARRAY_SIZE(policy_names));
}

int spec_format_policy(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	return format_word(b, k, out, policy_names);
}

static const char *const recover_names[] = {
	[SKY_RECOVER_RESUME] = "resume", [SKY_RECOVER_TEARDOWN] = "teardown",
};
_Static_assert(sizeof(enum sky_recover) == sizeof(int), "stored as an int");

int spec_parse_recover(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		       const char *val)
{
	(void)suffix;
	return parse_word(c, k, val, recover_names, SKY_ARRAY_SIZE(recover_names));
}

int spec_format_recover(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	return format_word(b, k, out, recover_names);
}

/* The user a hosts entry without "user@" logs in as: the daemon's own. */
static int daemon_user(char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];
	const char *name = NULL;

	if (!getpwuid_r(geteuid(), &pw, tmp, sizeof(tmp), &res) && res)
		name = res->pw_name;
	else
		name = getenv("USER");
	if (!name || !*name || sky_strlcpy(buf, name, len) >= len)
		return -ENOENT;
	return 0;
}

static int valid_user_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

/* A host name or IPv4 address: what a resolver takes, '_' included
 * (internal names have them), never an option-like leading '-'. */
static int valid_host_name(const char *h)
{
	size_t i, n = strlen(h);

	if (!n || n > 253 || h[0] == '-' || h[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!valid_user_char(h[i]))
			return 0;
	return 1;
}

/* One "[user@]host[:port]" entry (trimmed, not empty) into *out. */
static int parse_host_entry(struct spec_ctx *c, const char *k, char *e,
			    struct sky_spec_host *out)
{
	char *at = strchr(e, '@'), *host = at ? at + 1 : e, *port = NULL, *end;
	char entry[600], canon[INET6_ADDRSTRLEN];
	size_t i;
	long v;

	snprintf(entry, sizeof(entry), "%s", e);
	if (at) {
		*at = '\0';
		for (i = 0; e[i]; i++)
			if (!valid_user_char(e[i]))
				break;
		if (!i || e[i] || e[0] == '-' || i >= sizeof(out->user))
			return fail(c, -EINVAL, "%s: invalid user in \"%s\"", k, entry);
		strcpy(out->user, e);
	} else if (daemon_user(out->user, sizeof(out->user))) {
		return fail(c, -EINVAL, "%s: cannot tell this daemon's user name; write "
			    "user@host in \"%s\"", k, entry);
	}
	if (host[0] == '[') {
		unsigned char addr[16];

		end = strchr(host, ']');
		if (!end)
			return fail(c, -EINVAL, "%s: missing ']' in \"%s\"", k, entry);
		*end = '\0';
		host++;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return fail(c, -EINVAL, "%s: invalid host in \"%s\" "
				    "(use [user@]host[:port])", k, entry);
		/* canonical ("0::1" is "::1"), so that duplicates are caught */
		if (inet_pton(AF_INET6, host, addr) != 1 ||
		    !inet_ntop(AF_INET6, addr, canon, sizeof(canon)))
			return fail(c, -EINVAL, "%s: invalid IPv6 address in \"%s\"", k, entry);
		host = canon;
	} else {
		port = strchr(host, ':');
		if (port && strchr(port + 1, ':'))
			return fail(c, -EINVAL, "%s: write an IPv6 address in brackets, "
				    "[%s]:22, in \"%s\"", k, host, entry);
		if (port)
			*port++ = '\0';
		if (!valid_host_name(host))
			return fail(c, -EINVAL, "%s: invalid host in \"%s\" "
				    "(use [user@]host[:port])", k, entry);
	}
	if (strlen(host) >= sizeof(out->host))
		return fail(c, -EINVAL, "%s: host name too long in \"%s\"", k, entry);
	strcpy(out->host, host);
	out->port = 22;
	if (port) {
		errno = 0;
		v = strtol(port, &end, 10);
		if (!*port || *end || errno || v < 1 || v > 65535 || *port == '+' || *port == '-')
			return fail(c, -EINVAL, "%s: invalid port in \"%s\" (1 to 65535)", k, entry);
		out->port = (int)v;
	}
	return 0;
}

/* hosts = [user@]host[:port], ...: the machines of an ssh pool, node-0 first. */
int spec_parse_hosts(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		       const char *val)
{
	struct sky_spec *s = c->s;
	struct sky_spec_host *h = NULL;
	char *list = NULL, *tok, *next, *e;
	size_t items = 1, i;
	int n = 0, rc = 0, j;

	(void)suffix;
	for (i = 0; val[i]; i++)
		items += val[i] == ',';
	if (items > SKY_SPEC_MAX_HOSTS) {
		rc = fail(c, -EINVAL, "%s: at most %d hosts, got %zu", k->name, SKY_SPEC_MAX_HOSTS,
			  items);
		goto out;
	}
	list = strdup(val);
	h = calloc(items, sizeof(*h));
	if (!list || !h) {
		rc = fail(c, -ENOMEM, "out of memory");
		goto out;
	}
	for (tok = list; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';
		while (*tok == ' ' || *tok == '\t')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*tok) {
			rc = fail(c, -EINVAL, "%s: empty entry in \"%s\"", k->name, val);
			goto out;
		}
		if ((rc = parse_host_entry(c, k->name, tok, &h[n])))
			goto out;
		/* two nodes on one login would share (and clean up) one directory */
		for (j = 0; j < n; j++)
			if (!strcmp(h[j].user, h[n].user) && !strcasecmp(h[j].host, h[n].host) &&
			    h[j].port == h[n].port) {
				rc = fail(c, -EINVAL, "%s: %s@%s%s%s:%d listed twice", k->name,
					  h[n].user, strchr(h[n].host, ':') ? "[" : "", h[n].host,
					  strchr(h[n].host, ':') ? "]" : "", h[n].port);
				goto out;
			}
		n++;
	}
	free(s->hosts);
	s->hosts = h;
	s->n_hosts = n;
	h = NULL;
out:
	free(h);
	free(list);
	return rc;
}

int spec_format_hosts(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	const struct sky_spec *s = b;
	int i, rc;

	if (!s->n_hosts)
		return 0;
	if ((rc = sky_buf_printf(out, "%s = ", k->name)))
		return rc;
	for (i = 0; i < s->n_hosts; i++) {
		const struct sky_spec_host *h = &s->hosts[i];
		int v6 = strchr(h->host, ':') != NULL;

		if ((rc = sky_buf_printf(out, "%s%s@%s%s%s:%d", i ? ", " : "", h->user,
					 v6 ? "[" : "", h->host, v6 ? "]" : "", h->port)))
			return rc;
	}
	return sky_buf_append(out, "\n", 1);
}

static int names_ssh(const struct sky_request *r)
{
	int i;

	for (i = 0; i < r->n_providers; i++)
		if (!strcmp(r->providers[i], "ssh"))
			return 1;
	return 0;
}

static int key_line_of(const struct spec_ctx *c, const char *name)
{
	const char *suffix;
	const struct spec_key *k = spec_find_key(name, &suffix);

	return k ? c->key_line[k - spec_keys] : 0;
}

int spec_finish_hosts(struct spec_ctx *c)
{
	struct sky_spec *s = c->s;
	int i, ssh = 0, nodes_line = key_line_of(c, "nodes");

	/* with sections, the top level is a base, not a candidate */
	if (s->n_alts)
		for (i = 0; i < s->n_alts; i++)
			ssh |= names_ssh(&s->alts[i]);
	else
		ssh = names_ssh(&s->res);
	if (s->n_hosts && !ssh) {
		c->line = key_line_of(c, "hosts");
		return fail(c, -EINVAL, "hosts: only used with provider = ssh, which no "
			    "alternative names");
	}
	if (!ssh)
		return 0;
	if (!s->n_hosts) {
		c->line = 0;
		return fail(c, -EINVAL, "provider ssh needs hosts = [user@]host[:port], ...");
	}
	if (!nodes_line) {
		s->nodes = s->n_hosts;
	} else if (s->nodes > s->n_hosts) {
		c->line = nodes_line;
		return fail(c, -EINVAL, "nodes = %d but hosts lists %d", s->nodes, s->n_hosts);
	}
	return 0;
}


/* ---- cloud login: image, ssh_user, ssh_cidr ----------------------------------- */

int spec_parse_image(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		     const char *val)
{
	size_t i, n = strlen(val);

	/* a container image reference (container provider): what podman's
	 * names are made of, and never an option */
	if (strncmp(val, "ami-", 4)) {
		if (!n || n > 255 || val[0] == '-' ||
		    strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			   "._-/:@") != n)
			return fail(c, -EINVAL, "%s: \"%s\" is neither an AWS image id (ami-...) "
				    "nor a container image name", k->name, val);
		return spec_parse_text(c, k, suffix, val);
	}
	/* ami- and 8 or 17 hex digits, as EC2 makes them */
	if (n != 12 && n != 21)
		return fail(c, -EINVAL, "%s: \"%s\" is not an image id (ami- and 8 or 17 hex "
			    "digits)", k->name, val);
	for (i = 4; i < n; i++)
		if (!strchr("0123456789abcdef", val[i]))
			return fail(c, -EINVAL, "%s: \"%s\" is not an image id (ami- and 8 or 17 "
				    "hex digits)", k->name, val);
	return spec_parse_text(c, k, suffix, val);
}

int spec_parse_user(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		    const char *val)
{
	size_t i, n = strlen(val);

	for (i = 0; i < n; i++)
		if (!valid_user_char(val[i]))
			break;
	if (!n || n > 32 || i < n || val[0] == '-')
		return fail(c, -EINVAL, "%s: invalid user name \"%s\"", k->name, val);
	return spec_parse_text(c, k, suffix, val);
}

/* A Slurm partition, account or QOS name, or a comma-separated list of
 * them (partitions): what Slurm's own names are made of. */
int spec_parse_slurm_name(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
			  const char *val)
{
	size_t n = strlen(val);

	if (!n || n > 200 || strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789_.,-") != n || val[0] == '-' || val[0] == ',')
		return fail(c, -EINVAL, "%s: invalid Slurm name \"%s\" (letters, digits, "
			    "'_', '.', '-'; a list with ',')", k->name, val);
	return spec_parse_text(c, k, suffix, val);
}

/* An IPv4 network, "a.b.c.d/n" (a bare address means /32), written back
 * in that canonical form. */
int spec_parse_cidr(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		    const char *val)
{
	char addr[32], canon[48], *end;
	const char *slash = strchr(val, '/');
	struct in_addr in;
	long bits = 32;

	if ((slash ? (size_t)(slash - val) : strlen(val)) >= sizeof(addr))
		goto bad;
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - val) : (int)strlen(val), val);
	if (inet_pton(AF_INET, addr, &in) != 1)
		goto bad;
	if (slash) {
		bits = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || bits < 0 || bits > 32)
			goto bad;
	}
	snprintf(canon, sizeof(canon), "%s/%ld", addr, bits);
	return spec_parse_text(c, k, suffix, canon);
bad:
	return fail(c, -EINVAL, "%s: \"%s\" is not an IPv4 network (a.b.c.d/n)", k->name, val);
}
