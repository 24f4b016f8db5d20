// Runs the job's command inside the root image and streams its output.
#ifndef GUEST_INIT_WORKLOAD_H
#define GUEST_INIT_WORKLOAD_H
#include <sched.h>  // cpu_set_t (the including file defines _GNU_SOURCE)
#include "protocol.h"
#include "user.h"

// Forks the workload into new PID and mount namespaces rooted at root, as
// user, and sends STARTED, STDOUT/STDERR and EXIT (or ERROR if it could not
// start). With cpus, the workload (and whatever it starts) runs only on
// those CPUs. While it runs, a STOP from the host kills it (and everything it
// started) and abandons the channel. Returns 0 if it ran, 1 if the host
// stopped it, -1 if it could not start.
int run_workload(const struct job *job, const char *root, const struct run_user *user, int host_test, const cpu_set_t *cpus);

#endif
