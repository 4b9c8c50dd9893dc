/* The catalog tables compiled into the binary: scripts/embed.py turns the
 * .tsv files of catalog/data into a generated C file (see meson.build) that
 * defines these; catalog.c is their only reader. Also the loader's test
 * hook. */
#ifndef SKY_EMBEDDED_H
#define SKY_EMBEDDED_H

#include <stddef.h>

struct sky_embedded_file {
	const char *name;   /* base name: "accelerators.tsv", "offers-aws.tsv" */
	const char *text;   /* the whole file, NUL-terminated */
};

extern const struct sky_embedded_file sky_catalog_files[];
extern const size_t sky_catalog_n_files;

/* Replaces the loaded tables (and drops every live offer) with these, as
 * sky_catalog_init() does with the compiled-in ones: for tests of the
 * loader's checks. sky_catalog_fini() goes back to the compiled-in tables
 * on next use. */
int sky_catalog_load(const struct sky_embedded_file *files, size_t n, char *err, size_t errlen);

#endif
