/* libFuzzer target: the pool spec parser on the JSON form (scheduler/spec.c:
 * one object; an object-valued key is an alternative). A spec that parses
 * must render (sky_spec_format) to a "key = value" text that parses again
 * and renders the same, unless one of its text values holds what that
 * syntax cannot carry ('#' starts a comment there, a line break ends the
 * value): the JSON form exists for such values. Corpus:
 * tests/fuzz/corpus/spec_json. */
#include <stdint.h>
#include <string.h>

#include "spec_roundtrip.h"

static int kv_safe(const char *v)
{
	return !v || !strpbrk(v, "#\n");
}

/* Whether every text value can be written as "key = value". */
static int representable(const struct sky_spec *s)
{
	size_t i;

	for (i = 0; i < s->n_env; i++)
		if (!kv_safe(s->env[i].value))
			return 0;
	return kv_safe(s->setup) && kv_safe(s->identity) && kv_safe(s->known_hosts) &&
	       kv_safe(s->image) && kv_safe(s->ssh_user) && kv_safe(s->ssh_cidr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spec_roundtrip("fuzz_spec_json", data, size, representable);
	return 0;
}
