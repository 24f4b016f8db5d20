// guest-init: PID 1 of a bencher-run VM. It receives one job from the host,
// runs it in the job's root image, reports everything back over an
// authenticated channel (PROTOCOL.md) and resets the VM.
//
// The same binary, started as any PID but 1, is a host test harness:
//   init --host-test --socket PATH --root DIR [--console FILE] [--cpus LIST]
//   init --hmac-test KEYHEX < data      (prints HMAC-SHA256 in hex)
//   init --cpulist-test LIST            (prints the CPU list as parsed)
#define _GNU_SOURCE
#include "cpus.h"
#include "hmac_sha256.h"
#include "outputs.h"
#include "protocol.h"
#include "system.h"
#include "user.h"
#include "util.h"
#include "workload.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define GUEST_ROOT "/newroot"
#define HOST_CID 2

// struct sockaddr_vm from linux/vm_sockets.h (musl has no copy).
struct vsock_address {
  sa_family_t family;
  unsigned short reserved;
  unsigned int port, cid;
  unsigned char zero[4];
};
// linux/vm_sockets.h: the connect timeout (a struct timeval on 64-bit), set
// at level AF_VSOCK (what Linux 6.1 checks).
#define SO_VM_SOCKETS_CONNECT_TIMEOUT 6
// Linux gives up a vsock connect after 2 s. A busy host (several VMs on a
// nested PVM host) can take longer to answer; a retry then reaches a host
// side that has already accepted the first, abandoned connection and stopped
// listening, so the run is lost. Wait as long as the host may take to boot.
#define CONNECT_TIMEOUT_SEC 120

static int host_test;
// The CPUs the workload is kept on (bencher.cpus= in the guest, --cpus in a
// host test); NULL: wherever the kernel schedules it.
static const char *workload_cpus;

_Noreturn static void finish(int code) {
  sync();
  if (!host_test) {
    reboot(RB_AUTOBOOT);  // the VMM treats the reset as the end of the run
    for (;;) pause();     // PID 1 must never exit: that panics the kernel
  }
  exit(code);
}

// Retries: the host may not be listening yet, and (seen intermittently on
// nested PVM hosts) the vsock transport may not be registered yet (ENODEV).
static int connect_vsock(long port) {
  for (int attempt = 0; attempt < 50; attempt++) {
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct vsock_address a = {.family = AF_VSOCK, .port = (unsigned)port, .cid = HOST_CID};
    struct timeval patience = {.tv_sec = CONNECT_TIMEOUT_SEC};
    if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &patience, sizeof patience) < 0)
      diag("vsock connect timeout: %s (the kernel's 2 s stays)", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    int saved = errno;
    close(fd);
    errno = saved;
    if (errno != ECONNRESET && errno != ETIMEDOUT && errno != ECONNREFUSED && errno != ENODEV) return -1;
    if (attempt == 0) diag("vsock connect to host port %ld: %s; retrying for 10 s", port, strerror(errno));
    usleep(200000);
  }
  return -1;
}

static int connect_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (fd < 0 || strlen(path) >= sizeof a.sun_path) return -1;
  strcpy(a.sun_path, path);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
  close(fd);
  return -1;
}

static int hmac_test(const char *hex) {
  uint8_t key[256];
  size_t n = strlen(hex) / 2;
  if (n > sizeof key) return 2;
  for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &key[i]);
  struct hmac_sha256_key k;
  struct sha256 h;
  hmac_sha256_key_init(&k, key, n);
  hmac_sha256_begin(&k, &h);
  static uint8_t buf[65536];
  ssize_t got;
  while ((got = read(0, buf, sizeof buf)) > 0) sha256_update(&h, buf, got);
  uint8_t mac[32];
  hmac_sha256_end(&k, &h, mac);
  for (int i = 0; i < 32; i++) printf("%02x", mac[i]);
  printf("\n");
  return 0;
}

// Adds HOME from the image's passwd unless the job sets it, as Docker does.
static void add_home(struct job *job, const char *home) {
  for (size_t i = 0; i < job->envc; i++)
    if (!strncmp(job->env[i], "HOME=", 5)) return;
  char *entry = malloc(strlen(home) + 6);
  if (!entry) return;
  sprintf(entry, "HOME=%s", home);
  job->env[job->envc++] = entry;  // the spare slot job_receive keeps
  job->env[job->envc] = NULL;
}

static void read_only_bind(const char *dir) {
  if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0 || mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
    diag("read-only bind of %s: %s", dir, strerror(errno));
}

static void run_job(int stream_fd, const char *root) {
  struct job job;
  char error[512];
  int rc = job_receive(stream_fd, &job, error, sizeof error);
  if (!job.have_key) {
    diag("%s", error);  // no key: nothing the host could trust
    finish(1);
  }
  channel_open(stream_fd, &job);
  uint8_t version[2] = {PROTOCOL_VERSION & 0xff, PROTOCOL_VERSION >> 8};
  channel_send(MSG_READY, version, 2, NULL, 0);
  if (rc < 0) {
    channel_send_error("%s", error);
  } else if (!root && mount_root_image(GUEST_ROOT, job.rootfs_type, error, sizeof error) < 0) {
    channel_send_error("%s", error);
  } else {
    if (!host_test) phase("root mounted");
    int read_only = !strcmp(job.rootfs_type, "squashfs");
    if (!root) root = GUEST_ROOT;
    else if (read_only) read_only_bind(root);  // host test: the directory stands in for a squashfs
    mount_root_extras(root, host_test, read_only);
    int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct run_user user;
    cpu_set_t cpus;
    if (root_fd < 0) {
      channel_send_error("open root %s: %s", root, strerror(errno));
    } else if (resolve_user(root_fd, job.user, &user, error, sizeof error) < 0) {
      channel_send_error("%s", error);
    } else if (workload_cpus && cpulist_parse(workload_cpus, &cpus) < 0) {
      channel_send_error("bencher.cpus=%.64s: expected a CPU list such as 1 or 1-3", workload_cpus);
    } else {
      add_home(&job, user.home);
      // Outputs only after a command that ran to its end: after the host's STOP (1) it wants nothing more.
      if (run_workload(&job, root, &user, host_test, workload_cpus ? &cpus : NULL) == 0) {
        if (!host_test) phase("command ended");
        send_outputs(&job, root_fd);
      }
    }
  }
  channel_send(MSG_DONE, NULL, 0, NULL, 0);
  channel_close();
  finish(0);
}

_Noreturn static void usage(void) {
  fprintf(stderr, "usage: init --host-test --socket PATH --root DIR [--console FILE] [--cpus LIST] | init --hmac-test KEYHEX | init --cpulist-test LIST\n");
  exit(2);
}

int main(int argc, char **argv) {
  // Not dumpable: /proc/1/mem and ptrace need CAP_SYS_PTRACE, which the workload lacks.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  signal(SIGPIPE, SIG_IGN);
  host_test = getpid() != 1;
  if (!host_test) {
    mount_early();
    if (fcntl(1, F_GETFD) < 0) console_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    else console_fd = 1;
    phase("started");
    if (loopback_up() < 0) diag("loopback: %s", strerror(errno));
    static char cpus_value[256];
    if (cmdline_value("bencher.cpus", cpus_value, sizeof cpus_value) == 0) workload_cpus = cpus_value;
    long port = cmdline_port();
    if (port < 0) {
      diag("no bencher.port=N on the kernel command line");
      finish(1);
    }
    int fd = connect_vsock(port);
    if (fd < 0) {
      diag("vsock connect to host port %ld: %s", port, strerror(errno));
      finish(1);
    }
    phase("connected");
    run_job(fd, NULL);
  }

  if (argc == 3 && !strcmp(argv[1], "--hmac-test")) return hmac_test(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "--cpulist-test")) return cpulist_test(argv[2]);
  const char *socket_path = NULL, *root = NULL, *console = NULL;
  if (argc < 2 || strcmp(argv[1], "--host-test")) usage();
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--socket")) socket_path = argv[i + 1];
    else if (!strcmp(argv[i], "--root")) root = argv[i + 1];
    else if (!strcmp(argv[i], "--console")) console = argv[i + 1];
    else if (!strcmp(argv[i], "--cpus")) workload_cpus = argv[i + 1];
    else usage();
  }
  if (!socket_path || !root || argc % 2) usage();
  if (console && (console_fd = open(console, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
    fprintf(stderr, "bencher-init: console %s: %s\n", console, strerror(errno));
    return 1;
  }
  // Our mounts inside root must not leak to the host.
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    diag("host test needs root (or a user namespace): %s", strerror(errno));
    return 1;
  }
  int fd = connect_unix(socket_path);
  if (fd < 0) {
    diag("connect %s: %s", socket_path, strerror(errno));
    return 1;
  }
  run_job(fd, root);
}
