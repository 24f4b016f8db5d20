// Runs the job's command inside the root image and streams its output.
#ifndef GUEST_INIT_WORKLOAD_H
#define GUEST_INIT_WORKLOAD_H
#include "protocol.h"
#include "user.h"

// Forks the workload into new PID and mount namespaces rooted at root, as
// user, and sends STARTED, STDOUT/STDERR and EXIT (or ERROR if it could not
// start). Returns 0 if it ran, -1 if not.
int run_workload(const struct job *job, const char *root, const struct run_user *user, int host_test);

#endif
