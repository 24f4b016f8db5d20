#define _GNU_SOURCE
#include "cpus.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// One CPU number: decimal digits only (no sign, no spaces), below CPU_SETSIZE.
static int cpu_number(const char **p, long *out) {
  const char *s = *p;
  if (*s < '0' || *s > '9') return -1;
  long n = 0;
  while (*s >= '0' && *s <= '9') {
    n = n * 10 + (*s++ - '0');
    if (n >= CPU_SETSIZE) return -1;
  }
  *p = s;
  *out = n;
  return 0;
}

int cpulist_parse(const char *text, cpu_set_t *set) {
  CPU_ZERO(set);
  const char *p = text;
  for (;;) {
    long low, high;
    if (cpu_number(&p, &low) < 0) return -1;
    high = low;
    if (*p == '-') {
      p++;
      if (cpu_number(&p, &high) < 0 || high < low) return -1;
    }
    for (long cpu = low; cpu <= high; cpu++) CPU_SET(cpu, set);
    if (*p == 0) return 0;
    if (*p++ != ',') return -1;
  }
}

void cpulist_format(const cpu_set_t *set, char *out, size_t size) {
  size_t used = 0;
  out[0] = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, set)) continue;
    int last = cpu;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) last++;
    int n = last == cpu ? snprintf(out + used, size - used, "%s%d", used ? "," : "", cpu)
                        : snprintf(out + used, size - used, "%s%d-%d", used ? "," : "", cpu, last);
    if (n < 0 || (size_t)n >= size - used) return;  // truncated: enough for a diagnostic
    used += n;
    cpu = last;
  }
}

int cpulist_test(const char *text) {
  cpu_set_t set;
  if (cpulist_parse(text, &set) < 0) {
    fprintf(stderr, "bencher-init: CPU list %s: expected numbers and ranges such as 1 or 1-3,5\n", text);
    return 2;
  }
  char out[256];
  cpulist_format(&set, out, sizeof out);
  printf("%s\n", out);
  return 0;
}
