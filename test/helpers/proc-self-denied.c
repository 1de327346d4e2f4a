/*
 * A refusal of /proc/self, as an LSM's policy (AppArmor, SELinux) gives one, for procIsOwn's test
 * (session 46): an LD_PRELOAD library, compiled at run time (test/helpers/proc-self-denied.ts),
 * never committed as a binary. readlink of /proc/self and of /proc/self/ns/... fails with
 * PETAL_DENY_ERRNO (EACCES, the default, or EPERM); every other path is read as usual.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int denied (int dirfd, const char *path) {
  if (path == NULL || (path[0] != '/' && dirfd != AT_FDCWD)) return 0;
  if (strcmp(path, "/proc/self") != 0 && strncmp(path, "/proc/self/ns/", 14) != 0) return 0;
  const char *e = getenv("PETAL_DENY_ERRNO");
  errno = e != NULL && strcmp(e, "EPERM") == 0 ? EPERM : EACCES;
  return 1;
}

ssize_t readlink (const char *path, char *buf, size_t n) {
  static ssize_t (*real)(const char *, char *, size_t);
  if (denied(AT_FDCWD, path)) return -1;
  if (real == NULL) real = dlsym(RTLD_NEXT, "readlink");
  return real(path, buf, n);
}

ssize_t readlinkat (int dirfd, const char *path, char *buf, size_t n) {
  static ssize_t (*real)(int, const char *, char *, size_t);
  if (denied(dirfd, path)) return -1;
  if (real == NULL) real = dlsym(RTLD_NEXT, "readlinkat");
  return real(dirfd, path, buf, n);
}
