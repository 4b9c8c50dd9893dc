/* libFuzzer target: the pool spec parser on the JSON form (scheduler/spec.c:
 * one object; an object-valued key is an alternative). A spec that parses
 * must render (sky_spec_format) to a "key = value" text that parses again
 * and renders the same, unless one of its text values holds what that
 * syntax cannot carry ('#' starts a comment there, a line break ends the
 * value): the JSON form exists for such values. Corpus:
 * tests/fuzz/corpus/spec_json. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/spec.h"

static void broken(const char *what, const char *detail, const char *text, const char *again)
{
	fprintf(stderr, "fuzz_spec_json: %s: %s\n--- formatted ---\n%s--- again ---\n%s---\n",
		what, detail, text, again ? again : "");
	abort();
}

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
	struct sky_spec s, again;
	char err[256], err2[256], *text = NULL, *text2 = NULL;

	if (sky_spec_parse((const char *)data, size, &s, err, sizeof(err))) {
		if (!err[0])
			broken("a refused spec without a message", "", "", NULL);
		return 0;
	}
	if (s.n_alts < 1 || !s.alts)
		broken("a parsed spec without alternatives", "", "", NULL);
	if (sky_spec_format(&s, &text))
		broken("sky_spec_format failed", "", "", NULL);
	if (representable(&s)) {
		if (sky_spec_parse(text, strlen(text), &again, err2, sizeof(err2)))
			broken("the formatted spec does not parse", err2, text, NULL);
		if (sky_spec_format(&again, &text2))
			broken("sky_spec_format failed on the re-parsed spec", "", text, NULL);
		if (strcmp(text, text2))
			broken("the re-parsed spec formats differently", "", text, text2);
		free(text2);
		sky_spec_free(&again);
	}
	free(text);
	sky_spec_free(&s);
	return 0;
}
