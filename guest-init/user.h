// Resolves the job's user ("", "name", "uid", "name:group", "uid:gid", ...)
// against the image's /etc/passwd and /etc/group, as Docker does.
#ifndef GUEST_INIT_USER_H
#define GUEST_INIT_USER_H
#include <stddef.h>
#include <sys/types.h>

#define MAX_GROUPS 64

struct run_user {
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_GROUPS];  // supplementary groups, primary first
  size_t ngroups;
  char home[256];
};

// 0 on success; -1 with a one-line reason in error.
int resolve_user(int root_fd, const char *spec, struct run_user *out, char *error, size_t size);

#endif
