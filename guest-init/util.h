// Small helpers shared by guest-init's parts: diagnostics, whole reads and
// writes, base64, and opening files of the (hostile) image safely.
#ifndef GUEST_INIT_UTIL_H
#define GUEST_INIT_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Where plain-text diagnostics ("bencher-init: ...") and, after a vsock
// failure, base64 frames go: /dev/console in the guest.
extern int console_fd;

void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// One console line with the guest's boot clock, so the console log of a slow
// run shows where the time went (a few lines a run: cheap even where every
// console byte is a VM exit).
void phase(const char *name);

int write_all(int fd, const void *buf, size_t len);       // 0 or -1 (errno set)
ssize_t read_full(int fd, void *buf, size_t len);          // bytes read (< len only at EOF) or -1

// Standard base64 with padding; out must hold base64_len(n) bytes.
size_t base64_len(size_t n);
size_t base64_encode(const uint8_t *in, size_t n, char *out);

// Opens path (absolute inside the image) below root_fd as if root_fd were
// "/": symlinks cannot leave the image and /proc magic links are refused.
int open_in_root(int root_fd, const char *path, int flags);

// Reads a whole small file of the image; NULL if missing. *len gets its size.
char *read_file_in_root(int root_fd, const char *path, size_t max, size_t *len);

void put_u32(uint8_t *p, uint32_t v);
void put_u64(uint8_t *p, uint64_t v);
uint32_t get_u32(const uint8_t *p);
uint64_t get_u64(const uint8_t *p);

#endif
