/* The pool spec parser (see spec.h).
 *
 * Every key is one row of spec_keys[]: its parser, where it lands in struct
 * sky_spec, its bounds, its default and its canonical rendering. Both
 * surface syntaxes reduce each entry to (line, key, value text) and hand it
 * to apply_entry(), so the two can never disagree about what a key means.
 *
 * In the "key = value" syntax '#' starts a comment wherever it appears, so a
 * value can never contain '#'; a value that needs one must be written in the
 * JSON syntax, which has no comments. */
#include "scheduler/spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "providers/provider.h"

struct spec_key;

struct spec_ctx {
	struct sky_spec *s;
	int line;                /* of the entry being applied */
	char *err;
	size_t errlen;
	int *key_line;           /* per row: where the key was first set, 0 if not */
	int *env_line;           /* parallel to s->env */
	size_t env_cap;
};

typedef int (*spec_parse_fn)(struct spec_ctx *c, const struct spec_key *k,
			     const char *suffix, const char *val);
typedef int (*spec_format_fn)(const struct sky_spec *s, const struct spec_key *k,
			      struct sky_buf *b);

struct spec_key {
	const char *name;        /* the key; for a prefix row, the prefix */
	spec_parse_fn parse;
	spec_format_fn format;
	size_t offset;           /* of the target field in struct sky_spec */
	long min, max;           /* bounds of the integer (for accelerator: the count) */
	const char *def;         /* default as value text, NULL for none */
	int prefix;              /* the key is name + a suffix the parser checks */
	const char *desc;
};

#define FIELD(s, k, type) ((type *)((char *)(s) + (k)->offset))
#define CFIELD(s, k, type) ((const type *)((const char *)(s) + (k)->offset))

static int __attribute__((format(printf, 3, 4)))
fail(struct spec_ctx *c, int rc, const char *fmt, ...)
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
		*FIELD(c->s, k, int) = (int)v;
	return rc;
}

static int format_int(const struct sky_spec *s, const struct spec_key *k, struct sky_buf *b)
{
	return sky_buf_printf(b, "%s = %d\n", k->name, *CFIELD(s, k, int));
}

static int parse_provider(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
			  const char *val)
{
	char *dst = FIELD(c->s, k, char);

	(void)suffix;
	if (!sky_provider_find(val))
		return fail(c, -EINVAL, "unknown provider \"%s\" (known: %s)", val,
			    sky_provider_names());
	if (strlen(val) >= SKY_PROVIDER_NAME_MAX)
		return fail(c, -EINVAL, "provider name \"%s\" is too long", val);
	strcpy(dst, val);
	return 0;
}

static int format_str(const struct sky_spec *s, const struct spec_key *k, struct sky_buf *b)
{
	return sky_buf_printf(b, "%s = %s\n", k->name, CFIELD(s, k, char));
}

static int valid_accel_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

/* The row's bounds are the count's; the name is stored as written. */
static int parse_accel(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		       const char *val)
{
	char *name = FIELD(c->s, k, char);
	int *count = &c->s->accelerator_count;
	const char *colon = strchr(val, ':');
	size_t n = colon ? (size_t)(colon - val) : strlen(val);
	long v = 1;
	size_t i;
	int rc;

	(void)suffix;
	if (!strcasecmp(val, "none")) {
		name[0] = '\0';
		*count = 0;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!valid_accel_char(val[i]))
			break;
	if (n == 0 || i < n || (colon && !colon[1]))
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
	*count = (int)v;
	return 0;
}

static int format_accel(const struct sky_spec *s, const struct spec_key *k, struct sky_buf *b)
{
	const char *name = CFIELD(s, k, char);

	if (!name[0])
		return sky_buf_printf(b, "%s = none\n", k->name);
	return sky_buf_printf(b, "%s = %s:%d\n", k->name, name, s->accelerator_count);
}

static int parse_text(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		      const char *val)
{
	char **dst = FIELD(c->s, k, char *);
	char *copy = strdup(val);

	(void)suffix;
	if (!copy)
		return fail(c, -ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

/* Absent optional text is simply not rendered, so the output parses back. */
static int format_text(const struct sky_spec *s, const struct spec_key *k, struct sky_buf *b)
{
	const char *v = *CFIELD(s, k, char *);

	return v ? sky_buf_printf(b, "%s = %s\n", k->name, v) : 0;
}

static int parse_dur(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		     const char *val)
{
	long v;

	(void)suffix;
	if (sky_parse_duration(val, &v))
		return fail(c, -EINVAL, "%s: invalid duration \"%s\" (use e.g. 90s, 15m, 2h)",
			    k->name, val);
	*FIELD(c->s, k, long) = v;
	return 0;
}

static int format_dur(const struct sky_spec *s, const struct spec_key *k, struct sky_buf *b)
{
	static const struct { long secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	long v = *CFIELD(s, k, long);
	size_t i;
	int rc;

	if (v <= 0)
		return 0;
	if ((rc = sky_buf_printf(b, "%s = ", k->name)))
		return rc;
	for (i = 0; i < SKY_ARRAY_SIZE(units); i++) {
		if (v < units[i].secs)
			continue;
		if ((rc = sky_buf_printf(b, "%ld%c", v / units[i].secs, units[i].unit)))
			return rc;
		v %= units[i].secs;
	}
	return sky_buf_append(b, "\n", 1);
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

static int format_env(const struct sky_spec *s, const struct spec_key *k, struct sky_buf *b)
{
	size_t i;
	int rc;

	for (i = 0; i < s->n_env; i++)
		if ((rc = sky_buf_printf(b, "%s%s = %s\n", k->name, s->env[i].name,
					 s->env[i].value)))
			return rc;
	return 0;
}

#define OFF(f) offsetof(struct sky_spec, f)

static const struct spec_key spec_keys[] = {
	{ "provider", parse_provider, format_str, OFF(provider), 0, 0, "local", 0,
	  "where nodes come from (a registered provider name)" },
	{ "nodes", parse_int, format_int, OFF(nodes), 1, 1024, "1", 0,
	  "how many nodes the pool runs" },
	{ "slots", parse_int, format_int, OFF(slots), 1, 1024, "1", 0,
	  "how many jobs run at once on each node" },
	{ "accelerator", parse_accel, format_accel, OFF(accelerator), 1, 64, "none", 0,
	  "none or NAME[:COUNT] devices per node" },
	{ "lifetime", parse_dur, format_dur, OFF(lifetime_s), 0, 0, NULL, 0,
	  "tear the pool down this long after it starts" },
	{ "idle_timeout", parse_dur, format_dur, OFF(idle_timeout_s), 0, 0, NULL, 0,
	  "tear the pool down after this long without jobs" },
	{ "setup", parse_text, format_text, OFF(setup), 0, 0, NULL, 0,
	  "shell command run once on each node before its first job" },
	{ "env.", parse_env, format_env, 0, 0, 0, NULL, 1,
	  "env.NAME = value: an environment variable for every job" },
};

static const struct spec_key *find_key(const char *key, const char **suffix)
{
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(spec_keys); i++) {
		const struct spec_key *k = &spec_keys[i];
		size_t n = strlen(k->name);

		if (k->prefix ? !strncmp(key, k->name, n) : !strcmp(key, k->name)) {
			*suffix = key + (k->prefix ? n : strlen(key));
			return k;
		}
	}
	return NULL;
}

static int is_prefix_ci(const char *p, const char *s)
{
	return strlen(p) >= 2 && !strncasecmp(p, s, strlen(p));
}

/* Suggests the nearest key (edit distance <= 2, or one a prefix of the
 * other), else lists them all. */
static int unknown_key(struct spec_ctx *c, const char *key)
{
	const char *dot = strchr(key, '.');
	char best[128] = "", cand[128], known[256] = "";
	size_t best_d = 3, kn = 0, i, d;

	for (i = 0; i < SKY_ARRAY_SIZE(spec_keys); i++) {
		const struct spec_key *k = &spec_keys[i];

		if (kn < sizeof(known))
			kn += (size_t)snprintf(known + kn, sizeof(known) - kn, "%s%s%s",
					       i ? ", " : "", k->name, k->prefix ? "NAME" : "");
		if (!k->prefix) {
			d = sky_edit_distance(key, k->name);
			if (d > 2 && (is_prefix_ci(key, k->name) || is_prefix_ci(k->name, key)))
				d = 2;
			snprintf(cand, sizeof(cand), "%s", k->name);
		} else if (dot) {
			/* "ENV.FOO" or "evn.FOO": the prefix is what is misspelt */
			snprintf(cand, sizeof(cand), "%.*s", (int)(dot - key + 1), key);
			d = sky_edit_distance(cand, k->name);
			snprintf(cand, sizeof(cand), "%s%s", k->name, dot + 1);
		} else {
			/* a bare "env", as in JSON's tempting "env": {...} */
			d = strlen(key) + 1 == strlen(k->name) &&
			    !strncmp(key, k->name, strlen(key)) ? 0 : 3;
			snprintf(cand, sizeof(cand), "%sNAME", k->name);
		}
		if (d < best_d) {
			best_d = d;
			memcpy(best, cand, sizeof(best));
		}
	}
	if (best[0])
		return fail(c, -EINVAL, "unknown key \"%s\" (did you mean \"%s\"?)", key, best);
	return fail(c, -EINVAL, "unknown key \"%s\" (known: %s)", key, known);
}

/* The one path every entry of either syntax goes through. */
static int apply_entry(struct spec_ctx *c, const char *key, const char *val)
{
	const struct spec_key *k;
	const char *suffix;
	size_t row;

	k = find_key(key, &suffix);
	if (!k)
		return unknown_key(c, key);
	row = (size_t)(k - spec_keys);
	if (!k->prefix && c->key_line[row])
		return fail(c, -EINVAL, "duplicate key \"%s\" (first on line %d)",
			    key, c->key_line[row]);
	if (!*val)
		return fail(c, -EINVAL, "empty value for \"%s\"", key);
	if (!k->prefix)
		c->key_line[row] = c->line;
	return k->parse(c, k, suffix, val);
}

static int apply_defaults(struct spec_ctx *c)
{
	size_t i;
	int rc;

	for (i = 0; i < SKY_ARRAY_SIZE(spec_keys); i++) {
		const struct spec_key *k = &spec_keys[i];

		if (k->def && (rc = k->parse(c, k, "", k->def)))
			return rc;
	}
	return 0;
}

/* Refuses NUL, control characters other than tab/CR/LF and invalid UTF-8
 * (overlong forms, surrogates, past U+10FFFF): the values end up in job
 * environments and status files, where such bytes only do harm. */
static int check_bytes(struct spec_ctx *c, const unsigned char *p, size_t len)
{
	static const unsigned int min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t i, k, n;
	unsigned int cp;

	for (c->line = 1, i = 0; i < len; i += n) {
		n = p[i] < 0x80 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;
		if (p[i] == '\n')
			c->line++;
		else if (!p[i])
			return fail(c, -EINVAL, "invalid byte 0x00 (NUL)");
		else if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r') || p[i] == 0x7f)
			return fail(c, -EINVAL, "invalid byte 0x%02x (control character)", p[i]);
		if (n == 1)
			continue;
		if (p[i] < 0xc0 || p[i] > 0xf7 || n > len - i)
			goto bad;
		cp = p[i] & (0x7fu >> n);
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
	}
	return 0;
bad:
	return fail(c, -EINVAL, "invalid byte 0x%02x (not UTF-8)", p[i]);
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static char *trim(char *s)
{
	char *e;

	while (is_blank(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_blank(e[-1]))
		*--e = '\0';
	return s;
}

/* buf is a NUL-terminated private copy, cut up in place. */
static int parse_kv(struct spec_ctx *c, char *buf)
{
	char *line = buf, *next, *hash, *eq, *key;
	int rc;

	for (c->line = 1; line; c->line++, line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line = trim(line);
		if (!*line)
			continue;
		if (*line == '[')
			return fail(c, -EINVAL, "sections ([name]) are not supported yet");
		eq = strchr(line, '=');
		if (!eq)
			return fail(c, -EINVAL, "expected \"key = value\"");
		*eq = '\0';
		key = trim(line);
		if (!*key)
			return fail(c, -EINVAL, "expected \"key = value\"");
		if ((rc = apply_entry(c, key, trim(eq + 1))))
			return rc;
	}
	return 0;
}

struct json_key {
	char *name;
	int line;
};

/* jansson reports no positions for keys, so the top-level keys are found
 * again in the (already validated) text, in the order written, with their
 * lines. Each key's quoted form is decoded by jansson itself, so escapes mean
 * the same here as in the parsed object. Every key is followed by a ':',
 * which bounds how many there can be. */
static int json_scan_keys(struct spec_ctx *c, const char *p, size_t len,
			  struct json_key **out, size_t *nout)
{
	size_t n = 1, i, j, start;
	int depth = 0, line = 1, start_line;
	json_t *js;

	for (i = 0; i < len; i++)
		n += p[i] == ':';
	if (!(*out = calloc(n, sizeof(**out))))
		return fail(c, -ENOMEM, "out of memory");
	for (*nout = 0, i = 0; i < len; i++) {
		line += p[i] == '\n';
		depth += (p[i] == '{' || p[i] == '[') - (p[i] == '}' || p[i] == ']');
		if (p[i] != '"')
			continue;
		start = i;
		start_line = line;
		for (i++; i < len && p[i] != '"'; i++)
			i += p[i] == '\\';
		for (j = i + 1; j < len && strchr(" \t\r\n", p[j]); j++)
			;
		if (depth != 1 || j >= len || p[j] != ':')
			continue;
		js = json_loadb(p + start, i + 1 - start, JSON_DECODE_ANY, NULL);
		(*out)[*nout].name = json_is_string(js) ? strdup(json_string_value(js)) : NULL;
		(*out)[*nout].line = start_line;
		json_decref(js);
		if (!(*out)[(*nout)++].name)
			return fail(c, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Each value becomes the text the key = value syntax would have given. */
static int parse_json(struct spec_ctx *c, const char *text, size_t len)
{
	struct json_key *keys = NULL;
	size_t n = 0, i;
	json_error_t jerr;
	json_t *root, *v;
	char num[32], *val = NULL;
	const char *name, *sv;
	int rc;

	root = json_loadb(text, len, 0, &jerr);
	if (!root) {
		c->line = jerr.line > 0 ? jerr.line : 1;
		return fail(c, -EINVAL, "invalid JSON: %s", jerr.text);
	}
	if ((rc = json_scan_keys(c, text, len, &keys, &n)))
		goto out;
	for (i = 0; i < n; i++) {
		/* duplicates (which jansson merges) are caught by apply_entry() */
		name = keys[i].name;
		v = json_object_get(root, name);
		c->line = keys[i].line;
		if (!find_key(name, &sv)) {
			rc = unknown_key(c, name);
			goto out;
		}
		if (json_is_object(v) || json_is_array(v)) {
			rc = fail(c, -EINVAL, "%s: nested objects and arrays are not supported",
				  name);
			goto out;
		} else if (json_is_string(v)) {
			sv = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			sv = num;
		} else if (json_is_boolean(v)) {
			sv = json_is_true(v) ? "true" : "false";
		} else {
			rc = fail(c, -EINVAL, "%s: value must be a string, integer or boolean",
				  name);
			goto out;
		}
		free(val);
		if (!(val = strdup(sv))) {
			rc = fail(c, -ENOMEM, "out of memory");
			goto out;
		}
		/* trimmed like the key = value syntax, so "nodes": " 2 " means 2 */
		if ((rc = apply_entry(c, name, trim(val))))
			goto out;
	}
out:
	for (i = 0; i < n; i++)
		free(keys[i].name);
	free(keys);
	free(val);
	json_decref(root);
	return rc;
}

int sky_spec_parse(const char *text, size_t len, struct sky_spec *out,
		   char *err, size_t errlen)
{
	int key_line[SKY_ARRAY_SIZE(spec_keys)] = { 0 };
	struct spec_ctx c = {
		.s = out, .err = err, .errlen = errlen, .key_line = key_line,
	};
	char *buf = NULL;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (len > SKY_SPEC_MAX_BYTES)
		return fail(&c, -EFBIG, "spec is %zu bytes, more than the %d allowed",
			    len, SKY_SPEC_MAX_BYTES);
	if ((rc = check_bytes(&c, (const unsigned char *)text, len)))
		goto out;
	/* a UTF-8 byte order mark is what some editors put first */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	}
	c.line = 0;
	if ((rc = apply_defaults(&c)))
		goto out;
	for (i = 0; i < len && strchr(" \t\r\n", text[i]); i++)
		;
	if (i < len && text[i] == '{') {
		rc = parse_json(&c, text, len);
		goto out;
	}
	buf = malloc(len + 1);
	if (!buf) {
		rc = fail(&c, -ENOMEM, "out of memory");
		goto out;
	}
	if (len)
		memcpy(buf, text, len);
	buf[len] = '\0';
	rc = parse_kv(&c, buf);
out:
	free(buf);
	free(c.env_line);
	if (rc)
		sky_spec_free(out);
	return rc;
}

void sky_spec_free(struct sky_spec *s)
{
	size_t i;

	for (i = 0; i < s->n_env; i++) {
		free(s->env[i].name);
		free(s->env[i].value);
	}
	free(s->env);
	free(s->setup);
	memset(s, 0, sizeof(*s));
}

int sky_spec_format(const struct sky_spec *s, char **out)
{
	struct sky_buf b = { 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < SKY_ARRAY_SIZE(spec_keys); i++)
		if ((rc = spec_keys[i].format(s, &spec_keys[i], &b)))
			goto out;
	if (!b.data && (rc = sky_buf_append(&b, "", 0)))
		goto out;
	*out = b.data;
	b.data = NULL;
out:
	sky_buf_free(&b);
	return rc;
}
