/* The srun transport (transport/srun.c): jobs as steps of a Slurm
 * allocation, launched from this machine. The instance names the holding
 * job (id), the node (address) and more srun options (launch). */
#ifndef SKY_TRANSPORT_SRUN_H
#define SKY_TRANSPORT_SRUN_H

#include "transport/local.h"

extern const struct sky_transport_ops sky_transport_srun;

/* srun in the daemon's PATH, or NULL when there is none. */
const char *sky_srun_path(void);

/* The job's end from srun's (exposed for the unit tests). */
void sky_srun_translate(struct sky_local_end *end);

#endif
