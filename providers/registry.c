/* The provider registry: one table naming every provider, plus the small
 * shared helpers of provider.h. */
#include "providers/provider.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

extern const struct sky_provider_ops sky_provider_local;
extern const struct sky_provider_ops sky_provider_ssh;
extern const struct sky_provider_ops sky_provider_aws;
extern const struct sky_provider_ops sky_provider_vastai;
extern const struct sky_provider_ops sky_provider_lambda;
extern const struct sky_provider_ops sky_provider_runpod;
extern const struct sky_provider_ops sky_provider_slurm;
extern const struct sky_provider_ops sky_provider_container;

static const struct sky_provider_ops *const providers[] = {
	&sky_provider_local,
	&sky_provider_ssh,
	&sky_provider_aws,
	&sky_provider_vastai,
	&sky_provider_lambda,
	&sky_provider_runpod,
	&sky_provider_slurm,
	&sky_provider_container,
};

const struct sky_provider_ops *sky_provider_find(const char *name)
{
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(providers); i++)
		if (!strcmp(providers[i]->name, name))
			return providers[i];
	return NULL;
}

const struct sky_provider_ops *const *sky_providers(size_t *n)
{
	*n = SKY_ARRAY_SIZE(providers);
	return providers;
}

static struct {
	pthread_mutex_t lock;
	char msg[SKY_ARRAY_SIZE(providers)][512];
} last_errors = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int provider_index(const char *name)
{
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(providers); i++)
		if (!strcmp(providers[i]->name, name))
			return (int)i;
	return -1;
}

void sky_provider_note_error(const char *name, const char *msg)
{
	int i = provider_index(name);

	if (i < 0)
		return;
	pthread_mutex_lock(&last_errors.lock);
	sky_strlcpy(last_errors.msg[i], msg, sizeof(last_errors.msg[i]));
	pthread_mutex_unlock(&last_errors.lock);
}

void sky_provider_last_error(const char *name, char *buf, size_t len)
{
	int i = provider_index(name);

	buf[0] = '\0';
	if (i < 0)
		return;
	pthread_mutex_lock(&last_errors.lock);
	sky_strlcpy(buf, last_errors.msg[i], len);
	pthread_mutex_unlock(&last_errors.lock);
}

const char *sky_provider_names(void)
{
	static char names[256];
	size_t i, n = 0;

	if (names[0])
		return names;
	for (i = 0; i < SKY_ARRAY_SIZE(providers); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
				      providers[i]->name);
	return names;
}

void sky_err_set(struct sky_err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

const char *sky_market_name(enum sky_market m)
{
	return m == SKY_MARKET_SPOT ? "spot" : "on-demand";
}

const char *sky_instance_state_name(enum sky_instance_state s)
{
	static const char *const names[] = { "pending", "running", "stopping", "gone" };

	return (unsigned)s < SKY_ARRAY_SIZE(names) ? names[s] : "unknown";
}

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void sky_pool_hash(const char *pool_state_dir, char out[9])
{
	snprintf(out, 9, "%08x", fnv1a(2166136261u, pool_state_dir));
}

void sky_pool_slug(const struct sky_pool_info *pool, char *out, size_t len)
{
	char name[64], hash[9];
	size_t i, k = 0;

	sky_pool_hash(pool->state_dir, hash);
	for (i = 0; pool->name[i] && k < sizeof(name) - 1; i++)
		name[k++] = isalnum((unsigned char)pool->name[i]) || pool->name[i] == '-' ?
			    pool->name[i] : '_';
	name[k] = '\0';
	snprintf(out, len, "%s-%s", name, hash);
}

/* Written once before the scheduler's threads start, read-only after. */
static char mount_id[9] = "00000000";

void sky_set_mount_id(const char *state_root)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	snprintf(mount_id, sizeof(mount_id), "%08x",
		 fnv1a(fnv1a(fnv1a(2166136261u, host), ":"), state_root));
}

const char *sky_mount_id(void)
{
	return mount_id;
}
