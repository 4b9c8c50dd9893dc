/* The pool spec parser (see spec.h): the two surface syntaxes, sections,
 * duplicates, defaults and the "did you mean" hints.
 *
 * Every key is one row of spec_keys[] (spec_keys.c): its parser, where it
 * lands, its bounds, its default and its canonical rendering. Both surface
 * syntaxes reduce each entry to (line, key, value text) and hand it to
 * apply_entry(), so the two can never disagree about what a key means.
 *
 * In the "key = value" syntax '#' starts a comment wherever it appears, so a
 * value can never contain '#'; a value that needs one must be written in the
 * JSON syntax, which has no comments. */
#include "scheduler/spec_keys.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define fail spec_fail

static int is_prefix_ci(const char *p, const char *s)
{
	return strlen(p) >= 2 && !strncasecmp(p, s, strlen(p));
}

/* Suggests the nearest key (edit distance <= 2, or one a prefix of the
 * other), else lists them all. */
static int unknown_key(struct spec_ctx *c, const char *key)
{
	const char *dot = strchr(key, '.');
	char best[128] = "", cand[128], known[512] = "";
	size_t best_d = 3, kn = 0, i, d;

	for (i = 0; i < n_spec_keys; i++) {
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

/* What check_bytes() refuses in the text, refused in a value too: a JSON
 * string's escapes ("\u0007", "\f") are only decoded after that check. */
static int check_value(struct spec_ctx *c, const char *key, const char *val)
{
	const unsigned char *p;

	for (p = (const unsigned char *)val; *p; p++)
		if ((*p < 0x20 && *p != '\t' && *p != '\r' && *p != '\n') || *p == 0x7f)
			return fail(c, -EINVAL, "%s: invalid byte 0x%02x (control character)",
				    key, *p);
	return 0;
}

/* The one path every entry of either syntax goes through. */
static int apply_entry(struct spec_ctx *c, const char *key, const char *val)
{
	const struct spec_key *k;
	const char *suffix;
	size_t row;
	int rc;

	k = spec_find_key(key, &suffix);
	if (!k)
		return unknown_key(c, key);
	if (c->section >= 0 && !k->per_alt)
		return fail(c, -EINVAL, "\"%s%s\" applies to the whole pool: set it before "
			    "the first [section]", key, k->prefix ? "" : "");
	row = (size_t)(k - spec_keys);
	if (!k->prefix && c->key_line[row])
		return fail(c, -EINVAL, "duplicate key \"%s\" (first on line %d)",
			    key, c->key_line[row]);
	if (!*val)
		return fail(c, -EINVAL, "empty value for \"%s\"", key);
	if ((rc = check_value(c, key, val)))
		return rc;
	if (!k->prefix)
		c->key_line[row] = c->line;
	return k->parse(c, k, suffix, val);
}

/* The configuration file's defaults (sky_spec_set_default), by row; set
 * before the scheduler starts, read-only after. */
static char *site_defaults[SPEC_MAX_KEYS];

int sky_spec_set_default(const char *key, const char *value, char *err, size_t errlen)
{
	struct sky_spec s;
	const char *suffix;
	const struct spec_key *k = spec_find_key(key, &suffix);
	char *text = NULL;
	int rc;

	if (!k || k->prefix) {
		snprintf(err, errlen, "\"%s\" is not a spec key that can have a default", key);
		return -EINVAL;
	}
	/* the value must stand in a spec on its own */
	if (asprintf(&text, "%s = %s\n", key, value) < 0)
		return -ENOMEM;
	rc = sky_spec_parse(text, strlen(text), &s, err, errlen);
	free(text);
	/* what the value itself is; checks that need other keys (provider =
	 * ssh and its hosts) are for the specs it becomes part of */
	if (rc && !strncmp(err, "line 1: ", 8))
		return rc;
	if (!rc)
		sky_spec_free(&s);
	free(site_defaults[k - spec_keys]);
	return (site_defaults[k - spec_keys] = strdup(value)) ? 0 : -ENOMEM;
}

const char *sky_spec_get_default(const char *key)
{
	const char *suffix;
	const struct spec_key *k = spec_find_key(key, &suffix);

	return !k ? NULL : site_defaults[k - spec_keys] ? site_defaults[k - spec_keys] : k->def;
}

static int apply_defaults(struct spec_ctx *c)
{
	size_t i;
	int rc;

	for (i = 0; i < n_spec_keys; i++) {
		const struct spec_key *k = &spec_keys[i];
		const char *def = site_defaults[i] ? site_defaults[i] : k->def;

		if (def && (rc = k->parse(c, k, "", def)))
			return rc;
	}
	c->s->res.vcpus = c->s->res.memory_gb = 0;
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

static int valid_section_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

/* [name]: an alternative that starts from the top level's hardware keys. */
static int begin_section(struct spec_ctx *c, const char *name)
{
	struct sky_spec *s = c->s;
	struct sky_request *r;
	size_t i;
	int k;

	for (i = 0; name[i]; i++)
		if (!valid_section_char(name[i]))
			return fail(c, -EINVAL, "section name \"%s\": use letters, digits, "
				    "'.', '_' and '-'", name);
	if (!i || i >= sizeof(r->name))
		return fail(c, -EINVAL, "section name must be 1 to %zu bytes",
			    sizeof(r->name) - 1);
	for (k = 0; k < s->n_alts; k++)
		if (!strcmp(s->alts[k].name, name))
			return fail(c, -EINVAL, "duplicate section [%s]", name);
	if (s->n_alts == SKY_SPEC_MAX_ALTS)
		return fail(c, -EINVAL, "at most %d sections", SKY_SPEC_MAX_ALTS);
	if (!s->alts && !(s->alts = calloc(SKY_SPEC_MAX_ALTS, sizeof(*s->alts))))
		return fail(c, -ENOMEM, "out of memory");
	r = &s->alts[s->n_alts];
	*r = s->res;
	strcpy(r->name, name);
	c->section = s->n_alts++;
	c->target = r;
	/* a section may set again what the top level set */
	for (i = 0; i < n_spec_keys; i++)
		if (spec_keys[i].per_alt)
			c->key_line[i] = 0;
	return 0;
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
		if (*line == '[') {
			char *close = strchr(line, ']');

			if (!close || *trim(close + 1))
				return fail(c, -EINVAL, "expected \"[name]\"");
			*close = '\0';
			if ((rc = begin_section(c, trim(line + 1))))
				return rc;
			continue;
		}
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

/* The text a JSON scalar stands for in the key = value syntax; NULL for
 * objects and arrays. num must hold 32 bytes. */
static const char *json_text(json_t *v, char *num)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return num;
	}
	if (json_is_real(v)) {
		snprintf(num, 32, "%.17g", json_real_value(v));
		return num;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

/* "name": {...}: an alternative, like [name] (errors point at its line). */
static int json_section(struct spec_ctx *c, const char *name, json_t *obj)
{
	const char *key, *text;
	char num[32], *val;
	json_t *v;
	int rc = begin_section(c, name);

	json_object_foreach(obj, key, v) {
		if (rc)
			break;
		if (!(text = json_text(v, num))) {
			rc = fail(c, -EINVAL, "[%s] %s: value must be a string, number or boolean",
				  name, key);
			break;
		}
		if (!(val = strdup(text)))
			return fail(c, -ENOMEM, "out of memory");
		rc = apply_entry(c, key, trim(val));
		free(val);
	}
	return rc;
}

/* jansson merges repeated keys; the top level's repeats are caught with
 * their lines by apply_entry(), a repeat inside an alternative is caught
 * here, by loading again with duplicates refused. */
static int json_section_duplicates(struct spec_ctx *c, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *strict = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *q, *e;

	if (strict) {
		json_decref(strict);
		return 0;
	}
	c->line = jerr.line > 0 ? jerr.line : 1;
	/* jansson says: duplicate object key near '"provider"' */
	q = strstr(jerr.text, "'\"");
	e = q ? strstr(q + 2, "\"'") : NULL;
	if (q && e)
		return fail(c, -EINVAL, "duplicate key \"%.*s\" in an alternative",
			    (int)(e - q - 2), q + 2);
	return fail(c, -EINVAL, "invalid JSON: %s", jerr.text);
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
	int rc, is_section;

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
		/* an object is an alternative, unless it is a tempting misuse of
		 * a key ("env": {...}), which gets the key's hint below */
		is_section = json_is_object(v) && !spec_find_key(name, &sv) && strcmp(name, "env");
		if (!spec_find_key(name, &sv) && !is_section) {
			rc = unknown_key(c, name);
			goto out;
		}
		if (c->section >= 0 && !is_section) {
			rc = fail(c, -EINVAL, "\"%s\" applies to the whole pool: put it before "
				  "the first alternative", name);
			goto out;
		}
		if (is_section) {
			rc = json_section(c, name, v);
			if (rc)
				goto out;
			continue;
		}
		if (json_is_object(v) || json_is_array(v)) {
			rc = fail(c, -EINVAL, "%s: nested objects and arrays are not supported",
				  name);
			goto out;
		} else if (!(sv = json_text(v, num))) {
			rc = fail(c, -EINVAL, "%s: value must be a string, number or boolean",
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
	rc = json_section_duplicates(c, text, len);
out:
	for (i = 0; i < n; i++)
		free(keys[i].name);
	free(keys);
	free(val);
	json_decref(root);
	return rc;
}

/* Without sections, the top level is the one alternative. Every
 * alternative learns the pool's node count (for the pool's price). */
static int finish_alternatives(struct spec_ctx *c)
{
	struct sky_spec *s = c->s;
	int i;

	if (!s->n_alts) {
		if (!(s->alts = calloc(1, sizeof(*s->alts))))
			return fail(c, -ENOMEM, "out of memory");
		s->alts[0] = s->res;
		s->n_alts = 1;
	}
	for (i = 0; i < s->n_alts; i++)
		s->alts[i].nodes = s->nodes;
	s->res.nodes = s->nodes;
	return 0;
}

int sky_spec_parse(const char *text, size_t len, struct sky_spec *out,
		   char *err, size_t errlen)
{
	int key_line[SPEC_MAX_KEYS] = { 0 };
	struct spec_ctx c = {
		.s = out, .target = &out->res, .section = -1, .err = err, .errlen = errlen,
		.key_line = key_line,
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
	if (!rc)
		rc = spec_finish_hosts(&c);
	if (!rc)
		rc = finish_alternatives(&c);
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
	free(s->hosts);
	free(s->identity);
	free(s->known_hosts);
	free(s->image);
	free(s->ssh_user);
	free(s->ssh_cidr);
	free(s->partition);
	free(s->account);
	free(s->qos);
	free(s->alts);
	memset(s, 0, sizeof(*s));
}

int sky_spec_format(const struct sky_spec *s, char **out)
{
	struct sky_buf b = { 0 };
	size_t i;
	int rc = 0, a;

	for (i = 0; i < n_spec_keys; i++)
		if ((rc = spec_keys[i].format(spec_keys[i].per_alt ? (const void *)&s->res :
					      (const void *)s, &spec_keys[i], &b)))
			goto out;
	/* sections: every hardware key, as each alternative has it */
	for (a = 0; a < s->n_alts && s->alts[a].name[0]; a++) {
		if ((rc = sky_buf_printf(&b, "[%s]\n", s->alts[a].name)))
			goto out;
		for (i = 0; i < n_spec_keys; i++)
			if (spec_keys[i].per_alt &&
			    (rc = spec_keys[i].format(&s->alts[a], &spec_keys[i], &b)))
				goto out;
	}
	if (!b.data && (rc = sky_buf_append(&b, "", 0)))
		goto out;
	*out = b.data;
	b.data = NULL;
out:
	sky_buf_free(&b);
	return rc;
}
