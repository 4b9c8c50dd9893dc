/* The spec parser's round trip, shared by fuzz_spec (the "key = value"
 * form) and fuzz_spec_json (the JSON form): a refused spec has a message;
 * a spec that parses has an alternative and renders (sky_spec_format) to a
 * text that parses again and renders the same, unless representable says
 * its values cannot be written in the text form (NULL: they always can).
 * A broken property aborts, which libFuzzer reports as a crash. */
#ifndef SKY_FUZZ_SPEC_ROUNDTRIP_H
#define SKY_FUZZ_SPEC_ROUNDTRIP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/spec.h"

static void broken(const char *target, const char *what, const char *detail, const char *text,
		   const char *again)
{
	fprintf(stderr, "%s: %s: %s\n--- formatted ---\n%s--- again ---\n%s---\n", target, what,
		detail, text, again ? again : "");
	abort();
}

static void spec_roundtrip(const char *target, const uint8_t *data, size_t size,
			   int (*representable)(const struct sky_spec *))
{
	struct sky_spec s, again;
	char err[256], err2[256], *text = NULL, *text2 = NULL;

	if (sky_spec_parse((const char *)data, size, &s, err, sizeof(err))) {
		if (!err[0])
			broken(target, "a refused spec without a message", "", "", NULL);
		return;
	}
	if (s.n_alts < 1 || !s.alts)
		broken(target, "a parsed spec without alternatives", "", "", NULL);
	if (sky_spec_format(&s, &text))
		broken(target, "sky_spec_format failed", "", "", NULL);
	if (!representable || representable(&s)) {
		if (sky_spec_parse(text, strlen(text), &again, err2, sizeof(err2)))
			broken(target, "the formatted spec does not parse", err2, text, NULL);
		if (sky_spec_format(&again, &text2))
			broken(target, "sky_spec_format failed on the re-parsed spec", "", text, NULL);
		if (strcmp(text, text2))
			broken(target, "the re-parsed spec formats differently", "", text, text2);
		free(text2);
		sky_spec_free(&again);
	}
	free(text);
	sky_spec_free(&s);
}

#endif
