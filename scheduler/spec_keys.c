/* The spec's keys: one row each, with the function that parses its value
 * text (the same for both syntaxes) and the one that renders it back.
 * Hardware rows (per_alt) land in a struct sky_request: the top level's, or
 * the current [section]'s; the other rows land in struct sky_spec. */
#include "scheduler/spec_keys.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "providers/provider.h"

void *spec_base(struct spec_ctx *c, const struct spec_key *k)
{
	return k->per_alt ? (void *)c->target : (void *)c->s;
}

int spec_fail(struct spec_ctx *c, int rc, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!c->errlen)
		return rc;
	if (c->line > 0)
		n = snprintf(c->err, c->errlen, "line %d: ", c->line);
	if (n < 0 || (size_t)n >= c->errlen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}
#define fail spec_fail

/* Checks bounds with one message for every integer, quoting the text as
 * written so that overflowing numbers read back the way the user typed them. */
static int parse_bounded(struct spec_ctx *c, const char *what, const struct spec_key *k,
			 const char *val, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (end == val || *end)
		return fail(c, -EINVAL, "%s must be an integer, got \"%s\"", what, val);
	if (errno || v < k->min || v > k->max)
		return fail(c, -EINVAL, "%s must be between %ld and %ld, got %s",
			    what, k->min, k->max, val);
	*out = v;
	return 0;
}

static int parse_int(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		     const char *val)
{
	long v;
	int rc = parse_bounded(c, k->name, k, val, &v);

	(void)suffix;
	if (!rc)
		*FIELD(c, k, int) = (int)v;
	return rc;
}

static int format_int(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	int v = *CFIELD(b, k, int);

	/* 0 is "not set" for the optional minimums (vcpus, memory) */
	return v || k->def ? sky_buf_printf(out, "%s = %d\n", k->name, v) : 0;
}

/* Keys only some pools care about (the ssh ones) are rendered only when
 * they differ from their default, so a plain spec's canonical form stays
 * short. */
static int format_int_nondef(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	int v = *CFIELD(b, k, int);

	return v != atoi(k->def) ? sky_buf_printf(out, "%s = %d\n", k->name, v) : 0;
}

/* memory = 64, 64GB, 64G or 64GiB: always gigabytes */
static int parse_memory(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
			const char *val)
{
	char num[32];
	size_t n = strspn(val, "0123456789");
	const char *unit = val + n;

	if (n && n < sizeof(num) && (!*unit || !strcasecmp(unit, "G") || !strcasecmp(unit, "GB") ||
				     !strcasecmp(unit, "GiB"))) {
		memcpy(num, val, n);
		num[n] = '\0';
		return parse_int(c, k, suffix, num);
	}
	return fail(c, -EINVAL, "%s: invalid size \"%s\" (gigabytes, e.g. 64 or 64GB)",
		    k->name, val);
}

static int parse_bool(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		      const char *val)
{
	(void)suffix;
	if (!strcasecmp(val, "true") || !strcasecmp(val, "yes") || !strcmp(val, "1"))
		*FIELD(c, k, int) = 1;
	else if (!strcasecmp(val, "false") || !strcasecmp(val, "no") || !strcmp(val, "0"))
		*FIELD(c, k, int) = 0;
	else
		return fail(c, -EINVAL, "%s must be true or false, got \"%s\"", k->name, val);
	return 0;
}

static int format_bool(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	return *CFIELD(b, k, int) ? sky_buf_printf(out, "%s = true\n", k->name) : 0;
}

struct names {
	char *buf;
	size_t len, used;
};

static int add_name(const char *name, void *arg)
{
	struct names *n = arg;

	if (n->used < n->len)
		n->used += (size_t)snprintf(n->buf + n->used, n->len - n->used, "%s%s",
					    n->used ? ", " : "", name);
	return 0;
}

/* Names for the error message: implemented ones first, then catalog-only. */
static void provider_names(char *buf, size_t len)
{
	struct names n = { buf, len, 0 };

	buf[0] = '\0';
	sky_provider_each(add_name, &n);
}

/* provider = aws, runpod, vastai: candidates, in the order written */
static int parse_provider(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
			  const char *val)
{
	struct sky_request *r = c->target;
	char list[512], names[256], *tok, *next;
	int i;

	(void)suffix;
	(void)k;
	if (strlen(val) >= sizeof(list))
		return fail(c, -EINVAL, "provider: list too long");
	strcpy(list, val);
	r->n_providers = 0;
	/* not strtok: "aws,,runpod" has an empty item, which is a mistake */
	for (tok = list; tok; tok = next) {
		char *e;

		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';
		while (*tok == ' ' || *tok == '\t')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*tok)
			return fail(c, -EINVAL, "provider: empty name in \"%s\"", val);
		if (!sky_provider_known(tok)) {
			provider_names(names, sizeof(names));
			return fail(c, -EINVAL, "unknown provider \"%s\" (known: %s)", tok, names);
		}
		if (strlen(tok) >= SKY_PROVIDER_NAME_MAX)
			return fail(c, -EINVAL, "provider name \"%s\" is too long", tok);
		for (i = 0; i < r->n_providers; i++)
			if (!strcmp(r->providers[i], tok))
				return fail(c, -EINVAL, "provider \"%s\" listed twice", tok);
		if (r->n_providers == SKY_MAX_PROVIDERS)
			return fail(c, -EINVAL, "provider: at most %d providers",
				    SKY_MAX_PROVIDERS);
		strcpy(r->providers[r->n_providers++], tok);
	}
	if (!r->n_providers)
		return fail(c, -EINVAL, "provider: no provider named");
	return 0;
}

static int format_provider(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	const struct sky_request *r = b;
	int i, rc = sky_buf_printf(out, "%s = ", k->name);

	for (i = 0; !rc && i < r->n_providers; i++)
		rc = sky_buf_printf(out, "%s%s", i ? ", " : "", r->providers[i]);
	return rc ? rc : sky_buf_append(out, "\n", 1);
}

static int valid_accel_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

/* accelerator = none | NAME[:COUNT]; NAME must be known to the catalog.
 * The row's bounds are the count's; the name is stored as written, since a
 * family name ("A100") means more than its canonical row. */
static int parse_accel(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		       const char *val)
{
	struct sky_request *r = c->target;
	const char *colon = strchr(val, ':');
	size_t n = colon ? (size_t)(colon - val) : strlen(val);
	char name[SKY_ACCEL_NAME_MAX], hint[160];
	long v = 1;
	size_t i;
	int rc;

	(void)suffix;
	if (!strcasecmp(val, "none")) {
		r->accelerator[0] = '\0';
		r->accelerator_count = 0;
		return 0;
	}
	/* spaces too: providers' names for devices have them */
	for (i = 0; i < n; i++)
		if (!valid_accel_char(val[i]) && val[i] != ' ')
			break;
	if (n == 0 || i < n || (colon && !colon[1]) || val[0] == ' ' || val[n - 1] == ' ')
		return fail(c, -EINVAL, "accelerator: invalid value \"%s\" "
			    "(use none or NAME[:COUNT], e.g. A100:8)", val);
	if (n >= SKY_ACCEL_NAME_MAX)
		return fail(c, -EINVAL, "accelerator: name longer than %d bytes",
			    SKY_ACCEL_NAME_MAX - 1);
	if (n == 4 && !strncasecmp(val, "none", 4))
		return fail(c, -EINVAL, "accelerator: none takes no count");
	if (colon && (rc = parse_bounded(c, "accelerator count", k, colon + 1, &v)))
		return rc;
	memcpy(name, val, n);
	name[n] = '\0';
	if (!sky_accel_find(name)) {
		sky_accel_suggest(name, hint, sizeof(hint));
		if (hint[0])
			return fail(c, -EINVAL, "unknown accelerator \"%s\" (did you mean %s?)",
				    name, hint);
		return fail(c, -EINVAL, "unknown accelerator \"%s\" (see catalog/accelerators)",
			    name);
	}
	strcpy(r->accelerator, name);
	r->accelerator_count = (int)v;
	return 0;
}

static int format_accel(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	const struct sky_request *r = b;

	if (!r->accelerator[0])
		return sky_buf_printf(out, "%s = none\n", k->name);
	return sky_buf_printf(out, "%s = %s:%d\n", k->name, r->accelerator,
			      r->accelerator_count);
}

static int parse_allocation(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
			    const char *val)
{
	(void)suffix;
	if (sky_allocation_parse(val, FIELD(c, k, enum sky_allocation)))
		return fail(c, -EINVAL, "allocation: unknown \"%s\" (use spot-if-available, "
			    "spot, on-demand or cheapest)", val);
	return 0;
}

static int format_allocation(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	return sky_buf_printf(out, "%s = %s\n", k->name,
			      sky_allocation_name(*CFIELD(b, k, enum sky_allocation)));
}

/* region = us-east-1 (exact) or us- (a prefix: ends in '-') */
static int parse_region(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
			const char *val)
{
	char *dst = FIELD(c, k, char);
	size_t i, n = strlen(val);

	(void)suffix;
	for (i = 0; i < n; i++)
		if (!valid_accel_char(val[i]))
			return fail(c, -EINVAL, "region: invalid value \"%s\"", val);
	if (n >= sizeof(((struct sky_request *)0)->region))
		return fail(c, -EINVAL, "region: \"%s\" is too long", val);
	memcpy(dst, val, n + 1);
	return 0;
}

static int format_str(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	const char *v = CFIELD(b, k, char);

	return v[0] ? sky_buf_printf(out, "%s = %s\n", k->name, v) : 0;
}

/* max_price = 12.5 (USD per node-hour); "$12.50" is accepted too */
static int parse_price(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		       const char *val)
{
	char *end;
	double v;

	(void)suffix;
	errno = 0;
	v = strtod(val[0] == '$' ? val + 1 : val, &end);
	if (errno || *end || end == val || !isfinite(v) || v <= 0 || v > 1e6)
		return fail(c, -EINVAL, "%s: invalid price \"%s\" (%s)", k->name, val,
			    k->per_alt ? "USD per node-hour, e.g. 12.5" : "USD, e.g. 50");
	*FIELD(c, k, double) = v;
	return 0;
}

static int format_price(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	double v = *CFIELD(b, k, double);

	return v > 0 ? sky_buf_printf(out, "%s = %g\n", k->name, v) : 0;
}

int spec_parse_text(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		      const char *val)
{
	char **dst = FIELD(c, k, char *);
	char *copy = strdup(val);

	(void)suffix;
	if (!copy)
		return fail(c, -ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

/* Absent optional text is simply not rendered, so the output parses back. */
int spec_format_text(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	const char *v = *CFIELD(b, k, char *);

	return v ? sky_buf_printf(out, "%s = %s\n", k->name, v) : 0;
}

static int parse_dur(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		     const char *val)
{
	long v;

	(void)suffix;
	if (sky_parse_duration(val, &v))
		return fail(c, -EINVAL, "%s: invalid duration \"%s\" (use e.g. 90s, 15m, 2h)",
			    k->name, val);
	if (k->max && v > k->max)
		return fail(c, -EINVAL, "%s: \"%s\" is more than the %ld s allowed", k->name, val,
			    k->max);
	*FIELD(c, k, long) = v;
	return 0;
}

static int format_dur(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	static const struct { long secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	long v = *CFIELD(b, k, long);
	size_t i;
	int rc;

	if (v <= 0)
		return 0;
	if ((rc = sky_buf_printf(out, "%s = ", k->name)))
		return rc;
	for (i = 0; i < SKY_ARRAY_SIZE(units); i++) {
		if (v < units[i].secs)
			continue;
		if ((rc = sky_buf_printf(out, "%ld%c", v / units[i].secs, units[i].unit)))
			return rc;
		v %= units[i].secs;
	}
	return sky_buf_append(out, "\n", 1);
}

static int format_dur_nondef(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	long def = 0;

	if (sky_parse_duration(k->def, &def) == 0 && *CFIELD(b, k, long) == def)
		return 0;
	return format_dur(b, k, out);
}

/* max_output = 512M, 1G, 10GiB, or unlimited (also 0): each of a job's
 * stdout and stderr; the transports enforce it (sky_output_limit). */
static int parse_size_limit(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
			    const char *val)
{
	char most[32];
	long long v;
	int rc;

	(void)suffix;
	if (!strcasecmp(val, "unlimited")) {
		*FIELD(c, k, long long) = 0;
		return 0;
	}
	rc = sky_parse_size(val, &v);
	if (rc == -ERANGE || (!rc && v > k->max)) {
		sky_fmt_size(k->max, most, sizeof(most));
		return fail(c, -EINVAL, "%s: \"%s\" is more than the %s allowed (or use "
			    "unlimited)", k->name, val, most);
	}
	if (rc)
		return fail(c, -EINVAL, "%s: invalid size \"%s\" (use e.g. 512M, 1G, 10G or "
			    "unlimited)", k->name, val);
	*FIELD(c, k, long long) = v;
	return 0;
}

/* Rendered only when it is not the default, in the unit it divides. */
static int format_size_limit(const void *b, const struct spec_key *k, struct sky_buf *out)
{
	static const char units[] = "TGMK";
	long long v = *CFIELD(b, k, long long), def = 0;
	size_t i;

	if (sky_parse_size(k->def, &def) == 0 && v == def)
		return 0;
	if (!v)
		return sky_buf_printf(out, "%s = unlimited\n", k->name);
	for (i = 0; i < sizeof(units) - 1; i++) {
		long long unit = 1LL << (10 * (sizeof(units) - 1 - i));

		if (v % unit == 0)
			return sky_buf_printf(out, "%s = %lld%c\n", k->name, v / unit, units[i]);
	}
	return sky_buf_printf(out, "%s = %lld\n", k->name, v);
}

static int valid_env_name(const char *n)
{
	if (!*n || (*n >= '0' && *n <= '9'))
		return 0;
	for (; *n; n++)
		if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') ||
		      (*n >= '0' && *n <= '9') || *n == '_'))
			return 0;
	return 1;
}

static int parse_env(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		     const char *val)
{
	struct sky_spec *s = c->s;
	struct sky_spec_env *e;
	int *lines;
	size_t i;

	if (!valid_env_name(suffix))
		return fail(c, -EINVAL, "%s%s: invalid variable name \"%s\" "
			    "(use [A-Za-z_][A-Za-z0-9_]*)", k->name, suffix, suffix);
	/* skyfs sets SKY_* itself for every job; a pool must not mask them */
	if (!strncmp(suffix, "SKY_", 4))
		return fail(c, -EINVAL, "%s%s: names starting with SKY_ are reserved for skyfs",
			    k->name, suffix);
	for (i = 0; i < s->n_env; i++)
		if (!strcmp(s->env[i].name, suffix))
			return fail(c, -EINVAL, "duplicate key \"%s%s\" (first on line %d)",
				    k->name, suffix, c->env_line[i]);
	if (s->n_env == c->env_cap) {
		size_t cap = c->env_cap ? c->env_cap * 2 : 8;

		if (!(e = realloc(s->env, cap * sizeof(*e))))
			return fail(c, -ENOMEM, "out of memory");
		s->env = e;
		if (!(lines = realloc(c->env_line, cap * sizeof(*lines))))
			return fail(c, -ENOMEM, "out of memory");
		c->env_line = lines;
		c->env_cap = cap;
	}
	e = &s->env[s->n_env];
	e->name = strdup(suffix);
	e->value = strdup(val);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return fail(c, -ENOMEM, "out of memory");
	}
	c->env_line[s->n_env++] = c->line;
	return 0;
}

static int format_env(const void *base_, const struct spec_key *k, struct sky_buf *b)
{
	const struct sky_spec *s = base_;
	size_t i;
	int rc;

	for (i = 0; i < s->n_env; i++)
		if ((rc = sky_buf_printf(b, "%s%s = %s\n", k->name, s->env[i].name,
					 s->env[i].value)))
			return rc;
	return 0;
}

#define OFF(f) offsetof(struct sky_spec, f)
#define ALT(f) offsetof(struct sky_request, f)

const struct spec_key spec_keys[] = {
	{ "provider", parse_provider, format_provider, 0, 0, 0, "local", 0, 1, 0,
	  "where nodes may come from: one provider or a list (aws, runpod, vastai)" },
	{ "nodes", parse_int, format_int, OFF(nodes), 1, 1024, "1", 0, 0, 1,
	  "how many nodes the pool runs" },
	{ "slots", parse_int, format_int, OFF(slots), 1, 1024, "1", 0, 0, 1,
	  "how many jobs run at once on each node" },
	{ "accelerator", parse_accel, format_accel, 0, 1, 64, "none", 0, 1, 0,
	  "none or NAME[:COUNT] devices per node" },
	{ "allocation", parse_allocation, format_allocation, ALT(allocation), 0, 0,
	  "spot-if-available", 0, 1, 0,
	  "spot-if-available, spot, on-demand or cheapest" },
	{ "region", parse_region, format_str, ALT(region), 0, 0, NULL, 0, 1, 0,
	  "a region (us-east-1) or a prefix ending in - (us-)" },
	{ "max_price", parse_price, format_price, ALT(max_price), 0, 0, NULL, 0, 1, 0,
	  "the most to pay per node-hour, in USD" },
	{ "vcpus", parse_int, format_int, ALT(vcpus), 1, 100000, NULL, 0, 1, 0,
	  "at least this many vCPUs per node" },
	{ "memory", parse_memory, format_int, ALT(memory_gb), 1, 1000000, NULL, 0, 1, 0,
	  "at least this much memory per node, in GB" },
	{ "lifetime", parse_dur, format_dur, OFF(lifetime_s), 0, 0, NULL, 0, 0, 1,
	  "tear the pool down this long after it starts" },
	{ "idle_timeout", parse_dur, format_dur, OFF(idle_timeout_s), 0, 0, NULL, 0, 0, 1,
	  "tear the pool down after this long without jobs" },
	{ "budget", parse_price, format_price, OFF(budget_usd), 0, 0, NULL, 0, 0, 1,
	  "tear the pool down when its accrued cost reaches this many USD (warning at 80%)" },
	{ "max_output", parse_size_limit, format_size_limit, OFF(max_output), 0, 1L << 50, "1G",
	  0, 0, 1, "the most bytes each of a job's stdout and stderr may hold (or unlimited)" },
	{ "setup", spec_parse_text, spec_format_text, OFF(setup), 0, 0, NULL, 0, 0, 0,
	  "shell command run once on each node before its first job" },
	{ "dry_run", parse_bool, format_bool, OFF(dry_run), 0, 0, NULL, 0, 0, 0,
	  "true: validate and write plan, provision nothing" },
	{ "hosts", spec_parse_hosts, spec_format_hosts, 0, 0, 0, NULL, 0, 0, 1,
	  "ssh: the machines, [user@]host[:port], ... (nodes = their number by default)" },
	{ "identity", spec_parse_text, spec_format_text, OFF(identity), 0, 0, NULL, 0, 0, 0,
	  "ssh: private key file to log in with (default: ssh-agent)" },
	{ "known_hosts", spec_parse_text, spec_format_text, OFF(known_hosts), 0, 0, NULL, 0, 0, 0,
	  "ssh: known_hosts file the hosts' keys are checked against (~/.ssh/known_hosts)" },
	{ "host_key_policy", spec_parse_policy, spec_format_policy, OFF(host_key_policy), 0, 0, "strict",
	  0, 0, 0, "ssh: strict, or accept-new (record unknown keys on first use)" },
	{ "node_timeout", parse_dur, format_dur_nondef, OFF(node_timeout_s), 0, 86400, "60s",
	  0, 0, 0, "a node unreachable this long is lost and its jobs run elsewhere" },
	{ "max_attempts", parse_int, format_int_nondef, OFF(max_attempts), 1, 100, "3", 0, 0, 1,
	  "how many times a job is started before a lost node makes it lost" },
	{ "image", spec_parse_image, spec_format_text, OFF(image), 0, 0, NULL, 0, 0, 0,
	  "aws: the machine image (ami-...), default the newest Deep Learning Base AMI; "
	  "container: a local image with sshd, default this machine's root filesystem" },
	{ "ssh_user", spec_parse_user, spec_format_text, OFF(ssh_user), 0, 0, NULL, 0, 0, 0,
	  "cloud: the user the image logs in (default ubuntu)" },
	{ "ssh_cidr", spec_parse_cidr, spec_format_text, OFF(ssh_cidr), 0, 0, NULL, 0, 0, 0,
	  "cloud: addresses allowed to SSH to the nodes (default: this machine's, /32)" },
	{ "boot_timeout", parse_dur, format_dur_nondef, OFF(boot_timeout_s), 1, 86400, "10m",
	  0, 0, 0, "cloud: how long a node may take from launch to SSH" },
	{ "orphan_timeout", parse_dur, format_dur_nondef, OFF(orphan_timeout_s), 10, 604800, "10m",
	  0, 0, 0, "cloud: a node ends itself after this long without word from skyfs" },
	{ "recover", spec_parse_recover, spec_format_recover, OFF(recover), 0, 0, "resume", 0, 0, 0,
	  "after a daemon crash: resume (adopt machines, re-queue jobs) or teardown" },
	{ "partition", spec_parse_slurm_name, spec_format_text, OFF(partition), 0, 0, NULL, 0, 0, 0,
	  "slurm: the partition(s) the allocation may use (default: the cluster's)" },
	{ "account", spec_parse_slurm_name, spec_format_text, OFF(account), 0, 0, NULL, 0, 0, 0,
	  "slurm: the account the allocation is charged to" },
	{ "qos", spec_parse_slurm_name, spec_format_text, OFF(qos), 0, 0, NULL, 0, 0, 0,
	  "slurm: the allocation's quality of service" },
	{ "time_limit", parse_dur, format_dur, OFF(time_limit_s), 0, 31536000, NULL, 0, 0, 0,
	  "slurm: the allocation's time limit, in whole minutes (default: the partition's)" },
	{ "env.", parse_env, format_env, 0, 0, 0, NULL, 1, 0, 1,
	  "env.NAME = value: an environment variable for every job" },
};
const size_t n_spec_keys = SKY_ARRAY_SIZE(spec_keys);
_Static_assert(SKY_ARRAY_SIZE(spec_keys) <= SPEC_MAX_KEYS, "raise SPEC_MAX_KEYS");

const struct spec_key *spec_find_key(const char *key, const char **suffix)
{
	size_t i;

	for (i = 0; i < n_spec_keys; i++) {
		const struct spec_key *k = &spec_keys[i];
		size_t n = strlen(k->name);

		if (k->prefix ? !strncmp(key, k->name, n) : !strcmp(key, k->name)) {
			*suffix = key + (k->prefix ? n : strlen(key));
			return k;
		}
	}
	return NULL;
}
