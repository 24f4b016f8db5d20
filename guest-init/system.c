#define _GNU_SOURCE
#include "system.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void mount_or_warn(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  mkdir(dst, 0755);
  if (mount(src, dst, type, flags, data) < 0) diag("mount %s on %s: %s", type ? type : src, dst, strerror(errno));
}

void mount_early(void) {
  mount_or_warn("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_or_warn("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_or_warn("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mount_or_warn("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

int loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
  return rc;
}

int cmdline_value(const char *name, char *out, size_t size) {
  char buf[4096];
  int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read_full(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  size_t name_len = strlen(name);
  for (char *save = NULL, *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
    if (strncmp(tok, name, name_len) || tok[name_len] != '=') continue;
    if (strlen(tok + name_len + 1) >= size) return -1;
    strcpy(out, tok + name_len + 1);
    return 0;
  }
  return -1;
}

long cmdline_port(void) {
  char value[32];
  if (cmdline_value("bencher.port", value, sizeof value) < 0) return -1;
  char *end;
  long port = strtol(value, &end, 10);
  if (*end || port <= 0 || port > 0xffffffffL) return -1;
  return port;
}

int mount_root_image(const char *dir, const char *type, char *error, size_t size) {
  unsigned long flags;
  if (!strcmp(type, "ext4")) flags = 0;
  else if (!strcmp(type, "squashfs")) flags = MS_RDONLY;
  else {
    snprintf(error, size, "root image type %.32s: expected ext4 or squashfs", type);
    return -1;
  }
  mkdir(dir, 0755);
  // noinit_itable: no background thread zeroing inode tables while the
  // benchmark runs (noise, and slow where guest-kernel code is emulated).
  if (mount("/dev/vda", dir, type, flags, flags ? NULL : "noinit_itable") < 0) {
    snprintf(error, size, "mount /dev/vda (%s) on %s: %s", type, dir, strerror(errno));
    return -1;
  }
  return 0;
}

static int at_root(char *out, size_t size, const char *root, const char *path) {
  return snprintf(out, size, "%s%s", root, path) < (int)size ? 0 : -1;
}

// A host test must not expose (or let the workload delete) the host's /dev.
static void bind_host_nodes(const char *dev) {
  static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  char src[64], dst[4200];
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    snprintf(src, sizeof src, "/dev/%s", nodes[i]);
    snprintf(dst, sizeof dst, "%s/%s", dev, nodes[i]);
    int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd >= 0) close(fd);
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0) diag("bind %s: %s", src, strerror(errno));
  }
}

// The image is hostile: its /dev or /tmp may be a symlink aiming our mount
// at the initramfs. Only a real directory (made if missing and writable) is used.
static int image_dir(const char *path, int read_only) {
  struct stat st;
  if (lstat(path, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : -1;
  return !read_only && errno == ENOENT && mkdir(path, 0755) == 0 ? 0 : -1;
}

void mount_root_extras(const char *root, int host_test, int read_only) {
  char path[4096];
  if (at_root(path, sizeof path, root, "/dev") == 0 && image_dir(path, read_only) == 0) {
    if (host_test) {
      mount_or_warn("tmpfs", path, "tmpfs", MS_NOSUID, "mode=0755");
      bind_host_nodes(path);
    } else {
      mount_or_warn("devtmpfs", path, "devtmpfs", MS_NOSUID, "mode=0755");
    }
    // What Docker's /dev also has; devtmpfs does not make these.
    static const char *links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                                     {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
    char link[4200];
    for (size_t i = 0; i < 4; i++) {
      snprintf(link, sizeof link, "%s/%s", path, links[i][1]);
      symlink(links[i][0], link);
    }
    snprintf(link, sizeof link, "%s/shm", path);
    mount_or_warn("tmpfs", link, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  } else {
    diag("root image's /dev is not a directory (or missing on a read-only root): no /dev for the command");
  }
  // A writable root keeps the image's own /tmp, as Docker does.
  if (read_only && at_root(path, sizeof path, root, "/tmp") == 0 && image_dir(path, 1) == 0)
    mount_or_warn("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}
