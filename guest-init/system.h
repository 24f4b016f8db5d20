// Mounts and devices: the guest's own early setup, the job's root image, and
// the filesystems the workload sees inside it.
#ifndef GUEST_INIT_SYSTEM_H
#define GUEST_INIT_SYSTEM_H
#include <stddef.h>

// PID 1 only: /proc, /sys, /dev (devtmpfs), /tmp of the initramfs.
void mount_early(void);
// Brings up the loopback interface (the kernel gives it 127.0.0.1/8).
int loopback_up(void);
// Copies the value of NAME=value on /proc/cmdline into out; -1 if absent
// or longer than size - 1.
int cmdline_value(const char *name, char *out, size_t size);
// Reads bencher.port=N from /proc/cmdline; -1 if absent.
long cmdline_port(void);

// Guest: mounts /dev/vda (ext4 read-write, or squashfs read-only) at dir.
int mount_root_image(const char *dir, const char *type, char *error, size_t size);
// Mounts /dev (devtmpfs in the guest, a few bound host nodes in a host test),
// /dev/shm, and /tmp (tmpfs when the root is read-only) inside root.
void mount_root_extras(const char *root, int host_test, int read_only);

#endif
