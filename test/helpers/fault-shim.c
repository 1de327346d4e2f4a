/*
 * I/O fault injection for bench/crash-faults.ts and test/e2e/io-faults.test.ts (session 33). An
 * LD_PRELOAD library, compiled at run time with the system's `cc` (test/helpers/fault-shim.ts): never
 * committed as a binary. It makes the Nth call (counted over every process that shares the state
 * file: the CLI and the children it spawns) of one class of file operation on a path under one
 * directory fail with an errno; files elsewhere (Node's own, the bundles) are never touched.
 *
 *   PETAL_FAULT_DIR    absolute directory; only paths and descriptors under it count
 *   PETAL_FAULT_STATE  a file of >= 64 bytes shared by all processes: [0] calls counted, [1] faults injected
 *   PETAL_FAULT_OPS    comma list of classes: open (creating or writable opens), write (write, pwrite,
 *                      writev, pwritev, ftruncate, fallocate, copy_file_range, sendfile), fsync (fsync,
 *                      fdatasync, syncfs), rename (rename, renameat, renameat2); default all of these;
 *                      read (read, pread, readv, preadv, and the source of copy_file_range and
 *                      sendfile: session 34) only when named
 *   PETAL_FAULT_NTH    fail the Nth counted call (1-based); 0 or unset: count only
 *   PETAL_FAULT_STICKY 1: every counted call after the Nth fails too (a disk that stays full)
 *   PETAL_FAULT_ERRNO  EIO (default), ENOSPC, EDQUOT or EFBIG
 *   PETAL_FAULT_MATCH  only paths containing this substring count
 *   PETAL_FAULT_CALLER only calls made from the object of this base name count, as the log names
 *                      it: `node` (node:fs, libuv) or `better_sqlite3.node` (SQLite)
 *   PETAL_FAULT_LOG    file to which each injection appends "<pid> <op> <n> <caller object> <path>"
 *   PETAL_FAULT_ARM    1: count nothing until the state file's [2] is made non-zero (by the test,
 *                      once the process is up: faults in a running node's requests only)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 65536
enum { C_OPEN = 1, C_WRITE = 2, C_FSYNC = 4, C_RENAME = 8, C_READ = 16 };

static int ready;
static char dir[4096];
static size_t dirLen;
static const char *match;
static const char *callerMatch;
static int classes = C_OPEN | C_WRITE | C_FSYNC | C_RENAME;
static long nth;
static int sticky;
static int armed = 1;
static int faultErrno = EIO;
static int logFd = -1;
static volatile int64_t *state;
static unsigned char tracked[MAX_FD];
/* The return address of the intercepted call: its caller's object (node, better_sqlite3.node, sync) goes in the log. */
static __thread void *caller;
#define ENTER caller = __builtin_return_address(0);

#define REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__); if (real_##name == NULL) real_##name = dlsym(RTLD_NEXT, #name)

static void init (void) {
  if (ready) return;
  ready = 1;
  const char *d = getenv("PETAL_FAULT_DIR");
  const char *s = getenv("PETAL_FAULT_STATE");
  if (d == NULL || s == NULL || strlen(d) >= sizeof dir - 1) return;
  strcpy(dir, d);
  dirLen = strlen(dir);
  while (dirLen > 1 && dir[dirLen - 1] == '/') dir[--dirLen] = 0;
  match = getenv("PETAL_FAULT_MATCH");
  callerMatch = getenv("PETAL_FAULT_CALLER");
  const char *ops = getenv("PETAL_FAULT_OPS");
  if (ops != NULL && *ops != 0) {
    classes = 0;
    if (strstr(ops, "open")) classes |= C_OPEN;
    if (strstr(ops, "write")) classes |= C_WRITE;
    if (strstr(ops, "fsync")) classes |= C_FSYNC;
    if (strstr(ops, "rename")) classes |= C_RENAME;
    if (strstr(ops, "read")) classes |= C_READ;
  }
  const char *n = getenv("PETAL_FAULT_NTH");
  nth = n == NULL ? 0 : atol(n);
  const char *st = getenv("PETAL_FAULT_STICKY");
  sticky = st != NULL && strcmp(st, "1") == 0;
  const char *a = getenv("PETAL_FAULT_ARM");
  armed = !(a != NULL && strcmp(a, "1") == 0);
  const char *e = getenv("PETAL_FAULT_ERRNO");
  if (e != NULL && strcmp(e, "ENOSPC") == 0) faultErrno = ENOSPC;
  else if (e != NULL && strcmp(e, "EDQUOT") == 0) faultErrno = EDQUOT;
  else if (e != NULL && strcmp(e, "EFBIG") == 0) faultErrno = EFBIG;
  REAL(int, open, const char *, int, ...);
  int fd = real_open(s, O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  void *m = mmap(NULL, 64, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return;
  state = m;
  const char *l = getenv("PETAL_FAULT_LOG");
  if (l != NULL) logFd = real_open(l, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/** path (relative to dirfd, or absolute) made absolute into out; 0 when it cannot be. */
static int absolute (int dirfd, const char *path, char *out, size_t size) {
  if (path == NULL) return 0;
  if (path[0] == '/') { snprintf(out, size, "%s", path); return 1; }
  char base[4096];
  if (dirfd == AT_FDCWD) { if (getcwd(base, sizeof base) == NULL) return 0; }
  else {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, base, sizeof base - 1);
    if (n < 0) return 0;
    base[n] = 0;
  }
  snprintf(out, size, "%s/%s", base, path);
  return 1;
}

static int under (const char *abs) {
  if (state == NULL || strncmp(abs, dir, dirLen) != 0 || (abs[dirLen] != '/' && abs[dirLen] != 0)) return 0;
  return match == NULL || strstr(abs, match) != NULL;
}

static int pathUnder (int dirfd, const char *path) {
  char abs[8192];
  return absolute(dirfd, path, abs, sizeof abs) && under(abs);
}

/* A descriptor opened under the directory (and still naming a file there: one closed by a raw
 * system call and reused, by a socket say, is not). */
static int fdUnder (int fd) {
  if (fd < 0 || fd >= MAX_FD || !tracked[fd]) return 0;
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return 0;
  target[n] = 0;
  if (!under(target)) { tracked[fd] = 0; return 0; }
  return 1;
}

/** The base name of the object the intercepted call came from ("?" when unknown). */
static const char *callerObject (void) {
  Dl_info info;
  const char *obj = caller != NULL && dladdr(caller, &info) != 0 && info.dli_fname != NULL ? info.dli_fname : "?";
  const char *slash = strrchr(obj, '/');
  return slash == NULL ? obj : slash + 1;
}

/** Count a call of class c on `what`; 1 when it must fail (errno is set). */
static int inject (int c, const char *op, const char *what) {
  if (state == NULL || !(classes & c)) return 0;
  if (!armed && __atomic_load_n(&state[2], __ATOMIC_SEQ_CST) == 0) return 0;
  if (callerMatch != NULL && strcmp(callerObject(), callerMatch) != 0) return 0;
  int64_t n = __atomic_add_fetch(&state[0], 1, __ATOMIC_SEQ_CST);
  if (nth <= 0 || (n != nth && !(sticky && n > nth))) return 0;
  __atomic_add_fetch(&state[1], 1, __ATOMIC_SEQ_CST);
  if (logFd >= 0) {
    char line[4400];
    int len = snprintf(line, sizeof line, "%d %s %lld %s %s\n", (int)getpid(), op, (long long)n, callerObject(), what);
    REAL(ssize_t, write, int, const void *, size_t);
    if (len > 0) real_write(logFd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
  }
  errno = faultErrno;
  return 1;
}

static int injectFd (int c, const char *op, int fd) {
  init();
  if (!fdUnder(fd)) return 0;
  char link[64], target[4096] = "?";
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n >= 0) target[n] = 0;
  return inject(c, op, target);
}

static void track (int fd, int dirfd, const char *path) {
  if (fd >= 0 && fd < MAX_FD) tracked[fd] = pathUnder(dirfd, path);
}

static int openCommon (int dirfd, const char *path, int flags, mode_t mode, const char *op) {
  init();
  if ((flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) && pathUnder(dirfd, path)) {
    char abs[8192];
    absolute(dirfd, path, abs, sizeof abs);
    if (inject(C_OPEN, op, abs)) return -1;
  }
  REAL(int, openat, int, const char *, int, ...);
  int fd = real_openat(dirfd, path, flags, mode);
  track(fd, dirfd, path);
  return fd;
}

#define MODE_ARG mode_t mode = 0; if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
int open (const char *path, int flags, ...) { ENTER MODE_ARG return openCommon(AT_FDCWD, path, flags, mode, "open"); }
int open64 (const char *path, int flags, ...) { ENTER MODE_ARG return openCommon(AT_FDCWD, path, flags, mode, "open"); }
int openat (int dirfd, const char *path, int flags, ...) { ENTER MODE_ARG return openCommon(dirfd, path, flags, mode, "openat"); }
int openat64 (int dirfd, const char *path, int flags, ...) { ENTER MODE_ARG return openCommon(dirfd, path, flags, mode, "openat"); }
int __open_2 (const char *path, int flags) { ENTER return openCommon(AT_FDCWD, path, flags, 0, "open"); }
int __open64_2 (const char *path, int flags) { ENTER return openCommon(AT_FDCWD, path, flags, 0, "open"); }
int __openat_2 (int dirfd, const char *path, int flags) { ENTER return openCommon(dirfd, path, flags, 0, "openat"); }
int __openat64_2 (int dirfd, const char *path, int flags) { ENTER return openCommon(dirfd, path, flags, 0, "openat"); }
int creat (const char *path, mode_t mode) { ENTER return openCommon(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, "creat"); }
int creat64 (const char *path, mode_t mode) { ENTER return openCommon(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, "creat"); }

int close (int fd) {
  if (fd >= 0 && fd < MAX_FD) tracked[fd] = 0;
  REAL(int, close, int);
  return real_close(fd);
}

ssize_t write (int fd, const void *buf, size_t n) {
  ENTER
  if (injectFd(C_WRITE, "write", fd)) return -1;
  REAL(ssize_t, write, int, const void *, size_t);
  return real_write(fd, buf, n);
}
ssize_t pwrite (int fd, const void *buf, size_t n, off_t off) {
  ENTER
  if (injectFd(C_WRITE, "pwrite", fd)) return -1;
  REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
  return real_pwrite(fd, buf, n, off);
}
ssize_t pwrite64 (int fd, const void *buf, size_t n, off_t off) {
  ENTER
  if (injectFd(C_WRITE, "pwrite", fd)) return -1;
  REAL(ssize_t, pwrite64, int, const void *, size_t, off_t);
  return real_pwrite64(fd, buf, n, off);
}
ssize_t writev (int fd, const struct iovec *iov, int cnt) {
  ENTER
  if (injectFd(C_WRITE, "writev", fd)) return -1;
  REAL(ssize_t, writev, int, const struct iovec *, int);
  return real_writev(fd, iov, cnt);
}
ssize_t pwritev (int fd, const struct iovec *iov, int cnt, off_t off) {
  ENTER
  if (injectFd(C_WRITE, "pwritev", fd)) return -1;
  REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
  return real_pwritev(fd, iov, cnt, off);
}
ssize_t pwritev64 (int fd, const struct iovec *iov, int cnt, off_t off) {
  ENTER
  if (injectFd(C_WRITE, "pwritev", fd)) return -1;
  REAL(ssize_t, pwritev64, int, const struct iovec *, int, off_t);
  return real_pwritev64(fd, iov, cnt, off);
}
ssize_t pwritev2 (int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
  ENTER
  if (injectFd(C_WRITE, "pwritev", fd)) return -1;
  REAL(ssize_t, pwritev2, int, const struct iovec *, int, off_t, int);
  return real_pwritev2(fd, iov, cnt, off, flags);
}
int ftruncate (int fd, off_t len) {
  ENTER
  if (injectFd(C_WRITE, "ftruncate", fd)) return -1;
  REAL(int, ftruncate, int, off_t);
  return real_ftruncate(fd, len);
}
int ftruncate64 (int fd, off_t len) {
  ENTER
  if (injectFd(C_WRITE, "ftruncate", fd)) return -1;
  REAL(int, ftruncate64, int, off_t);
  return real_ftruncate64(fd, len);
}
int fallocate (int fd, int mode, off_t off, off_t len) {
  ENTER
  if (injectFd(C_WRITE, "fallocate", fd)) return -1;
  REAL(int, fallocate, int, int, off_t, off_t);
  return real_fallocate(fd, mode, off, len);
}
int posix_fallocate (int fd, off_t off, off_t len) {
  ENTER
  if (injectFd(C_WRITE, "fallocate", fd)) return errno;
  REAL(int, posix_fallocate, int, off_t, off_t);
  return real_posix_fallocate(fd, off, len);
}
ssize_t copy_file_range (int in, loff_t *inOff, int out, loff_t *outOff, size_t n, unsigned flags) {
  ENTER
  if (injectFd(C_WRITE, "copy_file_range", out) || injectFd(C_READ, "copy_file_range", in)) return -1;
  REAL(ssize_t, copy_file_range, int, loff_t *, int, loff_t *, size_t, unsigned);
  return real_copy_file_range(in, inOff, out, outOff, n, flags);
}
ssize_t sendfile (int out, int in, off_t *off, size_t n) {
  ENTER
  if (injectFd(C_WRITE, "sendfile", out) || injectFd(C_READ, "sendfile", in)) return -1;
  REAL(ssize_t, sendfile, int, int, off_t *, size_t);
  return real_sendfile(out, in, off, n);
}
ssize_t sendfile64 (int out, int in, off_t *off, size_t n) {
  ENTER
  if (injectFd(C_WRITE, "sendfile", out) || injectFd(C_READ, "sendfile", in)) return -1;
  REAL(ssize_t, sendfile64, int, int, off_t *, size_t);
  return real_sendfile64(out, in, off, n);
}

ssize_t read (int fd, void *buf, size_t n) {
  ENTER
  if (injectFd(C_READ, "read", fd)) return -1;
  REAL(ssize_t, read, int, void *, size_t);
  return real_read(fd, buf, n);
}
ssize_t pread (int fd, void *buf, size_t n, off_t off) {
  ENTER
  if (injectFd(C_READ, "pread", fd)) return -1;
  REAL(ssize_t, pread, int, void *, size_t, off_t);
  return real_pread(fd, buf, n, off);
}
ssize_t pread64 (int fd, void *buf, size_t n, off_t off) {
  ENTER
  if (injectFd(C_READ, "pread", fd)) return -1;
  REAL(ssize_t, pread64, int, void *, size_t, off_t);
  return real_pread64(fd, buf, n, off);
}
ssize_t readv (int fd, const struct iovec *iov, int cnt) {
  ENTER
  if (injectFd(C_READ, "readv", fd)) return -1;
  REAL(ssize_t, readv, int, const struct iovec *, int);
  return real_readv(fd, iov, cnt);
}
ssize_t preadv (int fd, const struct iovec *iov, int cnt, off_t off) {
  ENTER
  if (injectFd(C_READ, "preadv", fd)) return -1;
  REAL(ssize_t, preadv, int, const struct iovec *, int, off_t);
  return real_preadv(fd, iov, cnt, off);
}
ssize_t preadv64 (int fd, const struct iovec *iov, int cnt, off_t off) {
  ENTER
  if (injectFd(C_READ, "preadv", fd)) return -1;
  REAL(ssize_t, preadv64, int, const struct iovec *, int, off_t);
  return real_preadv64(fd, iov, cnt, off);
}
ssize_t preadv2 (int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
  ENTER
  if (injectFd(C_READ, "preadv", fd)) return -1;
  REAL(ssize_t, preadv2, int, const struct iovec *, int, off_t, int);
  return real_preadv2(fd, iov, cnt, off, flags);
}

int fsync (int fd) {
  ENTER
  if (injectFd(C_FSYNC, "fsync", fd)) return -1;
  REAL(int, fsync, int);
  return real_fsync(fd);
}
int fdatasync (int fd) {
  ENTER
  if (injectFd(C_FSYNC, "fdatasync", fd)) return -1;
  REAL(int, fdatasync, int);
  return real_fdatasync(fd);
}
int syncfs (int fd) {
  ENTER
  if (injectFd(C_FSYNC, "syncfs", fd)) return -1;
  REAL(int, syncfs, int);
  return real_syncfs(fd);
}

static int renameCommon (int od, const char *oldp, int nd, const char *newp, const char *op) {
  init();
  if (pathUnder(od, oldp) || pathUnder(nd, newp)) {
    char abs[8192];
    absolute(nd, newp, abs, sizeof abs);
    if (inject(C_RENAME, op, abs)) return 1;
  }
  return 0;
}
int rename (const char *oldp, const char *newp) {
  ENTER
  if (renameCommon(AT_FDCWD, oldp, AT_FDCWD, newp, "rename")) return -1;
  REAL(int, rename, const char *, const char *);
  return real_rename(oldp, newp);
}
int renameat (int od, const char *oldp, int nd, const char *newp) {
  ENTER
  if (renameCommon(od, oldp, nd, newp, "renameat")) return -1;
  REAL(int, renameat, int, const char *, int, const char *);
  return real_renameat(od, oldp, nd, newp);
}
int renameat2 (int od, const char *oldp, int nd, const char *newp, unsigned flags) {
  ENTER
  if (renameCommon(od, oldp, nd, newp, "renameat2")) return -1;
  REAL(int, renameat2, int, const char *, int, const char *, unsigned);
  return real_renameat2(od, oldp, nd, newp, flags);
}
