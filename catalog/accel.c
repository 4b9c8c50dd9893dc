/* Device names against catalog names (see accel.h). */
#include "catalog/accel.h"

#include <strings.h>

#include "catalog/catalog.h"

int sky_accel_same(const char *name, const char *device)
{
	const struct sky_accel *a = sky_accel_find(device);

	return a ? !strcasecmp(a->name, name) : !strcasecmp(device, name);
}
