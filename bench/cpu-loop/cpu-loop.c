/*
 * cpu-loop: a fixed amount of integer work, timed. The steadiness benchmark
 * runs it many times on the host and in the VM and compares the spread.
 * Pure user-mode arithmetic on registers: no system calls, no memory traffic
 * beyond the stack, so what varies is the machine, not the program.
 *
 *   cpu-loop [ITERATIONS]      prints "cpu-loop ns=<elapsed> iterations=<n> check=<x>"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEFAULT_ITERATIONS 60000000ULL

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  uint64_t iterations = DEFAULT_ITERATIONS;
  if (argc > 1) {
    char *end;
    iterations = strtoull(argv[1], &end, 10);
    if (*end || iterations == 0) {
      fprintf(stderr, "cpu-loop: ITERATIONS must be a positive whole number, not %s\n", argv[1]);
      return 2;
    }
  }
  uint64_t start = now_ns();
  /* xorshift64 feeding a multiply-accumulate: each step depends on the last, so it cannot be folded away. */
  uint64_t x = 88172645463325252ULL, acc = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    acc = acc * 6364136223846793005ULL + (x | 1);
  }
  uint64_t elapsed = now_ns() - start;
  /* Printing the result keeps the compiler from dropping the loop. */
  printf("cpu-loop ns=%llu iterations=%llu check=%016llx\n", (unsigned long long)elapsed, (unsigned long long)iterations, (unsigned long long)acc);
  return 0;
}
