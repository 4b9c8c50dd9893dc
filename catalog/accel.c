/* Device names against catalog names, and this machine's GPUs (see
 * accel.h). */
#define LOG_MODULE "accel"
#include "catalog/accel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include "catalog/catalog.h"
#include "common/log.h"
#include "common/proc.h"

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

int sky_gpu_list(struct sky_gpu *gpus, int max)
{
	char *argv[] = { "nvidia-smi", "-L", NULL };
	struct sky_buf out = { 0 };
	char *line, *save = NULL;
	int status = 0, n = 0, rc;

	rc = sky_run_capture(argv, 10000, &out, 1 << 16, &status);
	if (rc || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !out.data)
		goto out;
	for (line = strtok_r(out.data, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save))
		n += sky_gpu_parse_line(line, &gpus[n]);
out:
	if (rc && rc != -ENOENT)
		log_warn("nvidia-smi -L: %s", strerror(-rc));
	sky_buf_free(&out);
	return n;
}
