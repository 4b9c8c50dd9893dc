/* Slurm's REST API (slurmrestd) as the slurm provider uses it: the client
 * (where slurmrestd is, who we are, the calls) in slurm_api.c, and the
 * wire (request bodies, answers, errors) as pure functions that the unit
 * tests feed with real answers.
 *
 * Where: SKYFS_SLURM_URL, "unix:/path/to/socket" (rest_auth/local: the
 * socket's peer credentials say who we are) or "http://host:port"
 * (rest_auth/jwt: the token from SLURM_JWT, as `scontrol token` prints
 * it, sent with the user name from SKYFS_SLURM_USER, else the daemon's).
 * Default: unix:/run/slurmrestd/slurmrestd.socket. The token is read when
 * a client is made, sent only in X-SLURM-USER-TOKEN, wiped when the
 * client goes, and never written anywhere.
 *
 * One API version (SKY_SLURM_API) for every path: a newer version is a
 * new constant and, where its wire differs, new parse functions.
 *
 * Thread-safety: a client is used by the pool's threads at once (the
 * HTTP client pools its handles); it is immutable after init. */
#ifndef SKY_SLURM_API_H
#define SKY_SLURM_API_H

#include <jansson.h>
#include <stddef.h>

#include "providers/json_api.h"
#include "providers/provider.h"

#define SKY_SLURM_API "v0.0.38"      /* Slurm 22.05 (Debian 12) */
#define SKY_SLURM_DEFAULT_SOCKET "/run/slurmrestd/slurmrestd.socket"
#define SKY_SLURM_DEFAULT_URL "unix:" SKY_SLURM_DEFAULT_SOCKET

struct sky_http;

struct slurm_client {
	struct sky_http *http;
	char base[512];          /* "http://localhost/slurm/v0.0.38" */
	char socket[108];        /* the unix socket, "" over TCP */
	char where[600];         /* for messages and status: the URL as configured */
	char user[64];           /* X-SLURM-USER-NAME */
	char *token;             /* X-SLURM-USER-TOKEN's value; NULL over a socket */
};

/* A holding job as GET job/{id} tells it. */
struct slurm_job {
	long id;
	char name[256];
	char state[32];          /* PENDING, RUNNING, CANCELLED, ... */
	char reason[64];         /* state_reason: Priority, Resources, None, ... */
	char nodes[256];         /* the allocated nodes ("" while pending) */
	char partition[64];
};

/* A node of GET nodes: what it can give. */
struct slurm_node {
	char name[128];
	char state[32];          /* idle, mixed, allocated, down, drained, ... */
	int cpus, alloc_cpus;
	long long memory_mb, alloc_memory_mb;
	char gres[128];          /* "gpu:a100:4(S:0)" or "" */
	char gres_used[128];
	char partitions[256];    /* comma-separated */
};

/* ---- the client --------------------------------------------------------------- */

/* Reads the configuration (environment); 0, or -EINVAL (a URL skyfs
 * cannot use) / -EACCES (TCP without a token) with err. */
int slurm_client_init(struct slurm_client *c, struct sky_err *err);
void slurm_client_fini(struct slurm_client *c);
/* providers/slurm/status's lines: where, who, the token's source. */
void slurm_client_describe(struct sky_buf *out);

/* The calls. 0 or -errno with "slurm: <what>: <why>" in err (-EACCES
 * refused credentials, -ETIMEDOUT/-ECONNREFUSED no answer, -ENOENT an
 * unknown job, -EINVAL a request Slurm refused: bad partition, account). */
int slurm_ping(struct slurm_client *c, struct sky_err *err);
int slurm_submit(struct slurm_client *c, json_t *body, long *job_id, struct sky_err *err);
int slurm_job_get(struct slurm_client *c, long id, struct slurm_job *out, struct sky_err *err);
/* Signals (SIGKILL: cancels) the job and all its steps; 0 also when
 * Slurm has it no more or it ended already. */
int slurm_job_cancel(struct slurm_client *c, long id, struct sky_err *err);
/* Every job of the cluster whose name starts with prefix: malloc'd *out. */
int slurm_jobs_named(struct slurm_client *c, const char *prefix, struct slurm_job **out,
		     size_t *n, struct sky_err *err);
int slurm_nodes_get(struct slurm_client *c, struct slurm_node **out, size_t *n,
		    struct sky_err *err);

/* ---- the wire (pure) -------------------------------------------------------------- */

/* What POST job/submit takes for one holding job. */
struct slurm_submit {
	const char *name;
	const char *script;
	const char *partition, *account, *qos;   /* NULL: Slurm's default */
	long time_limit_min;                      /* 0: the partition's */
	int cpus;                                 /* per node */
	long memory_mb;                           /* per node; 0: Slurm's default */
	const char *gres;                         /* "gpu:a100:2" or NULL */
	const char *workdir;                      /* current_working_directory */
	const char *output;                       /* the batch script's output file */
};
json_t *slurm_submit_body(const struct slurm_submit *s);

/* Answers: 0, or -EPROTO when the document is not what the API says. */
int slurm_parse_submit(json_t *doc, long *job_id);
/* -ENOENT when the answer lists no job. */
int slurm_parse_job(json_t *doc, struct slurm_job *out);
int slurm_parse_jobs(json_t *doc, const char *prefix, struct slurm_job **out, size_t *n);
int slurm_parse_nodes(json_t *doc, struct slurm_node **out, size_t *n);

/* The first error an answer carries, in any of the shapes Slurm uses
 * ({"errors":[{"error","errno"}]}, {"error_number","error",...},
 * {"error_code","error"}): its text into msg and its Slurm errno (0 when
 * none) into *code. 0 when the answer carries an error, else -ENOENT. */
int slurm_parse_error(json_t *doc, char *msg, size_t len, int *code);

/* What the cluster's nodes offer: one offer per (partition, GPU type),
 * partition as the region and "cpu" or the gres ("gpu:a100") as the
 * instance type, with the most devices, CPUs and memory one usable node
 * of them has (shareable: any count up to that). Every partition offers
 * "cpu" too. Price 0: the cluster is there already. */
int slurm_offers_from_nodes(const struct slurm_node *nodes, size_t n, struct sky_offer **out,
			    size_t *n_out);

/* What an answer means (json_api.h's classify): Slurm's errno, which
 * 22.05 sends with HTTP 500 for nearly everything, decides; -1 is a
 * request slurmctld refused (a token it does not take). */
enum sky_api_kind slurm_classify(long status, json_t *body, const char *raw,
				 struct sky_api_error *e);

/* "gpu:a100:4(S:0-1)" → type "a100" (or "" for an untyped "gpu:4") and
 * count 4. 0, or -ENOENT when gres lists no gpu. */
int slurm_gres_gpu(const char *gres, char *type, size_t len, int *count);

#endif
