#define _GNU_SOURCE
#include "protocol.h"
#include "hmac_sha256.h"
#include "util.h"
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

// ---- receiving the job ------------------------------------------------------

static char *dup_field(const uint8_t *v, uint32_t len, const char *what, char *error, size_t size) {
  if (memchr(v, 0, len)) {
    snprintf(error, size, "job: %s contains a NUL byte", what);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    snprintf(error, size, "job: out of memory");
    return NULL;
  }
  memcpy(s, v, len);
  s[len] = 0;
  return s;
}

static int push(char ***list, size_t *count, char *item) {
  char **grown = realloc(*list, (*count + 3) * sizeof **list);  // item, spare, NULL
  if (!grown) return -1;
  grown[(*count)++] = item;
  grown[*count] = NULL;
  *list = grown;
  return 0;
}

static int parse_job(const uint8_t *p, size_t n, struct job *job, char *error, size_t size) {
  size_t argc = 0;
  while (n) {
    if (n < 5) {
      snprintf(error, size, "job: truncated field header");
      return -1;
    }
    uint8_t tag = p[0];
    uint32_t len = get_u32(p + 1);
    p += 5, n -= 5;
    if (len > n) {
      snprintf(error, size, "job: field %u runs past the frame", tag);
      return -1;
    }
    const uint8_t *v = p;
    p += len, n -= len;
    char *s = NULL;
    switch (tag) {
      case JOB_KEY:
        if (len != RUN_KEY_BYTES) {
          snprintf(error, size, "job: key must be %d bytes, got %u", RUN_KEY_BYTES, len);
          return -1;
        }
        memcpy(job->key, v, RUN_KEY_BYTES);
        job->have_key = 1;
        break;
      case JOB_MAX_OUTPUT:
      case JOB_MAX_FILE:
        if (len != 8) {
          snprintf(error, size, "job: limit field %u must be 8 bytes", tag);
          return -1;
        }
        *(tag == JOB_MAX_OUTPUT ? &job->max_output_bytes : &job->max_file_bytes) = get_u64(v);
        break;
      case JOB_ARG:
      case JOB_ENV:
      case JOB_OUTPUT:
        if (!(s = dup_field(v, len, tag == JOB_ARG ? "argument" : tag == JOB_ENV ? "env" : "output path", error, size))) return -1;
        if (tag == JOB_ENV && !strchr(s, '=')) {
          snprintf(error, size, "job: env entry %.64s has no '='", s);
          return -1;
        }
        if (tag == JOB_OUTPUT && s[0] != '/') {
          snprintf(error, size, "job: output path %.64s is not absolute", s);
          return -1;
        }
        if (push(tag == JOB_ARG ? &job->argv : tag == JOB_ENV ? &job->env : &job->outputs,
                 tag == JOB_ARG ? &argc : tag == JOB_ENV ? &job->envc : &job->noutputs, s) < 0) {
          snprintf(error, size, "job: out of memory");
          return -1;
        }
        break;
      case JOB_WORKDIR:
      case JOB_USER:
      case JOB_ROOTFS_TYPE:
        if (!(s = dup_field(v, len, "string field", error, size))) return -1;
        *(tag == JOB_WORKDIR ? &job->workdir : tag == JOB_USER ? &job->user : &job->rootfs_type) = s;
        break;
      default:
        snprintf(error, size, "job: unknown field %u", tag);
        return -1;
    }
  }
  if (!job->have_key) {
    snprintf(error, size, "job: no run key");
    return -1;
  }
  if (argc == 0) {
    snprintf(error, size, "job: empty argv");
    return -1;
  }
  if (!job->workdir) job->workdir = "/";
  if (job->workdir[0] != '/') {
    snprintf(error, size, "job: working directory %.64s is not absolute", job->workdir);
    return -1;
  }
  if (!job->user) job->user = "";
  if (!job->rootfs_type) job->rootfs_type = "ext4";
  if (!job->env && !(job->env = calloc(2, sizeof *job->env))) {  // room for HOME
    snprintf(error, size, "job: out of memory");
    return -1;
  }
  return 0;
}

int job_receive(int fd, struct job *job, char *error, size_t size) {
  memset(job, 0, sizeof *job);
  job->max_output_bytes = job->max_file_bytes = UINT64_MAX;
  uint8_t header[FRAME_HEADER];
  ssize_t n = read_full(fd, header, sizeof header);
  if (n != (ssize_t)sizeof header) {
    snprintf(error, size, "job: connection closed before the job frame (%s)", n < 0 ? strerror(errno) : "EOF");
    return -1;
  }
  uint32_t len = get_u32(header);
  if (header[4] != MSG_JOB || get_u32(header + 5) != 0 || len < 5 || len - 5 > MAX_JOB_BODY) {
    snprintf(error, size, "job: bad frame header (type %u, length %u)", header[4], len);
    return -1;
  }
  uint8_t *body = malloc(len - 5 + 1);
  if (!body || read_full(fd, body, len - 5) != (ssize_t)(len - 5)) {
    snprintf(error, size, "job: connection closed inside the job frame");
    free(body);
    return -1;
  }
  int rc = parse_job(body, len - 5, job, error, size);
  wipe(body, len - 5);  // it held the key
  free(body);
  return rc;
}

// ---- sending frames -----------------------------------------------------------

static struct {
  int stream_fd;        // -1 once the stream failed: frames then go to the console
  struct hmac_sha256_key key;
  uint32_t seq;
} ch = {.stream_fd = -1};

static char serial_line[8 + (FRAME_HEADER + 4 + MAX_CHUNK + FRAME_MAC + 2) / 3 * 4 + 2];
static uint8_t serial_frame[FRAME_HEADER + 4 + MAX_CHUNK + FRAME_MAC];

void channel_open(int stream_fd, struct job *job) {
  ch.stream_fd = stream_fd;
  hmac_sha256_key_init(&ch.key, job->key, RUN_KEY_BYTES);
  wipe(job->key, RUN_KEY_BYTES);
  ch.seq = 0;
}

void channel_forget_key(void) { wipe(&ch.key, sizeof ch.key); }

int channel_stream_fd(void) { return ch.stream_fd; }

static int send_stream(struct iovec *iov, int count) {
  while (count) {
    ssize_t n = writev(ch.stream_fd, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    while (count && (size_t)n >= iov->iov_len) n -= iov->iov_len, iov++, count--;
    if (count) iov->iov_base = (char *)iov->iov_base + n, iov->iov_len -= n;
  }
  return 0;
}

// One line "bencher:<base64 of the whole frame>" on the console.
static void send_serial(struct iovec *iov, int count) {
  size_t len = 0;
  for (int i = 0; i < count; i++) memcpy(serial_frame + len, iov[i].iov_base, iov[i].iov_len), len += iov[i].iov_len;
  memcpy(serial_line, "bencher:", 8);
  size_t n = 8 + base64_encode(serial_frame, len, serial_line + 8);
  serial_line[n++] = '\n';
  write_all(console_fd, serial_line, n);
}

void channel_send(uint8_t type, const void *prefix, size_t prefix_len, const void *data, size_t data_len) {
  uint8_t header[FRAME_HEADER], mac[FRAME_MAC];
  put_u32(header, (uint32_t)(5 + prefix_len + data_len + FRAME_MAC));
  header[4] = type;
  put_u32(header + 5, ch.seq++);
  struct sha256 h;
  hmac_sha256_begin(&ch.key, &h);
  sha256_update(&h, header, sizeof header);
  sha256_update(&h, prefix, prefix_len);
  sha256_update(&h, data, data_len);
  hmac_sha256_end(&ch.key, &h, mac);
  struct iovec iov[4] = {{header, sizeof header}, {(void *)prefix, prefix_len}, {(void *)data, data_len}, {mac, sizeof mac}};
  if (ch.stream_fd >= 0) {
    struct iovec copy[4];
    memcpy(copy, iov, sizeof iov);
    if (send_stream(copy, 4) == 0) return;
    diag("stream to the host failed (%s) at frame %u; continuing on the serial console", strerror(errno), ch.seq - 1);
    close(ch.stream_fd);
    ch.stream_fd = -1;
  }
  send_serial(iov, 4);  // the failed frame is sent whole again here
}

void channel_send_error(const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n >= (int)sizeof text) n = sizeof text - 1;
  diag("%s", text);
  channel_send(MSG_ERROR, text, n, NULL, 0);
}

void channel_close(void) {
  if (ch.stream_fd < 0) return;
  shutdown(ch.stream_fd, SHUT_WR);
  char sink[256];
  struct pollfd p = {ch.stream_fd, POLLIN, 0};
  // The host closes after DONE; 10 s covers a slow host without hanging forever.
  for (int waited = 0; waited < 10000;) {
    int r = poll(&p, 1, 1000);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) { waited += 1000; continue; }
    if (r < 0 || read(ch.stream_fd, sink, sizeof sink) <= 0) break;
  }
  close(ch.stream_fd);
  ch.stream_fd = -1;
}
