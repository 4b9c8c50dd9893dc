/* Comparing what a provider reports about a device with the catalog's
 * names (the catalog itself is catalog.h). */
#ifndef SKY_ACCEL_H
#define SKY_ACCEL_H

/* Non-zero when the device a provider reports ("NVIDIA A100-SXM4-80GB")
 * is the accelerator `name` (canonical, "A100-80GB"): through the
 * catalog's aliases, or by equal names for devices the catalog does not
 * know. */
int sky_accel_same(const char *name, const char *device);

/* One GPU as `nvidia-smi -L` lists it. */
struct sky_gpu {
	char index[16];
	char model[64];
};

/* Parses one line of `nvidia-smi -L` ("GPU 0: NVIDIA A100-SXM4-80GB
 * (UUID: GPU-...)"), cutting line in place: 1 and *g for a GPU line, else 0.
 * Used on this machine (local) and on ssh hosts alike. */
int sky_gpu_parse_line(char *line, struct sky_gpu *g);

/* This machine's GPUs as `nvidia-smi -L` lists them, at most max into
 * gpus: how many (0 without nvidia-smi or when it fails). Runs it, with a
 * 10 s deadline: not for a hot path. */
int sky_gpu_list(struct sky_gpu *gpus, int max);

#endif
