#define _GNU_SOURCE
#include "user.h"
#include "util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DB_FILE (4u << 20)

// Parses a decimal id; only digits, at most 2^32-2 (-1 means "no change").
static int parse_id(const char *s, size_t len, uint32_t *out) {
  if (len == 0 || len > 10) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v > 0xfffffffeu) return -1;
  *out = (uint32_t)v;
  return 0;
}

// Splits one line of a colon-separated database into at most max fields.
static size_t split(char *line, char **fields, size_t max) {
  size_t n = 0;
  fields[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == ':') *p = 0, fields[n++] = p + 1;
  return n;
}

// Calls each(line fields) for each line of a database file; stops when it returns 1.
static void each_line(char *text, size_t nfields, int (*each)(char **f, size_t n, void *ctx), void *ctx) {
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#' || line[0] == '+' || line[0] == '-') continue;
    char *f[8];
    size_t n = split(line, f, nfields);
    if (n < nfields) continue;
    if (each(f, n, ctx)) return;
  }
}

struct passwd_query {
  const char *name;       // match by name, or
  int by_uid;
  uint32_t uid;           // match by uid
  int found;
  char name_out[256];
  uint32_t uid_out, gid_out;
  char home[256];
};

static int passwd_match(char **f, size_t n, void *ctx) {
  (void)n;
  struct passwd_query *q = ctx;
  uint32_t uid, gid;
  if (parse_id(f[2], strlen(f[2]), &uid) || parse_id(f[3], strlen(f[3]), &gid)) return 0;
  if (q->by_uid ? uid != q->uid : strcmp(f[0], q->name) != 0) return 0;
  q->found = 1;
  q->uid_out = uid, q->gid_out = gid;
  snprintf(q->name_out, sizeof q->name_out, "%s", f[0]);
  snprintf(q->home, sizeof q->home, "%s", f[5]);
  return 1;
}

struct group_query {
  const char *group;      // find this group's gid, or
  const char *member;     // collect groups listing this member
  int found;
  uint32_t gid;
  struct run_user *user;
};

static int group_match(char **f, size_t n, void *ctx) {
  (void)n;
  struct group_query *q = ctx;
  uint32_t gid;
  if (parse_id(f[2], strlen(f[2]), &gid)) return 0;
  if (q->group) {
    if (strcmp(f[0], q->group)) return 0;
    q->found = 1, q->gid = gid;
    return 1;
  }
  char *save = NULL;
  for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
    if (strcmp(m, q->member)) continue;
    struct run_user *u = q->user;
    int seen = 0;
    for (size_t i = 0; i < u->ngroups; i++) seen |= u->groups[i] == gid;
    if (!seen && u->ngroups < MAX_GROUPS) u->groups[u->ngroups++] = gid;
  }
  return 0;
}

int resolve_user(int root_fd, const char *spec, struct run_user *out, char *error, size_t size) {
  memset(out, 0, sizeof *out);
  snprintf(out->home, sizeof out->home, "/");
  const char *colon = strchr(spec, ':');
  size_t user_len = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *group = colon ? colon + 1 : NULL;
  if (colon && !*group) {
    snprintf(error, size, "user %.64s: empty group after ':'", spec);
    return -1;
  }
  char user[256];
  if (user_len >= sizeof user) {
    snprintf(error, size, "user %.64s...: name too long", spec);
    return -1;
  }
  memcpy(user, spec, user_len);
  user[user_len] = 0;

  size_t len;
  char *passwd = read_file_in_root(root_fd, "/etc/passwd", MAX_DB_FILE, &len);
  struct passwd_query pq = {.name = user};
  uint32_t id;
  if (user_len == 0) pq.by_uid = 1, pq.uid = 0;           // "" and ":group" mean root
  else if (parse_id(user, user_len, &id) == 0) pq.by_uid = 1, pq.uid = id;
  if (passwd) each_line(passwd, 7, passwd_match, &pq);
  free(passwd);
  if (pq.found) {
    out->uid = pq.uid_out, out->gid = pq.gid_out;
    snprintf(out->home, sizeof out->home, "%s", pq.home[0] ? pq.home : "/");
  } else if (pq.by_uid) {
    out->uid = pq.uid, out->gid = 0;  // a numeric uid need not exist in the image
  } else {
    snprintf(error, size, "user %.64s: no such user in the image's /etc/passwd", user);
    return -1;
  }

  char *groups = read_file_in_root(root_fd, "/etc/group", MAX_DB_FILE, &len);
  if (group) {
    if (parse_id(group, strlen(group), &id) == 0) {
      out->gid = id;
    } else {
      struct group_query gq = {.group = group};
      if (groups) each_line(groups, 4, group_match, &gq);
      if (!gq.found) {
        snprintf(error, size, "group %.64s: no such group in the image's /etc/group", group);
        free(groups);
        return -1;
      }
      out->gid = gq.gid;
    }
  }
  out->groups[out->ngroups++] = out->gid;
  if (!group && pq.found && groups) {  // as Docker: groups naming the user, unless a group was given
    struct group_query gq = {.member = pq.name_out, .user = out};
    each_line(groups, 4, group_match, &gq);
  }
  free(groups);
  return 0;
}
