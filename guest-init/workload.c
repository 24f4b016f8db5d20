#define _GNU_SOURCE
#include "workload.h"
#include "cpus.h"
#include "system.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

// Docker's default capability set; a root workload keeps only these, so it
// cannot ptrace, mount, use perf system-wide, load BPF or reboot the guest.
static const int docker_caps[] = {0 /*CHOWN*/, 1 /*DAC_OVERRIDE*/, 3 /*FOWNER*/, 4 /*FSETID*/, 5 /*KILL*/,
                                  6 /*SETGID*/, 7 /*SETUID*/, 8 /*SETPCAP*/, 10 /*NET_BIND_SERVICE*/,
                                  13 /*NET_RAW*/, 18 /*SYS_CHROOT*/, 27 /*MKNOD*/, 29 /*AUDIT_WRITE*/,
                                  31 /*SETFCAP*/};

struct cap_header { uint32_t version; int pid; };
struct cap_data { uint32_t effective, permitted, inheritable; };
#define CAP_VERSION_3 0x20080522
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static int limit_capabilities(void) {
  for (int cap = 0; cap < 64; cap++) {
    int keep = 0;
    for (size_t i = 0; i < sizeof docker_caps / sizeof *docker_caps; i++) keep |= docker_caps[i] == cap;
    if (keep) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      return -1;
    }
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct cap_header h = {CAP_VERSION_3, 0};
  struct cap_data d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  d[0].inheritable = d[1].inheritable = 0;  // else exec could keep dropped ones
  return syscall(SYS_capset, &h, d) < 0 ? -1 : 0;
}

// The child reports why it could not start over a close-on-exec pipe: EOF
// there means exec succeeded.
// The reason ends the message whatever the argument's length: the host tells
// 127 from 126 by it (stages/collect/exit-status.ts), so a long argument is cut.
_Noreturn static void child_fail(int status_fd, int code, const char *what, const char *arg) {
  enum { ARG_MAX_SHOWN = 400 };
  const char *reason = strerror(errno);
  int arg_len = arg ? (int)strnlen(arg, ARG_MAX_SHOWN + 1) : 0;
  int cut = arg_len > ARG_MAX_SHOWN;
  char text[600];
  int n = snprintf(text, sizeof text, "%s%s%.*s%s: %s", what, arg ? " " : "", cut ? ARG_MAX_SHOWN : arg_len, arg ? arg : "",
                   cut ? "..." : "", reason);
  write_all(status_fd, text, n < (int)sizeof text ? n : (int)sizeof text - 1);
  _exit(code);
}

static int mkdir_parents(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int rc = mkdir(path, 0755);
    *p = '/';
    if (rc < 0 && errno != EEXIST) return -1;
  }
  return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static void mount_in_chroot(const char *dir, const char *type, unsigned long flags) {
  struct stat st;
  if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) return;  // image without it: Docker would make it; we must not write a squashfs
  if (mount(type, dir, type, flags, NULL) < 0) diag("mount %s in the root: %s", type, strerror(errno));
}

_Noreturn static void child(const struct job *job, const char *root, const struct run_user *user, int host_test,
                            const cpu_set_t *cpus, int out_fd, int err_fd, int status_fd) {
  channel_forget_key();
  // On the quiet CPUs from the start, so everything the workload starts stays there too.
  if (cpus && sched_setaffinity(0, sizeof *cpus, cpus) < 0) {
    char list[256];
    cpulist_format(cpus, list, sizeof list);
    child_fail(status_fd, 127, "run on CPUs", list);
  }
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (unshare(CLONE_NEWNS | (host_test ? CLONE_NEWNET : 0)) < 0) child_fail(status_fd, 127, "unshare", NULL);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) child_fail(status_fd, 127, "make mounts private", NULL);
  if (host_test && loopback_up() < 0) child_fail(status_fd, 127, "loopback up", NULL);
  // guest-init's own /proc shows PID 1: gone from the workload's view.
  umount2("/proc", MNT_DETACH);
  umount2("/sys", MNT_DETACH);
  if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) child_fail(status_fd, 127, "bind root", root);
  if (chdir(root) < 0) child_fail(status_fd, 127, "chdir", root);
  // Moving the image over "/" (as switch_root does) hides the initramfs
  // even from a chroot escape; if the kernel refuses, chroot alone still
  // confines the workload to a tree with no secrets.
  mount(".", "/", NULL, MS_MOVE, NULL);
  if (chroot(".") < 0 || chdir("/") < 0) child_fail(status_fd, 127, "chroot", root);
  // Mounted from inside the new PID namespace: shows only the workload's processes.
  mount_in_chroot("/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mount_in_chroot("/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);

  struct stat st;
  if (stat(job->workdir, &st) < 0 && errno == ENOENT) {
    char *dir = strdup(job->workdir);
    if (!dir || mkdir_parents(dir) < 0) child_fail(status_fd, 127, "create working directory", job->workdir);
  }
  if (limit_capabilities() < 0) child_fail(status_fd, 127, "drop capabilities", NULL);
  if (setgroups(user->ngroups, user->groups) < 0) child_fail(status_fd, 127, "setgroups", NULL);
  if (setgid(user->gid) < 0) child_fail(status_fd, 127, "setgid", NULL);
  if (setuid(user->uid) < 0) child_fail(status_fd, 127, "setuid", NULL);
  // Host test: if guest-init is killed (as a VM would be), its workload goes
  // too rather than living on on the host. Set after setuid, which clears it.
  if (host_test && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_fail(status_fd, 127, "parent-death signal", NULL);
  if (chdir(job->workdir) < 0) child_fail(status_fd, 127, "working directory", job->workdir);

  if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) child_fail(status_fd, 127, "dup2", NULL);
  // Nothing but 0-2 may reach the workload, whatever we inherited; the status
  // pipe stays open until exec.
  if (syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC) < 0) child_fail(status_fd, 127, "close_range", NULL);
  // Ignored signals survive exec; the workload expects defaults (SIGPIPE!).
  for (int sig = 1; sig < _NSIG; sig++) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  umask(022);
  environ = job->env;  // execvp searches the job's PATH, as Docker does
  execvp(job->argv[0], job->argv);
  child_fail(status_fd, errno == ENOENT ? 127 : 126, "cannot execute", job->argv[0]);
}

struct stream {
  int fd;
  uint8_t type;
  uint64_t budget, dropped;
};

static void drain_once(struct stream *s, uint8_t *buf) {
  ssize_t n = read(s->fd, buf, MAX_CHUNK);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close(s->fd);
    s->fd = -1;
    return;
  }
  uint64_t send = (uint64_t)n < s->budget ? (uint64_t)n : s->budget;
  if (send) channel_send(s->type, NULL, 0, buf, send);
  s->budget -= send;
  s->dropped += n - send;  // keep reading so the workload never blocks on a full pipe
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

int run_workload(const struct job *job, const char *root, const struct run_user *user, int host_test, const cpu_set_t *cpus) {
  int out[2], err[2], status[2];
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0) {
    channel_send_error("pipe: %s", strerror(errno));
    return -1;
  }
  if (unshare(CLONE_NEWPID) < 0) {
    channel_send_error("new PID namespace: %s", strerror(errno));
    return -1;
  }
  uint64_t started = now_ns();
  pid_t pid = fork();
  if (pid < 0) {
    channel_send_error("fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) child(job, root, user, host_test, cpus, out[1], err[1], status[1]);
  close(out[1]), close(err[1]), close(status[1]);

  static uint8_t buf[MAX_CHUNK];
  struct stream streams[2] = {{out[0], MSG_STDOUT, job->max_output_bytes, 0},
                              {err[0], MSG_STDERR, job->max_output_bytes, 0}};
  int status_fd = status[0];
  char failure[600];
  size_t failure_len = 0;
  int host_fd = channel_stream_fd();  // watched for the host's STOP
  // Readable once the command has exited: one that closed its stdout and
  // stderr early is waited for here, where STOP is still heard, not in wait4.
  int exit_fd = (int)syscall(SYS_pidfd_open, pid, 0);
  int stopped = 0;
  while (status_fd >= 0 || streams[0].fd >= 0 || streams[1].fd >= 0 || exit_fd >= 0) {
    struct pollfd p[5] = {{status_fd, POLLIN, 0}, {streams[0].fd, POLLIN, 0}, {streams[1].fd, POLLIN, 0}, {host_fd, POLLIN, 0}, {exit_fd, POLLIN, 0}};
    if (poll(p, 5, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (status_fd >= 0 && p[0].revents) {  // first, so STARTED precedes any output
      ssize_t n = read(status_fd, failure + failure_len, sizeof failure - 1 - failure_len);
      if (n > 0) failure_len += n;
      else if (n == 0 || errno != EINTR) {
        close(status_fd);
        status_fd = -1;
        if (!failure_len) channel_send(MSG_STARTED, NULL, 0, NULL, 0);
      }
    }
    for (int i = 0; i < 2; i++)
      if (streams[i].fd >= 0 && p[1 + i].revents) drain_once(&streams[i], buf);
    if (host_fd >= 0 && p[3].revents) {
      if (channel_stop_requested()) {
        // Killing the PID namespace's first process kills all of it; the
        // pipes then close and the loop ends. The host wants nothing more.
        kill(pid, SIGKILL);
        stopped = 1;
        diag("the host stopped the run: command killed");
        channel_abandon();
      }
      host_fd = -1;  // EOF or stray bytes: nothing more to watch for
    }
    if (exit_fd >= 0 && p[4].revents) {  // reaped below, with its rusage
      close(exit_fd);
      exit_fd = -1;
    }
  }
  int wstatus;
  struct rusage ru;
  while (wait4(pid, &wstatus, 0, &ru) < 0 && errno == EINTR) {}
  uint64_t wall = now_ns() - started;
  if (stopped) return 1;
  if (failure_len) {
    failure[failure_len] = 0;
    channel_send_error("%s", failure);
    return -1;
  }
  uint8_t exit_msg[53];
  exit_msg[0] = WIFSIGNALED(wstatus) ? 1 : 0;
  put_u32(exit_msg + 1, WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
  put_u64(exit_msg + 5, wall);
  put_u64(exit_msg + 13, (uint64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec);
  put_u64(exit_msg + 21, (uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
  put_u64(exit_msg + 29, (uint64_t)ru.ru_maxrss);
  put_u64(exit_msg + 37, streams[0].dropped);
  put_u64(exit_msg + 45, streams[1].dropped);
  channel_send(MSG_EXIT, exit_msg, sizeof exit_msg, NULL, 0);
  return 0;
}
