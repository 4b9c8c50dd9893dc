/* The pool spec: what a user writes into pools/<p>/spec.
 *
 * Two surface syntaxes with the same keys: "key = value" lines ('#' starts a
 * comment, blank lines ignored, "[name]" starts an alternative) or one JSON
 * object (first non-space byte '{'; an object-valued key is an
 * alternative). The keys, their types and their bounds are one table in
 * spec_keys.c, so a later key is a new row, not a new code path.
 *
 * Keys that describe hardware (provider, accelerator, allocation, region,
 * max_price, vcpus, memory) may be set per alternative: each [section]
 * starts from the top-level values and overrides what it sets. Without
 * sections, the top level is the one alternative.
 *
 * The ssh keys (hosts, identity, known_hosts, host_key_policy) describe
 * the machines of an `ssh` pool; partition, account, qos and time_limit
 * the allocation of a `slurm` pool; node_timeout and max_attempts say when a
 * node that stopped answering is lost and how often its jobs run again.
 *
 * Ownership: sky_spec_parse() fills a caller-provided struct; the caller
 * releases it with sky_spec_free(). No locking: a spec is a value. */
#ifndef SKY_SPEC_H
#define SKY_SPEC_H

#include <stddef.h>

#include "catalog/select.h"

#define SKY_SPEC_MAX_BYTES (1 << 20)  /* larger specs are refused (EFBIG) */
#define SKY_PROVIDER_NAME_MAX 32
#define SKY_ACCEL_NAME_MAX 64
#define SKY_SPEC_MAX_ALTS 16
#define SKY_SPEC_MAX_HOSTS 1024

struct sky_spec_env {
	char *name;   /* the NAME of env.NAME, a valid shell variable name */
	char *value;
};

/* One entry of hosts = [user@]host[:port]. */
struct sky_spec_host {
	char user[64];      /* the daemon's user name when not written */
	char host[256];     /* a name or an IPv4 address, or an IPv6 one without its [] */
	int port;           /* 22 when not written */
};

/* What a mount does with a pool that was live when the last daemon died. */
enum sky_recover {
	SKY_RECOVER_RESUME,         /* adopt its machines, re-attach or re-queue its jobs */
	SKY_RECOVER_TEARDOWN,       /* terminate what it had; it comes back stopped */
};

enum sky_host_key_policy {
	SKY_HOST_KEY_STRICT,        /* only keys in known_hosts */
	SKY_HOST_KEY_ACCEPT_NEW,    /* unknown keys recorded on first use (pool state) */
};

struct sky_spec {
	int nodes;                              /* 1..1024, default 1 */
	int slots;                              /* 1..1024, default 1 */
	char *setup;                            /* NULL when absent */
	long lifetime_s;                        /* 0 = unlimited */
	long idle_timeout_s;                    /* 0 = unlimited */
	double budget_usd;                      /* torn down when the accrued cost
						 * reaches it; 0 = no budget */
	long long max_output;                   /* bytes each of a job's stdout and
						 * stderr may hold; past it the job is
						 * killed and fails; 0 = unlimited;
						 * default 1 GiB */
	int dry_run;                            /* plan only, provision nothing */
	struct sky_spec_env *env;               /* in the order written */
	size_t n_env;
	struct sky_spec_host *hosts;            /* in the order written, NULL when absent */
	int n_hosts;                            /* 1..SKY_SPEC_MAX_HOSTS when given */
	char *identity;                         /* private key file; NULL = ssh-agent */
	char *known_hosts;                      /* NULL = ~/.ssh/known_hosts */
	enum sky_host_key_policy host_key_policy;
	long node_timeout_s;                    /* unreachable this long = lost; default 60 */
	int max_attempts;                       /* starts of a job before it is lost; 1..100, 3 */
	char *image;                            /* cloud image id (ami-...); NULL = default */
	char *ssh_user;                         /* the image's login user; NULL = ubuntu */
	char *ssh_cidr;                         /* who may SSH to cloud nodes; NULL = this machine */
	long boot_timeout_s;                    /* launch to SSH; default 600 */
	long orphan_timeout_s;                  /* cloud nodes end themselves after this long
						 * without word from the daemon; default 600 */
	enum sky_recover recover;               /* after a daemon crash; default resume */
	char *partition;                        /* slurm: NULL = the cluster's default */
	char *account;                          /* slurm: NULL = the user's default */
	char *qos;                              /* slurm: NULL = the account's default */
	long time_limit_s;                      /* slurm: the allocation's limit; 0 = the
						 * partition's */
	struct sky_request res;                 /* the top level's hardware keys */
	struct sky_request *alts;               /* what to rank: the sections in the
						 * order written, or the top level */
	int n_alts;                             /* >= 1 after a successful parse */
};

/* Parses text (len bytes, need not be NUL-terminated). On success fills *out
 * (defaults for absent keys) and returns 0. On failure returns -EINVAL (or
 * -EFBIG past SKY_SPEC_MAX_BYTES, -ENOMEM) and writes one human line to err,
 * naming the line and the problem:
 *   line 3: unknown key "nodez" (did you mean "nodes"?)
 * *out is left zeroed and needs no sky_spec_free() on failure. */
int sky_spec_parse(const char *text, size_t len, struct sky_spec *out,
		   char *err, size_t errlen);
void sky_spec_free(struct sky_spec *s);

/* Site defaults (the configuration file): key's value when a spec does
 * not set it, instead of the built-in one. Checked as a one-line spec;
 * -EINVAL with err for an unknown key or a bad value. Call before any
 * spec is parsed by another thread. */
int sky_spec_set_default(const char *key, const char *value, char *err, size_t errlen);
/* The default key has now (site or built-in), NULL for none. */
const char *sky_spec_get_default(const char *key);

/* Live pools (spec_live.c). The keys a ready pool's spec may change
 * (nodes, slots, env.*, the limits): sky_spec_live_diff() returns 0 when
 * new differs from old in those keys only, else -EBUSY with the other
 * changed keys in fixed ("accelerator, setup"). sky_spec_live_keys() lists
 * the live ones for messages ("nodes, slots, ..., env.*");
 * sky_spec_live_changes() lists the live ones that differ, but for the
 * NULL-terminated except (the "env.*" form; "" when none);
 * sky_spec_take_live() moves the live values of src into dst (src gets
 * dst's old environment and hosts, freed with src). */
int sky_spec_live_diff(const struct sky_spec *old, const struct sky_spec *new, char *fixed,
		       size_t len);
void sky_spec_live_keys(char *buf, size_t len);
void sky_spec_live_changes(const struct sky_spec *old, const struct sky_spec *new,
			   const char *const *except, char *buf, size_t len);
void sky_spec_take_live(struct sky_spec *dst, struct sky_spec *src);

/* Renders the keys of s as "key = value" lines (canonical form); the caller
 * frees *out. Used for status and tests, not to replace what the user wrote. */
int sky_spec_format(const struct sky_spec *s, char **out);

#endif
