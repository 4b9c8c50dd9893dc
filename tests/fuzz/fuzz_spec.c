/* libFuzzer target: the pool spec parser on the "key = value" form
 * (scheduler/spec.c), with a round trip: a spec that parses renders
 * (sky_spec_format) to a text that must parse again and render the same.
 * Inputs in the JSON form (first non-blank byte '{') are fuzz_spec_json's.
 * Corpus: tests/fuzz/corpus/spec. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/spec.h"

static void broken(const char *what, const char *detail, const char *text, const char *again)
{
	fprintf(stderr, "fuzz_spec: %s: %s\n--- formatted ---\n%s--- again ---\n%s---\n", what,
		detail, text, again ? again : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sky_spec s, again;
	char err[256], err2[256], *text = NULL, *text2 = NULL;
	size_t i;

	for (i = 0; i < size && strchr(" \t\r\n", data[i]) && data[i]; i++)
		;
	if (i < size && data[i] == '{')
		return 0;
	if (sky_spec_parse((const char *)data, size, &s, err, sizeof(err))) {
		if (!err[0])
			broken("a refused spec without a message", "", "", NULL);
		return 0;
	}
	if (s.n_alts < 1 || !s.alts)
		broken("a parsed spec without alternatives", "", "", NULL);
	if (sky_spec_format(&s, &text))
		broken("sky_spec_format failed", "", "", NULL);
	if (sky_spec_parse(text, strlen(text), &again, err2, sizeof(err2)))
		broken("the formatted spec does not parse", err2, text, NULL);
	if (sky_spec_format(&again, &text2))
		broken("sky_spec_format failed on the re-parsed spec", "", text, NULL);
	if (strcmp(text, text2))
		broken("the re-parsed spec formats differently", "", text, text2);
	free(text);
	free(text2);
	sky_spec_free(&again);
	sky_spec_free(&s);
	return 0;
}
