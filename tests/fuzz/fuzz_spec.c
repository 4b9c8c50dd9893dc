/* libFuzzer target: the pool spec parser on the "key = value" form
 * (scheduler/spec.c), with a round trip: a spec that parses renders
 * (sky_spec_format) to a text that must parse again and render the same.
 * Inputs in the JSON form (first non-blank byte '{') are fuzz_spec_json's.
 * Corpus: tests/fuzz/corpus/spec. */
#include <stdint.h>
#include <string.h>

#include "spec_roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i;

	for (i = 0; i < size && strchr(" \t\r\n", data[i]) && data[i]; i++)
		;
	if (i < size && data[i] == '{')
		return 0;
	spec_roundtrip("fuzz_spec", data, size, NULL);
	return 0;
}
