/* Accelerator name matching (see accel.h). */
#include "catalog/accel.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKENS 16

static int tokenize(const char *s, char tok[MAX_TOKENS][32])
{
	int n = 0;

	while (*s && n < MAX_TOKENS) {
		size_t k = 0;

		while (*s && (*s == '-' || *s == '_' || isspace((unsigned char)*s)))
			s++;
		while (*s && *s != '-' && *s != '_' && !isspace((unsigned char)*s)) {
			if (k < 31)
				tok[n][k++] = (char)toupper((unsigned char)*s);
			s++;
		}
		if (k) {
			tok[n][k] = '\0';
			if (strcmp(tok[n], "NVIDIA"))
				n++;
		}
	}
	return n;
}

int sky_accel_match(const char *want, const char *device)
{
	char w[MAX_TOKENS][32], d[MAX_TOKENS][32];
	int nw = tokenize(want, w), nd = tokenize(device, d), i, j;

	if (!nw)
		return 0;
	for (i = 0; i < nw; i++) {
		for (j = 0; j < nd; j++)
			if (!strcmp(w[i], d[j]))
				break;
		if (j == nd)
			return 0;
	}
	return 1;
}
