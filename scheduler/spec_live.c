/* Which keys of a live pool's spec may change (the table's live column)
 * and moving their values into the spec the pool runs with. A resize
 * (nodes), slots, env.*, the limits and an ssh pool's hosts (past the
 * nodes in use: resize.c checks that part) apply to a running pool; any
 * other key describes the machines themselves and needs a new pool. */
#include "scheduler/spec_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row of s as text: the top level's value and, for a hardware key,
 * each section's (so that a change in any section counts). */
static int format_row(const struct sky_spec *s, const struct spec_key *k, struct sky_buf *b)
{
	int a, rc;

	if (!k->per_alt)
		return k->format(s, k, b);
	if ((rc = k->format(&s->res, k, b)))
		return rc;
	for (a = 0; a < s->n_alts && s->alts[a].name[0]; a++)
		if ((rc = sky_buf_printf(b, "[%s]\n", s->alts[a].name)) ||
		    (rc = k->format(&s->alts[a], k, b)))
			return rc;
	return 0;
}

static int row_differs(const struct sky_spec *x, const struct sky_spec *y, const struct spec_key *k)
{
	struct sky_buf a = { 0 }, b = { 0 };
	int differs;

	if (format_row(x, k, &a) || format_row(y, k, &b))
		differs = 1;   /* out of memory: not provably the same */
	else
		differs = a.len != b.len || (a.len && memcmp(a.data, b.data, a.len));
	sky_buf_free(&a);
	sky_buf_free(&b);
	return differs;
}

static void append(char *buf, size_t len, size_t *used, const char *word, const char *suffix)
{
	if (*used < len)
		*used += (size_t)snprintf(buf + *used, len - *used, "%s%s%s", *used ? ", " : "",
					  word, suffix);
}

static int sections_differ(const struct sky_spec *x, const struct sky_spec *y)
{
	int a;

	if (x->n_alts != y->n_alts)
		return 1;
	for (a = 0; a < x->n_alts; a++)
		if (strcmp(x->alts[a].name, y->alts[a].name))
			return 1;
	return 0;
}

int sky_spec_live_diff(const struct sky_spec *old, const struct sky_spec *new, char *fixed,
		       size_t len)
{
	int sections = sections_differ(old, new);
	size_t i, used = 0;

	if (len)
		fixed[0] = '\0';
	for (i = 0; i < n_spec_keys; i++)
		/* sections added, removed or renamed say it for their keys */
		if (!spec_keys[i].live && !(sections && spec_keys[i].per_alt) &&
		    row_differs(old, new, &spec_keys[i]))
			append(fixed, len, &used, spec_keys[i].name, "");
	if (sections)
		append(fixed, len, &used, "[sections]", "");
	return used ? -EBUSY : 0;
}

void sky_spec_live_keys(char *buf, size_t len)
{
	size_t i, used = 0;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < n_spec_keys; i++)
		if (spec_keys[i].live)
			append(buf, len, &used, spec_keys[i].name, spec_keys[i].prefix ? "*" : "");
}

void sky_spec_live_changes(const struct sky_spec *old, const struct sky_spec *new,
			   const char *const *except, char *buf, size_t len)
{
	size_t i, e, used = 0;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < n_spec_keys; i++) {
		for (e = 0; except && except[e] && strcmp(except[e], spec_keys[i].name); e++)
			;
		if (spec_keys[i].live && !(except && except[e]) &&
		    row_differs(old, new, &spec_keys[i]))
			append(buf, len, &used, spec_keys[i].name, spec_keys[i].prefix ? "*" : "");
	}
}

/* Every row marked live in spec_keys.c is moved here; the unit tests
 * check the two stay in step (test_spec.c, live keys). */
void sky_spec_take_live(struct sky_spec *dst, struct sky_spec *src)
{
	struct sky_spec_env *env = dst->env;
	struct sky_spec_host *hosts = dst->hosts;
	size_t n_env = dst->n_env;
	int n_hosts = dst->n_hosts;

	dst->nodes = src->nodes;
	dst->slots = src->slots;
	dst->lifetime_s = src->lifetime_s;
	dst->idle_timeout_s = src->idle_timeout_s;
	dst->budget_usd = src->budget_usd;
	dst->max_output = src->max_output;
	dst->max_attempts = src->max_attempts;
	dst->env = src->env;
	dst->n_env = src->n_env;
	src->env = env;
	src->n_env = n_env;
	/* readers copy an entry under the lock (sky_pool_info.host_of), so
	 * the old array may go with src */
	dst->hosts = src->hosts;
	dst->n_hosts = src->n_hosts;
	src->hosts = hosts;
	src->n_hosts = n_hosts;
}
