/*
 * readSmall(path, buf) for openssl.c (included by it, after its argument helpers: one translation
 * unit): a small regular file read whole into buf in one call, for plain verify's workers, which
 * read a block file and its seal per block (docs/performance/verify.md, "Session 29: plain verify"). Through
 * node:fs that is an open, two reads (the second proving the end) and a close per file, each a trip
 * through Node's argument checks, its file-request wrapper and its trace-category lookup, and each
 * of those JavaScript functions compiled by TurboFan in every worker.
 *
 * The file is opened as storage/data-file.ts's openNoFollowSync does (O_NOFOLLOW: a symbolic link
 * fails; O_NONBLOCK: a named pipe never blocks the open), then kept only if fstat says it is a
 * regular file of 1 to buf.length - 1 bytes, which it is then read whole, by position, as the
 * fstat way of the JavaScript path reads it (readFullySync of the size). Anything else (a missing
 * file, a link, a pipe, a directory, an empty or too large file, a failed call, a path that is too
 * long or holds a NUL) returns -1 with nothing left open, and the caller takes its node:fs way,
 * which then decides with the error it always gave. The result is the number of bytes read, 0 < n <
 * buf.length, or -1.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_SMALL_PATH_MAX 4096

static long read_small_file (const char *path, uint8_t *buf, size_t cap)
{
  int fd;
  do fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC); while (fd == -1 && errno == EINTR);
  if (fd == -1) return -1;
  struct stat st;
  long got = -1;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (unsigned long long)st.st_size < cap) {
    size_t size = (size_t)st.st_size, at = 0;
    while (at < size) {
      ssize_t n = pread(fd, buf + at, size - at, (off_t)at);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1) { at = 0; break; }
      if (n == 0) break; /* shorter than fstat said: it ended here */
      at += (size_t)n;
    }
    got = at > 0 ? (long)at : -1;
  }
  close(fd);
  return got;
}

static napi_value read_small (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 2, argv)) return NULL;
  char path[READ_SMALL_PATH_MAX];
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a path");
    return NULL;
  }
  size_t cap;
  uint8_t *buf = (uint8_t *)bytes(env, argv[1], 0, &cap);
  if (buf == NULL) return NULL;
  /* A path that may have been cut short, or that holds a NUL (which node:fs refuses), is never
   * opened here: the caller's node:fs way gives its error. The copy stops before a character that
   * does not fit whole (up to 4 bytes in UTF-8), so a cut path is at least sizeof path - 4 bytes
   * long, not sizeof path - 1: a 4,094-byte path and a 3-byte character came back as the 4,094
   * bytes, the name of another file (review30). */
  long got = plen == 0 || plen >= sizeof path - 4 || strlen(path) != plen ? -1 : read_small_file(path, buf, cap);
  napi_value out;
  if (napi_create_int64(env, got, &out) != napi_ok) return NULL;
  return out;
}
