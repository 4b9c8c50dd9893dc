/* For the transport unit tests: what an execution's done() reported, and
 * a wait for it. A struct exec_result outlives the execution it is given
 * to (a static one where a failed case may leave the job running). */
#ifndef SKY_TEST_EXEC_HELPERS_H
#define SKY_TEST_EXEC_HELPERS_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "common/util.h"

struct exec_result {
	pthread_mutex_t lock;
	int done, status, flags;
	char err[256];
};

#define EXEC_RESULT_INIT { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, "" }

/* A sky_exec_req's done(), arg a struct exec_result. */
static inline void exec_done(void *arg, int status, const char *err, int flags)
{
	struct exec_result *r = arg;

	pthread_mutex_lock(&r->lock);
	r->done = 1;
	r->status = status;
	r->flags = flags;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
	pthread_mutex_unlock(&r->lock);
}

/* 0 once done() came, -ETIMEDOUT after secs. */
static inline int exec_wait(struct exec_result *r, double secs)
{
	double deadline = sky_mono() + secs;
	int done;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		done = r->done;
		pthread_mutex_unlock(&r->lock);
		if (done || sky_mono() >= deadline)
			return done ? 0 : -ETIMEDOUT;
		usleep(20000);
	}
}

#endif
