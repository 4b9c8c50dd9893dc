/* Comparing what a provider reports about a device with the catalog's
 * names (the catalog itself is catalog.h). */
#ifndef SKY_ACCEL_H
#define SKY_ACCEL_H

/* Non-zero when the device a provider reports ("NVIDIA A100-SXM4-80GB")
 * is the accelerator `name` (canonical, "A100-80GB"): through the
 * catalog's aliases, or by equal names for devices the catalog does not
 * know. */
int sky_accel_same(const char *name, const char *device);

#endif
