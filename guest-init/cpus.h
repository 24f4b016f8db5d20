// The CPUs the workload runs on: `bencher.cpus=LIST` on the kernel command
// line (the VMM's quiet-CPU option puts it there, with nohz_full= for the
// same CPUs), or `--cpus LIST` in a host test.
#ifndef GUEST_INIT_CPUS_H
#define GUEST_INIT_CPUS_H
#include <sched.h>  // cpu_set_t (the including file defines _GNU_SOURCE)

// Parses a CPU list as the kernel writes them ("1", "1-3", "0,2-3"): CPU
// numbers below CPU_SETSIZE (128 with musl; the VMM allows 64 vCPUs),
// ranges low-high, no spaces, not empty.
// 0 and the set filled in, or -1 when text is not such a list.
int cpulist_parse(const char *text, cpu_set_t *set);

// Writes the set as a CPU list ("1-3,5") into out; "" for an empty set.
void cpulist_format(const cpu_set_t *set, char *out, size_t size);

// `init --cpulist-test LIST`: prints the list as parsed (for tests); 2 if it is not one.
int cpulist_test(const char *text);

#endif
