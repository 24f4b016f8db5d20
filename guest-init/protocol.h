// The guest side of the guest<->host protocol (PROTOCOL.md is the spec):
// receiving the job, and sending authenticated, numbered frames to the host
// over the stream, or over the serial console once the stream fails.
#ifndef GUEST_INIT_PROTOCOL_H
#define GUEST_INIT_PROTOCOL_H
#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_VERSION 1
#define FRAME_HEADER 9          // u32 length, u8 type, u32 seq
#define FRAME_MAC 32
#define MAX_JOB_BODY (1u << 20)
#define MAX_CHUNK 65536         // most data bytes in one guest frame
#define RUN_KEY_BYTES 32

enum guest_message {
  MSG_READY = 0x01,
  MSG_STARTED = 0x02,
  MSG_STDOUT = 0x03,
  MSG_STDERR = 0x04,
  MSG_EXIT = 0x05,
  MSG_FILE = 0x06,
  MSG_FILE_DATA = 0x07,
  MSG_ERROR = 0x08,
  MSG_DONE = 0x09,
};
#define MSG_JOB 0x80
#define MSG_ACK 0x81
#define MSG_STOP 0x82

enum job_field {
  JOB_KEY = 1, JOB_ARG = 2, JOB_ENV = 3, JOB_WORKDIR = 4, JOB_USER = 5,
  JOB_OUTPUT = 6, JOB_ROOTFS_TYPE = 7, JOB_MAX_OUTPUT = 8, JOB_MAX_FILE = 9,
};

enum file_status { FILE_PRESENT = 0, FILE_MISSING = 1, FILE_NOT_REGULAR = 2, FILE_UNREADABLE = 3 };

struct job {
  char **argv;        // NULL-terminated
  char **env;         // NULL-terminated, one spare slot for HOME
  size_t envc;
  char *workdir;
  char *user;
  char **outputs;
  size_t noutputs;
  char *rootfs_type;
  uint64_t max_output_bytes;  // per stream
  uint64_t max_file_bytes;    // per output file
  uint8_t key[RUN_KEY_BYTES];
  int have_key;
};

// Reads and checks the JOB frame. On error returns -1 with a reason in
// error (job->have_key tells whether an authenticated report is possible).
int job_receive(int fd, struct job *job, char *error, size_t error_size);

// Starts the authenticated channel; copies the key and wipes job->key.
void channel_open(int stream_fd, struct job *job);
// Sends one frame: type, then prefix and data as its payload.
void channel_send(uint8_t type, const void *prefix, size_t prefix_len, const void *data, size_t data_len);
void channel_send_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Half-closes the stream and waits (10 s at most) for the host's ACK of every
// frame; without it, resends the recent frames on the console.
void channel_close(void);
// While the command runs and the stream is readable: whether the host sent
// STOP (it gave up on the run: its timeout, or it was interrupted). Anything
// else (EOF, other bytes) returns 0: the stream is not worth watching after.
int channel_stop_requested(void);
// Between output file frames: whether the host has sent STOP, checked
// without waiting. After STOP the channel is abandoned and 1 returned.
int channel_stopped(void);
// The host has gone: every later frame is dropped (not even the console:
// nobody reads it), and channel_close returns at once.
void channel_abandon(void);
// In a forked child: forget the key before anything else happens.
void channel_forget_key(void);
int channel_stream_fd(void);

#endif
