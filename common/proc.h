/* Running a helper command on the controller with a deadline and capturing
 * its output (nvidia-smi probes, later ssh-keygen and friends). */
#ifndef SKY_PROC_H
#define SKY_PROC_H

#include "common/util.h"

/* Runs argv (PATH is searched) with stdin from /dev/null, stdout into out
 * (at most max bytes kept), stderr discarded. Kills it after timeout_ms.
 * Returns 0 with *status set to its wait status, -ETIMEDOUT, or -errno when
 * it could not start (-ENOENT: not installed). */
int sky_run_capture(char *const argv[], int timeout_ms, struct sky_buf *out, size_t max,
		    int *status);

#endif
