/* The configuration file (scheduler/config.c): site defaults for the
 * state directory, a few spec keys and credential profile names. Loaded
 * once by main() before any thread starts; read-only after. */
#ifndef SKY_CONFIG_H
#define SKY_CONFIG_H

#include <stddef.h>

#include "common/util.h"

/* Loads path, or the default file when path is NULL (a missing default
 * file is no error). 0, or -errno with "FILE: line N: why" in err. */
int sky_config_load(const char *path, char *err, size_t errlen);
/* The file's state directory, NULL when it sets none. */
const char *sky_config_state(void);
/* MNT/config: the file, the state directory in use, each default and
 * where it comes from. No secret is in the file or shown. */
int sky_config_render(const char *state_dir, struct sky_buf *out);

#endif
