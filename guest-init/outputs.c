#define _GNU_SOURCE
#include "outputs.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void send_header(uint32_t index, uint8_t status, uint64_t size) {
  uint8_t msg[13];
  put_u32(msg, index);
  msg[4] = status;
  put_u64(msg + 5, size);
  channel_send(MSG_FILE, msg, sizeof msg, NULL, 0);
}

// Sends output `index`; 0 once the host has sent STOP (it wants nothing more).
static int send_one(uint32_t index, const char *path, int root_fd, uint64_t cap) {
  // Non-blocking: a FIFO planted by the workload must not hang us.
  int fd = open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    send_header(index, errno == ENOENT || errno == ENOTDIR ? FILE_MISSING : FILE_UNREADABLE, 0);
    return 1;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    send_header(index, FILE_NOT_REGULAR, 0);
    close(fd);
    return 1;
  }
  send_header(index, FILE_PRESENT, st.st_size);
  static uint8_t buf[MAX_CHUNK];
  uint8_t prefix[4];
  put_u32(prefix, index);
  uint64_t left = (uint64_t)st.st_size < cap ? (uint64_t)st.st_size : cap;
  int go_on = 1;
  while (left && (go_on = !channel_stopped())) {
    ssize_t n = read(fd, buf, left < MAX_CHUNK ? left : MAX_CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the host sees fewer bytes than the size: truncated
    channel_send(MSG_FILE_DATA, prefix, 4, buf, n);
    left -= n;
  }
  close(fd);
  return go_on;
}

void send_outputs(const struct job *job, int root_fd) {
  for (size_t i = 0; i < job->noutputs && !channel_stopped(); i++)
    if (!send_one(i, job->outputs[i], root_fd, job->max_file_bytes)) return;
}
