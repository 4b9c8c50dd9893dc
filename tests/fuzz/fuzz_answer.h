/* Shared by the JSON API fuzz targets (runpod, vastai, lambda, slurm): the
 * input as an answer body, the way providers/json_api.c holds it. */
#ifndef SKY_FUZZ_ANSWER_H
#define SKY_FUZZ_ANSWER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* *raw: a NUL-terminated copy of the input (the caller frees it); *doc:
 * its JSON document, NULL when it is not JSON. -1, with nothing to free,
 * for an input over 1 MiB (no answer is kept past that) or no memory. */
static int fuzz_answer(const uint8_t *data, size_t size, char **raw, json_t **doc)
{
	if (size > (1 << 20) || !(*raw = malloc(size + 1)))
		return -1;
	memcpy(*raw, data, size);
	(*raw)[size] = '\0';
	*doc = json_loadb(*raw, size, JSON_DECODE_ANY, NULL);
	return 0;
}

#endif
