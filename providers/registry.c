/* The provider registry: one table naming every provider, plus the small
 * shared helpers of provider.h. */
#include "providers/provider.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

extern const struct sky_provider_ops sky_provider_local;

static const struct sky_provider_ops *const providers[] = {
	&sky_provider_local,
};

const struct sky_provider_ops *sky_provider_find(const char *name)
{
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(providers); i++)
		if (!strcmp(providers[i]->name, name))
			return providers[i];
	return NULL;
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
