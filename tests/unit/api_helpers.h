/* Shared by the provider API unit tests (test_lambda.c, test_slurm.c): a
 * test answer's JSON, loaded or the test fails, and an offer found by its
 * instance type and region. Included once per test program, after
 * <cmocka.h>. */
#ifndef SKY_TEST_API_HELPERS_H
#define SKY_TEST_API_HELPERS_H

#include <string.h>

#include <jansson.h>

#include "providers/provider.h"

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!doc)
		fail_msg("bad test JSON: %s", jerr.text);
	return doc;
}

static const struct sky_offer *find_offer(const struct sky_offer *o, size_t n, const char *type,
					  const char *region)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(o[i].instance_type, type) && !strcmp(o[i].region, region))
			return &o[i];
	return NULL;
}

#endif
