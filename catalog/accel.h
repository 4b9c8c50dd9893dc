/* Matching a logical accelerator name from a spec ("A100", "A100-80GB",
 * "RTX-4090") against a device name as a provider reports it ("NVIDIA
 * A100-SXM4-80GB", "NVIDIA GeForce RTX 4090"). The full catalog with aliases
 * and variants grows here. */
#ifndef SKY_ACCEL_H
#define SKY_ACCEL_H

/* Non-zero when every token of want (split on '-', '_', ' ') appears among
 * the tokens of device, case-insensitively ("NVIDIA" is ignored). */
int sky_accel_match(const char *want, const char *device);

#endif
