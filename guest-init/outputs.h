// Sends each requested output file of the image (or why it is absent).
#ifndef GUEST_INIT_OUTPUTS_H
#define GUEST_INIT_OUTPUTS_H
#include "protocol.h"

void send_outputs(const struct job *job, int root_fd);

#endif
