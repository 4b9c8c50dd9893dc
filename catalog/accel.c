/* Device names against catalog names (see accel.h). */
#include "catalog/accel.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"

int sky_accel_same(const char *name, const char *device)
{
	const struct sky_accel *a = sky_accel_find(device);

	return a ? !strcasecmp(a->name, name) : !strcasecmp(device, name);
}

int sky_gpu_parse_line(char *line, struct sky_gpu *g)
{
	unsigned idx;
	char *model, *end;

	if (sscanf(line, "GPU %u:", &idx) != 1)
		return 0;
	model = strchr(line, ':') + 1;
	while (*model == ' ')
		model++;
	end = strstr(model, " (UUID");
	if (end)
		*end = '\0';
	snprintf(g->index, sizeof(g->index), "%u", idx);
	snprintf(g->model, sizeof(g->model), "%.*s", (int)sizeof(g->model) - 1, model);
	return 1;
}
