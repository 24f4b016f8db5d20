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

#define MAX_FRAME (FRAME_HEADER + 4 + MAX_CHUNK + FRAME_MAC)
// Frames already written to the stream may still be lost with it (they sit
// in socket buffers), so the newest ones are kept and sent again on the
// console if the stream fails; the host ignores those it already has.
#define BACKLOG_KEEP (1u << 20)

static struct {
  int stream_fd;        // -1 once the stream failed: frames then go to the console
  int abandoned;        // the host sent STOP: frames go nowhere
  struct hmac_sha256_key key;
  uint32_t seq;
  size_t backlog_len;
} ch = {.stream_fd = -1};

static uint8_t frame[MAX_FRAME];
static uint8_t backlog[2 * BACKLOG_KEEP + MAX_FRAME];
static char serial_line[8 + (MAX_FRAME + 2) / 3 * 4 + 2];

void channel_open(int stream_fd, struct job *job) {
  ch.stream_fd = stream_fd;
  hmac_sha256_key_init(&ch.key, job->key, RUN_KEY_BYTES);
  wipe(job->key, RUN_KEY_BYTES);
  ch.seq = 0;
}

void channel_forget_key(void) { wipe(&ch.key, sizeof ch.key); }

int channel_stream_fd(void) { return ch.stream_fd; }

static void remember(const uint8_t *f, size_t len) {
  if (ch.backlog_len + len > sizeof backlog) {
    size_t drop = 0;  // whole frames from the front until at most BACKLOG_KEEP remain
    while (ch.backlog_len - drop > BACKLOG_KEEP) drop += 4 + get_u32(backlog + drop);
    memmove(backlog, backlog + drop, ch.backlog_len - drop);
    ch.backlog_len -= drop;
  }
  memcpy(backlog + ch.backlog_len, f, len);
  ch.backlog_len += len;
}

// One line "bencher:<base64 of the whole frame>" on the console.
static void send_serial(const uint8_t *f, size_t len) {
  memcpy(serial_line, "bencher:", 8);
  size_t n = 8 + base64_encode(f, len, serial_line + 8);
  serial_line[n++] = '\n';
  write_all(console_fd, serial_line, n);
}

void channel_send(uint8_t type, const void *prefix, size_t prefix_len, const void *data, size_t data_len) {
  if (ch.abandoned) return;
  size_t len = FRAME_HEADER + prefix_len + data_len;
  put_u32(frame, (uint32_t)(len - 4 + FRAME_MAC));
  frame[4] = type;
  put_u32(frame + 5, ch.seq++);
  if (prefix_len) memcpy(frame + FRAME_HEADER, prefix, prefix_len);
  if (data_len) memcpy(frame + FRAME_HEADER + prefix_len, data, data_len);
  struct sha256 h;
  hmac_sha256_begin(&ch.key, &h);
  sha256_update(&h, frame, len);
  hmac_sha256_end(&ch.key, &h, frame + len);
  len += FRAME_MAC;
  if (ch.stream_fd >= 0) {
    if (write_all(ch.stream_fd, frame, len) == 0) {
      remember(frame, len);
      return;
    }
    int write_errno = errno;
    // A host that sent STOP closes the stream right after: that is no failure, and nobody reads the console.
    if (channel_stop_requested()) {
      diag("the host stopped the run: nothing more sent");
      channel_abandon();
      return;
    }
    diag("stream to the host failed (%s) at frame %u; continuing on the serial console", strerror(write_errno), ch.seq - 1);
    close(ch.stream_fd);
    ch.stream_fd = -1;
    for (size_t off = 0; off < ch.backlog_len; off += 4 + get_u32(backlog + off))
      send_serial(backlog + off, 4 + get_u32(backlog + off));
  }
  send_serial(frame, len);
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

// Reads exactly len bytes within the remaining time; -1 on EOF, error or timeout.
static int read_before(int fd, uint8_t *buf, size_t len, int *ms_left) {
  size_t got = 0;
  while (got < len && *ms_left > 0) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 500);
    if (r < 0 && errno != EINTR) return -1;
    if (r <= 0) {
      *ms_left -= 500;
      continue;
    }
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    got += n;
  }
  return got == len ? 0 : -1;
}

int channel_stop_requested(void) {
  if (ch.stream_fd < 0) return 0;
  uint8_t stop[FRAME_HEADER];
  int ms_left = 1000;  // the host writes STOP's 9 bytes at once; a second is plenty
  return read_before(ch.stream_fd, stop, sizeof stop, &ms_left) == 0 && get_u32(stop) == sizeof stop - 4 &&
         stop[4] == MSG_STOP && get_u32(stop + 5) == 1;
}

int channel_stopped(void) {
  if (ch.abandoned) return 1;
  struct pollfd p = {ch.stream_fd, POLLIN, 0};
  if (ch.stream_fd < 0 || poll(&p, 1, 0) <= 0 || !channel_stop_requested()) return 0;
  diag("the host stopped the run: output files not sent");
  channel_abandon();
  return 1;
}

void channel_abandon(void) {
  ch.abandoned = 1;
  if (ch.stream_fd >= 0) close(ch.stream_fd);
  ch.stream_fd = -1;
}

void channel_close(void) {
  if (ch.stream_fd < 0) return;
  shutdown(ch.stream_fd, SHUT_WR);
  // Written is not delivered: only the host's ACK of every frame is. Without
  // it the newest frames go to the console too (the host drops duplicates).
  uint8_t ack[FRAME_HEADER + 4];
  int ms_left = 10000;
  int confirmed = read_before(ch.stream_fd, ack, sizeof ack, &ms_left) == 0 && get_u32(ack) == sizeof ack - 4 &&
                  ack[4] == MSG_ACK && get_u32(ack + 5) == 1 && get_u32(ack + FRAME_HEADER) == ch.seq;
  close(ch.stream_fd);
  ch.stream_fd = -1;
  if (confirmed) return;
  diag("the host did not confirm all %u frames; sending the last ones again on the serial console", ch.seq);
  for (size_t off = 0; off < ch.backlog_len; off += 4 + get_u32(backlog + off))
    send_serial(backlog + off, 4 + get_u32(backlog + off));
}
