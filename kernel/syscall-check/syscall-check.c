/* syscall-check: run as PID 1 in a guest to prove user processes can make
 * system calls with our kernel on this host (issue 9). Each check prints one
 * line "ok NAME detail" or "FAIL NAME detail"; the last line is
 * "syscall-check: PASS" or "syscall-check: FAIL". Then it reboots, which ends
 * the VM (QEMU with -no-reboot, our VMM on reset).
 * Build: musl-gcc -static -O2 -o syscall-check syscall-check.c */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void report(int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void report(int ok, const char *name, const char *fmt, ...) {
  char detail[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  if (!ok) failures++;
  /* dprintf goes straight to write(2): the console write is itself a check. */
  dprintf(1, "%s %s %s\n", ok ? "ok" : "FAIL", name, detail);
}

static long long now_ns(clockid_t clock) {
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0) return -1;
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void check_read(void) {
  /* The initramfs carries this file with exactly this content. */
  static const char want[] = "bencher-run syscall-check fixture\n";
  char got[128] = {0};
  int fd = open("/etc/syscall-check.txt", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { report(0, "open", "errno %d", errno); return; }
  ssize_t n = read(fd, got, sizeof got - 1);
  close(fd);
  report(n == (ssize_t)strlen(want) && memcmp(got, want, n) == 0, "open-read", "%zd bytes", n);
  fd = open("/etc/does-not-exist", O_RDONLY);
  report(fd < 0 && errno == ENOENT, "open-enoent", "fd %d errno %d", fd, errno);
}

static void check_mmap(void) {
  size_t len = 8 << 20;
  unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { report(0, "mmap", "errno %d", errno); return; }
  for (size_t i = 0; i < len; i += 4096) p[i] = (unsigned char)(i >> 12);
  int good = 1;
  for (size_t i = 0; i < len; i += 4096) good &= p[i] == (unsigned char)(i >> 12);
  report(good && munmap(p, len) == 0, "mmap", "%zu KiB touched page by page", len >> 10);
}

static void check_fork(void) {
  pid_t child = fork();
  if (child == 0) {
    /* exit(2) in the child is the "exit" check: the parent sees its status. */
    _exit(getpid() == 1 ? 1 : 42);
  }
  if (child < 0) { report(0, "fork", "errno %d", errno); return; }
  int status = 0;
  pid_t w = waitpid(child, &status, 0);
  report(w == child && WIFEXITED(status) && WEXITSTATUS(status) == 42, "fork-wait-exit",
         "child %d status 0x%x", child, status);
}

static void check_clock(void) {
  long long a = now_ns(CLOCK_MONOTONIC), b = now_ns(CLOCK_MONOTONIC);
  struct timespec ts;
  long rc = syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &ts); /* the real syscall, not the vDSO */
  report(a > 0 && b >= a && rc == 0 && ts.tv_sec >= 0, "clock_gettime",
         "monotonic %lld ns, boottime %lld.%09ld s", a, (long long)ts.tv_sec, ts.tv_nsec);
}

/* The vector registers user space may use (what XCR0 enables; without
 * OSXSAVE, the SSE registers) must survive a switch to another process that
 * uses them too. A kernel that saves less than the CPU lets user space use
 * hands one process's register halves to another: silent corruption in any
 * program whose string functions use AVX. Two processes, each with its own
 * pattern, check it after every yield or move to another CPU. */
static int ymm_usable(unsigned *xcr0) {
  unsigned a, b, c, d;
  *xcr0 = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
  unsigned hi;
  __asm__ volatile("xgetbv" : "=a"(*xcr0), "=d"(hi) : "c"(0));
  return (*xcr0 & 6) == 6 && (c & bit_AVX);
}

static cpu_set_t only_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return set;
}

static void pin_to(int cpu) {
  cpu_set_t set = only_cpu(cpu);
  sched_setaffinity(0, sizeof set, &set);
}

/* One round: load the pattern, make one system call, store the register.
 * In one asm block, so nothing else touches the register meanwhile. The call
 * is sched_yield, or sched_setaffinity(0, size, cpu) when `cpu` is given
 * (the call returns on that CPU). */
static void round_trip(int ymm, const unsigned char *in, unsigned char *out, const cpu_set_t *cpu) {
  long nr = cpu ? SYS_sched_setaffinity : SYS_sched_yield;
  if (ymm)
    __asm__ volatile("vmovdqu %[in], %%ymm7\n\tsyscall\n\tvmovdqu %%ymm7, %[out]"
                     : [out] "=m"(*(unsigned char(*)[32])out), "+a"(nr)
                     : [in] "m"(*(const unsigned char(*)[32])in), "D"(0L), "S"(sizeof *cpu), "d"(cpu)
                     : "rcx", "r11", "xmm7", "memory");
  else
    __asm__ volatile("movdqu %[in], %%xmm7\n\tsyscall\n\tmovdqu %%xmm7, %[out]"
                     : [out] "=m"(*(unsigned char(*)[16])out), "+a"(nr)
                     : [in] "m"(*(const unsigned char(*)[16])in), "D"(0L), "S"(sizeof *cpu), "d"(cpu)
                     : "rcx", "r11", "xmm7", "memory");
}

/* Rounds in which the register came back changed. With `moves`, each round
 * moves the process to the other of CPUs 0 and 1 (from `cpu`); else it
 * yields on the CPU it is on. */
static int lost_rounds(int ymm, unsigned char tag, int rounds, int moves, int cpu) {
  unsigned char in[32], out[32];
  int lost = 0;
  memset(in, tag, sizeof in);
  for (int i = 0; i < rounds; i++) {
    if (moves) cpu = 1 - cpu;
    cpu_set_t next = only_cpu(cpu);
    memset(out, 0, sizeof out);
    round_trip(ymm, in, out, moves ? &next : NULL);
    lost += memcmp(in, out, ymm ? 32 : 16) != 0;
  }
  return lost;
}

/* Two processes with different patterns, started on CPUs 0 and 1 (`moves`)
 * or both on CPU 0; each counts the rounds it lost. */
static void check_vector_pair(const char *name, int moves) {
  const int rounds = 300;
  unsigned xcr0;
  int ymm = ymm_usable(&xcr0);
  int pipefd[2];
  if (pipe(pipefd) != 0) { report(0, name, "pipe errno %d", errno); return; }
  pid_t child = fork();
  if (child == 0) {
    pin_to(moves ? 1 : 0);
    int lost = lost_rounds(ymm, 0x22, rounds, moves, moves ? 1 : 0);
    write(pipefd[1], &lost, sizeof lost);
    _exit(0);
  }
  if (child < 0) { report(0, name, "fork errno %d", errno); close(pipefd[0]); close(pipefd[1]); return; }
  pin_to(0);
  int lost = lost_rounds(ymm, 0x11, rounds, moves, 0), child_lost = -1;
  read(pipefd[0], &child_lost, sizeof child_lost);
  waitpid(child, NULL, 0);
  close(pipefd[0]);
  close(pipefd[1]);
  report(lost == 0 && child_lost == 0, name, "xcr0 0x%x, %s kept across %d %s (lost in %d and %d)", xcr0,
         ymm ? "ymm" : "xmm", rounds, moves ? "moves between CPUs 0 and 1" : "yields to another process", lost, child_lost);
}

/* Across yields on one CPU always; across moves between CPUs when there are
 * two: the registers are saved on one CPU and restored on the other, which
 * last ran the other process. Then PID 1 may use every CPU again. */
static void check_vector_registers(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN); /* musl counts the CPUs this process may use: ask before pinning */
  check_vector_pair("vector-registers", 0);
  if (cpus >= 2) check_vector_pair("vector-registers-across-cpus", 1);
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int i = 0; i < CPU_SETSIZE; i++) CPU_SET(i, &all);
  sched_setaffinity(0, sizeof all, &all);
}

static void measure_getpid(void) {
  const long iterations = 2000; /* ~1.5 s on a nested PVM host, where each call costs ~0.7 ms */
  long long t0 = now_ns(CLOCK_MONOTONIC);
  long pid = 0;
  for (long i = 0; i < iterations; i++) pid = syscall(SYS_getpid);
  long long t1 = now_ns(CLOCK_MONOTONIC);
  report(pid == 1, "getpid", "pid %ld", pid);
  dprintf(1, "metric getpid_ns %lld (%ld calls)\n", (t1 - t0) / iterations, iterations);
}

int main(int argc, char **argv) {
  int skip_vectors = 0;
  for (int i = 1; i < argc; i++) skip_vectors |= strcmp(argv[i], "skip-vector-registers") == 0;
  dprintf(1, "syscall-check: start\n");
  report(getpid() == 1, "pid1", "pid %d", getpid());
  check_read();
  check_mmap();
  check_fork();
  check_clock();
  if (skip_vectors) dprintf(1, "skip vector-registers (asked to on the kernel command line)\n");
  else check_vector_registers();
  measure_getpid();
  dprintf(1, "syscall-check: %s\n", failures ? "FAIL" : "PASS");
  sync();
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}
