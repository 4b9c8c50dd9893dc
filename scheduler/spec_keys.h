/* Private to the spec parser (spec.c, spec_keys.c, spec_access.c): the table of keys and
 * the parse context they share. */
#ifndef SKY_SPEC_KEYS_H
#define SKY_SPEC_KEYS_H

#include <stddef.h>

#include "common/util.h"
#include "scheduler/spec.h"

struct spec_key;

struct spec_ctx {
	struct sky_spec *s;
	struct sky_request *target;  /* where hardware keys land: s->res or a section */
	int section;                 /* index of the current [section], -1 at the top */
	int line;                    /* of the entry being applied */
	char *err;
	size_t errlen;
	int *key_line;               /* per row: where the key was first set, 0 if not */
	int *env_line;               /* parallel to s->env */
	size_t env_cap;
};

typedef int (*spec_parse_fn)(struct spec_ctx *c, const struct spec_key *k,
			     const char *suffix, const char *val);
typedef int (*spec_format_fn)(const void *base, const struct spec_key *k, struct sky_buf *b);

struct spec_key {
	const char *name;        /* the key; for a prefix row, the prefix */
	spec_parse_fn parse;
	spec_format_fn format;
	size_t offset;           /* of the target field in struct sky_spec, or in
				  * struct sky_request for a per-alternative row */
	long min, max;           /* bounds of the integer (for accelerator: the count) */
	const char *def;         /* default as value text, NULL for none */
	int prefix;              /* the key is name + a suffix the parser checks */
	int per_alt;             /* may be set in a [section] */
	int live;                /* may change in a live pool's spec (resize.c) */
	const char *desc;
};

extern const struct spec_key spec_keys[];
extern const size_t n_spec_keys;
#define SPEC_MAX_KEYS 48   /* bound for per-row scratch arrays; checked in spec_keys.c */

/* The struct a row's offset is relative to: the spec, or for a per_alt
 * row the alternative being parsed. */
void *spec_base(struct spec_ctx *c, const struct spec_key *k);
#define FIELD(c, k, type) ((type *)((char *)spec_base(c, k) + (k)->offset))
#define CFIELD(b, k, type) ((const type *)((const char *)(b) + (k)->offset))

/* Parsers and formatters of spec_access.c (hosts, host keys, cloud login). */
int spec_parse_policy(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		      const char *val);
int spec_format_policy(const void *b, const struct spec_key *k, struct sky_buf *out);
int spec_parse_recover(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		       const char *val);
int spec_format_recover(const void *b, const struct spec_key *k, struct sky_buf *out);
int spec_parse_slurm_name(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
			  const char *val);
int spec_parse_hosts(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		     const char *val);
int spec_format_hosts(const void *b, const struct spec_key *k, struct sky_buf *out);
int spec_parse_image(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		     const char *val);
int spec_parse_user(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		    const char *val);
int spec_parse_cidr(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		    const char *val);
/* A char * field: strdup'd as written; formatted as "key = value" when set. */
int spec_parse_text(struct spec_ctx *c, const struct spec_key *k, const char *suffix,
		    const char *val);
int spec_format_text(const void *b, const struct spec_key *k, struct sky_buf *out);

/* After every entry: nodes defaults to the number of hosts; an ssh
 * alternative needs hosts, at least as many as nodes. */
int spec_finish_hosts(struct spec_ctx *c);
const struct spec_key *spec_find_key(const char *key, const char **suffix);
int spec_fail(struct spec_ctx *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
