/* What the slurm provider does with Slurm's client commands beside the
 * jobs' own steps (providers/slurm_steps.c): slurmrestd v0.0.38 has no call
 * for steps, so these go through srun, squeue and scancel, run in an
 * environment of their own (PATH and SLURM_CONF, never the daemon's
 * SLURM_JWT). Each blocks up to 30 s; no state, callable from any thread. */
#ifndef SKY_SLURM_STEPS_H
#define SKY_SLURM_STEPS_H

#include "providers/provider.h"

/* One step on inst's node (inst->id the holding job, inst->address the
 * node) that reads a file just written into dir: 0 when the node sees
 * the daemon's state directory, else -errno with the advice in err. */
int slurm_probe(const char *dir, int rank, const struct sky_instance *inst,
		struct sky_err *err);

/* Cancels job id's numbered steps (those a crashed daemon's srun
 * started), not its batch step. */
int slurm_cancel_steps(long id, struct sky_err *err);

#endif
