/* Shared by the spec parser's unit tests (test_spec.c, test_spec_alts.c):
 * parsing shortcuts, expected errors, and the group setup that loads the
 * catalog. Included once per test program. */
#ifndef SKY_TEST_SPEC_HELPERS_H
#define SKY_TEST_SPEC_HELPERS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog/catalog.h"
#include "common/util.h"
#include "providers/provider.h"
#include "scheduler/spec.h"

static __attribute__((unused)) int parse(const char *text, struct sky_spec *s, char *err, size_t errlen)
{
	return sky_spec_parse(text, strlen(text), s, err, errlen);
}

static __attribute__((unused)) void assert_zeroed(const struct sky_spec *s)
{
	static const struct sky_spec zero;

	assert_memory_equal(s, &zero, sizeof(zero));
}

/* Field by field (struct copies need not copy padding). */
static __attribute__((unused)) void assert_request_equal(const struct sky_request *a, const struct sky_request *b)
{
	int i;

	assert_string_equal(a->name, b->name);
	assert_int_equal(a->n_providers, b->n_providers);
	for (i = 0; i < a->n_providers; i++)
		assert_string_equal(a->providers[i], b->providers[i]);
	assert_string_equal(a->accelerator, b->accelerator);
	assert_int_equal(a->accelerator_count, b->accelerator_count);
	assert_int_equal(a->vcpus, b->vcpus);
	assert_int_equal(a->memory_gb, b->memory_gb);
	assert_string_equal(a->region, b->region);
	assert_true(a->max_price == b->max_price);
	assert_int_equal(a->allocation, b->allocation);
	assert_int_equal(a->nodes, b->nodes);
}

/* Without sections the top level is the one alternative. */
static __attribute__((unused)) void assert_one_alternative(const struct sky_spec *s)
{
	assert_int_equal(s->n_alts, 1);
	assert_non_null(s->alts);
	assert_string_equal(s->alts[0].name, "");
	assert_request_equal(&s->alts[0], &s->res);
	assert_int_equal(s->alts[0].nodes, s->nodes);
}

static __attribute__((unused)) void assert_defaults(const struct sky_spec *s)
{
	assert_int_equal(s->res.n_providers, 1);
	assert_string_equal(s->res.providers[0], "local");
	assert_int_equal(s->nodes, 1);
	assert_int_equal(s->slots, 1);
	assert_string_equal(s->res.accelerator, "");
	assert_int_equal(s->res.accelerator_count, 0);
	assert_int_equal(s->res.allocation, SKY_ALLOC_SPOT_IF_AVAILABLE);
	assert_string_equal(s->res.region, "");
	assert_true(s->res.max_price == 0);
	assert_int_equal(s->res.vcpus, 0);
	assert_int_equal(s->res.memory_gb, 0);
	assert_int_equal(s->dry_run, 0);
	assert_null(s->setup);
	assert_int_equal(s->lifetime_s, 0);
	assert_int_equal(s->idle_timeout_s, 0);
	assert_true(s->budget_usd == 0);
	assert_null(s->env);
	assert_int_equal(s->n_env, 0);
	assert_null(s->hosts);
	assert_int_equal(s->n_hosts, 0);
	assert_null(s->identity);
	assert_null(s->known_hosts);
	assert_int_equal(s->host_key_policy, SKY_HOST_KEY_STRICT);
	assert_int_equal(s->node_timeout_s, 60);
	assert_int_equal(s->max_attempts, 3);
	assert_null(s->image);
	assert_null(s->ssh_user);
	assert_null(s->ssh_cidr);
	assert_int_equal(s->boot_timeout_s, 600);
	assert_one_alternative(s);
}

/* Parses text expecting success (the error text shown otherwise). */
static __attribute__((unused)) void expect_ok(const char *text, struct sky_spec *s)
{
	char err[512] = "";
	int rc = parse(text, s, err, sizeof(err));

	if (rc)
		fail_msg("spec %s: refused (%d): %s", text, rc, err);
	assert_string_equal(err, "");
}

struct names_buf {
	char text[512];
	size_t used;
};

static __attribute__((unused)) int add_provider_name(const char *name, void *arg)
{
	struct names_buf *b = arg;

	b->used += (size_t)snprintf(b->text + b->used, sizeof(b->text) - b->used, "%s%s",
				    b->used ? ", " : "", name);
	return 0;
}

/* Every provider a spec may name, as the error lists them: the registry's,
 * then the catalog-only ones. */
static __attribute__((unused)) const char *known_providers(void)
{
	static struct names_buf b;

	b.used = 0;
	b.text[0] = '\0';
	sky_provider_each(add_provider_name, &b);
	return b.text;
}

/* Parses text expecting -EINVAL and exactly msg, and a zeroed struct. */
static __attribute__((unused)) void expect_err_len(const char *text, size_t len, const char *msg)
{
	struct sky_spec s;
	char err[512];
	int rc;

	memset(&s, 0xa5, sizeof(s));
	rc = sky_spec_parse(text, len, &s, err, sizeof(err));
	if (rc != -EINVAL) {
		if (!rc)
			sky_spec_free(&s);
		fail_msg("spec \"%.*s\": expected EINVAL with \"%s\", got %d \"%s\"",
			 (int)len, text, msg, rc, err);
	}
	assert_string_equal(err, msg);
	assert_zeroed(&s);
}

static __attribute__((unused)) void expect_err(const char *text, const char *msg)
{
	expect_err_len(text, strlen(text), msg);
}

/* The same, for a message whose tail is not pinned (lists of suggestions). */
static __attribute__((unused)) void expect_err_prefix(const char *text, const char *prefix)
{
	struct sky_spec s;
	char err[512];
	int rc;

	memset(&s, 0xa5, sizeof(s));
	rc = parse(text, &s, err, sizeof(err));
	if (rc != -EINVAL) {
		if (!rc)
			sky_spec_free(&s);
		fail_msg("spec \"%s\": expected EINVAL with \"%s...\", got %d \"%s\"",
			 text, prefix, rc, err);
	}
	if (strncmp(err, prefix, strlen(prefix)))
		fail_msg("spec %s: error \"%s\" does not start with \"%s\"", text, err, prefix);
	assert_zeroed(&s);
}
/* Accelerator names are the catalog's, and so are the catalog-only
 * providers: load it for the group. */
static __attribute__((unused)) int setup(void **state)
{
	char err[256] = "";

	(void)state;
	if (sky_catalog_init(err, sizeof(err))) {
		print_error("catalog: %s\n", err);
		return -1;
	}
	return 0;
}

static __attribute__((unused)) int teardown(void **state)
{
	(void)state;
	sky_catalog_fini();
	return 0;
}


#endif
