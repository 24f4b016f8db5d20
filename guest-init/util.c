#define _GNU_SOURCE
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int console_fd = 2;

void diag(const char *fmt, ...) {
  char line[1024];
  int n = snprintf(line, sizeof line, "bencher-init: ");
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) m = 0;
  n += m;
  if (n > (int)sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  write_all(console_fd, line, n);
}

void phase(const char *name) {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  diag("%s at %lld.%03ld s", name, (long long)ts.tv_sec, ts.tv_nsec / 1000000);
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= n;
  }
  return 0;
}

ssize_t read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    got += n;
  }
  return got;
}

size_t base64_len(size_t n) { return (n + 2) / 3 * 4; }

size_t base64_encode(const uint8_t *in, size_t n, char *out) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *o = out;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *o++ = abc[v >> 18]; *o++ = abc[(v >> 12) & 63]; *o++ = abc[(v >> 6) & 63]; *o++ = abc[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    *o++ = abc[v >> 18]; *o++ = abc[(v >> 12) & 63]; *o++ = '='; *o++ = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    *o++ = abc[v >> 18]; *o++ = abc[(v >> 12) & 63]; *o++ = abc[(v >> 6) & 63]; *o++ = '=';
  }
  return o - out;
}

// struct open_how and RESOLVE_* from linux/openat2.h (musl has no copy).
struct open_how_v0 {
  uint64_t flags, mode, resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10

int open_in_root(int root_fd, const char *path, int flags) {
  while (*path == '/') path++;
  if (!*path) path = ".";
  struct open_how_v0 how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  long fd;
  do fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
  while (fd < 0 && (errno == EAGAIN || errno == EINTR));  // EAGAIN: a rename raced the lookup
  return (int)fd;
}

char *read_file_in_root(int root_fd, const char *path, size_t max, size_t *len) {
  int fd = open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {  // a FIFO or device here is an attack
    close(fd);
    return NULL;
  }
  char *buf = malloc(max + 1);
  ssize_t n = buf ? read_full(fd, buf, max) : -1;
  close(fd);
  if (n < 0) {
    free(buf);
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }
