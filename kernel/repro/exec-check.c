// Guest-side checks for the multi-vCPU crash on nested PVM hosts (see
// kernel/repro/README.md). Static, so it runs from a bare busybox initramfs.
//   exec-check execp N PROG ARGS...  fork+exec PROG N times, count crashes
//   exec-check xmm PROCS ITERS        XMM registers across spins and yields
//   exec-check xmmpf PROCS ITERS      XMM registers across page faults
//   exec-check ymm PROCS ITERS        all 256 bits of YMM0-7 across spins and yields
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define XMM_LOADS(P) \
  "lea 0(%[p]), %%rax\n movq %%rax, %%xmm0\n lea 1(%[p]), %%rax\n movq %%rax, %%xmm1\n" \
  "lea 2(%[p]), %%rax\n movq %%rax, %%xmm2\n lea 3(%[p]), %%rax\n movq %%rax, %%xmm3\n" \
  "lea 4(%[p]), %%rax\n movq %%rax, %%xmm4\n lea 5(%[p]), %%rax\n movq %%rax, %%xmm5\n" \
  "lea 6(%[p]), %%rax\n movq %%rax, %%xmm6\n lea 7(%[p]), %%rax\n movq %%rax, %%xmm7\n"
#define XMM_STORES \
  "movq %%xmm0, 0(%[o])\n movq %%xmm1, 8(%[o])\n movq %%xmm2, 16(%[o])\n movq %%xmm3, 24(%[o])\n" \
  "movq %%xmm4, 32(%[o])\n movq %%xmm5, 40(%[o])\n movq %%xmm6, 48(%[o])\n movq %%xmm7, 56(%[o])\n"
#define XMM_CLOBBERS "rax", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7"

static long compare(const unsigned long *out, unsigned long pat, const char *what) {
  long bad = 0;
  for (int i = 0; i < 8; i++)
    if (out[i] != pat + i) { bad++; printf("XMM%d after %s: got %lx want %lx\n", i, what, out[i], pat + i); }
  return bad;
}

/* Loads XMM0-7, spins (timer interrupts arrive) and maybe yields (a context switch), reads them back. */
static long xmm_across_switch(unsigned long pat, long spins, int yield) {
  unsigned long out[8];
  asm volatile(XMM_LOADS(pat)
               "mov %[n], %%rcx\n 1: dec %%rcx\n jnz 1b\n"
               "test %[y], %[y]\n jz 2f\n mov $24, %%eax\n syscall\n 2:\n" /* sched_yield */
               XMM_STORES
               : : [p] "r"(pat), [n] "r"(spins), [y] "r"((long)yield), [o] "r"(out)
               : "rcx", "r11", XMM_CLOBBERS);
  return compare(out, pat, yield ? "a yield" : "a spin");
}

/* Loads XMM0-7, writes to a fresh anonymous page (a page fault), reads them back. */
static long xmm_across_fault(unsigned long pat, volatile char *page) {
  unsigned long out[8];
  asm volatile(XMM_LOADS(pat) "movb $1, (%[pg])\n" XMM_STORES
               : : [p] "r"(pat), [pg] "r"(page), [o] "r"(out) : XMM_CLOBBERS);
  return compare(out, pat, "a page fault");
}

/* Loads all 256 bits of YMM0-7, spins and maybe yields, stores them back:
 * the XMM checks above see only the low 64 bits. */
static long ymm_across_switch(unsigned long pat, long spins, int yield) {
  unsigned long in[32], out[32];
  for (int i = 0; i < 32; i++) in[i] = pat + i;
  asm volatile("vmovdqu 0(%[in]), %%ymm0\n vmovdqu 32(%[in]), %%ymm1\n vmovdqu 64(%[in]), %%ymm2\n vmovdqu 96(%[in]), %%ymm3\n"
               "vmovdqu 128(%[in]), %%ymm4\n vmovdqu 160(%[in]), %%ymm5\n vmovdqu 192(%[in]), %%ymm6\n vmovdqu 224(%[in]), %%ymm7\n"
               "mov %[n], %%rcx\n 1: dec %%rcx\n jnz 1b\n"
               "test %[y], %[y]\n jz 2f\n mov $24, %%eax\n syscall\n 2:\n" /* sched_yield */
               "vmovdqu %%ymm0, 0(%[o])\n vmovdqu %%ymm1, 32(%[o])\n vmovdqu %%ymm2, 64(%[o])\n vmovdqu %%ymm3, 96(%[o])\n"
               "vmovdqu %%ymm4, 128(%[o])\n vmovdqu %%ymm5, 160(%[o])\n vmovdqu %%ymm6, 192(%[o])\n vmovdqu %%ymm7, 224(%[o])\n"
               "vzeroupper\n"
               : : [in] "r"(in), [n] "r"(spins), [y] "r"((long)yield), [o] "r"(out)
               : "rax", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7");
  long bad = 0;
  for (int i = 0; i < 32; i++)
    if (out[i] != in[i]) { bad++; printf("YMM%d qword %d after %s: got %lx want %lx\n", i / 4, i % 4, yield ? "a yield" : "a spin", out[i], in[i]); }
  return bad;
}

static int execp(long n, char **argv) {
  long crashes = 0;
  for (long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) { execv(argv[0], argv); _exit(127); }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) { crashes++; printf("exec %ld: wait status %#x\n", i, st); }
  }
  printf("CHECK execp %s: %ld crashed of %ld\n", argv[0], crashes, n);
  return crashes != 0;
}

enum check { XMM_SWITCH, XMM_FAULT, YMM_SWITCH };
static const char *const check_name[] = { "xmm", "xmmpf", "ymm" };

/* PROCS processes each run ITERS rounds of one check; prints how many saw wrong values. */
static int registers(enum check check, int procs, long iters) {
  for (int p = 0; p < procs; p++) {
    if (fork() != 0) continue;
    long bad = 0;
    for (long i = 0; i < iters; i++) {
      unsigned long pat = 0x5a5a000000000000UL | ((unsigned long)p << 40) | ((unsigned long)i << 8);
      if (check == YMM_SWITCH) { bad += ymm_across_switch(pat, 3000000, i & 1); continue; }
      if (check == XMM_SWITCH) { bad += xmm_across_switch(pat, 3000000, i & 1); continue; }
      char *m = mmap(0, 32 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      for (int k = 0; k < 32; k++) bad += xmm_across_fault(pat + (k << 4), m + 4096 * k);
      munmap(m, 32 * 4096);
    }
    fflush(stdout);
    _exit(bad != 0);
  }
  int st, failed = 0;
  while (wait(&st) > 0) failed += !WIFEXITED(st) || WEXITSTATUS(st);
  printf("CHECK %s: %d of %d processes saw wrong %s values\n", check_name[check], failed, procs, check == YMM_SWITCH ? "YMM" : "XMM");
  return failed != 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IOLBF, 0);
  if (argc >= 4 && !strcmp(argv[1], "execp")) return execp(atol(argv[2]), argv + 3);
  if (argc == 4 && !strcmp(argv[1], "xmm")) return registers(XMM_SWITCH, atoi(argv[2]), atol(argv[3]));
  if (argc == 4 && !strcmp(argv[1], "xmmpf")) return registers(XMM_FAULT, atoi(argv[2]), atol(argv[3]));
  if (argc == 4 && !strcmp(argv[1], "ymm")) {
    if (!__builtin_cpu_supports("avx")) { printf("CHECK ymm: skipped, no AVX in this guest\n"); return 0; }
    return registers(YMM_SWITCH, atoi(argv[2]), atol(argv[3]));
  }
  fprintf(stderr, "usage: exec-check execp N PROG [ARGS...] | xmm PROCS ITERS | xmmpf PROCS ITERS | ymm PROCS ITERS\n");
  return 2;
}
