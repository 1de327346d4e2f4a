/*
 * renameNoReplace(from, to) and writeSmall(path, text) for openssl.c (included by it, after its
 * argument helpers: one translation unit), for the placement of a catch-up's groups, which moves
 * two files and writes one seal file per block (docs/performance/catchup.md, "Session 30: catch-up").
 * Through node:fs a move that replaces nothing is an existsSync of the destination (an `access`
 * call) and a renameSync, and a seal file is writeFileSync's open, write and close, each a trip
 * through Node's argument checks and its file-request wrapper.
 *
 * renameNoReplace is one renameat2(RENAME_NOREPLACE): the file moves only if nothing is at `to`,
 * in one atomic step where storage/block-files.ts's renameBlock looked first and renamed after.
 * 0: moved; 1: something is at `to` (nothing moved); 2: ENOENT (nothing at `from`, or `to`'s
 * directory missing: nothing moved, which renameBlock's rename also passes over); -1 for anything
 * else (renameat2 or the flag not supported by the kernel or the file system, another error, a
 * path too long or holding a NUL): nothing moved, and the caller takes its node:fs way, which then
 * gives the error it always gave.
 *
 * writeSmall creates or truncates `path` (mode 0666 less the umask, as writeFileSync) and writes
 * the text's UTF-8 bytes (at most WRITE_SMALL_MAX): 0, or -1 for any failure or a text too long, and
 * the caller writes the file again the node:fs way (the same bytes; a failure there is its error).
 *
 * writeNew(path, parts, size) creates `path`, which must not exist (O_EXCL, mode 0644 less the
 * umask, as util/fs.ts's writeNewFileSync), and writes the parts (Uint8Arrays, `size` bytes in
 * all) with writev: a range receive's small block, one a block on the pulling main thread
 * (docs/performance/catchup.md, "Session 31: catch-up"). 0: written and closed. -1: nothing is left at
 * `path` by this call (arguments it does not take, a path that may be cut, an open that failed,
 * or a write or close that failed, after which the file it created is removed), and the caller
 * takes its node:fs way, which gives the error it always gave.
 *
 * syncfs(dir, callback) queues syncfs(2) of the file system holding `dir` on libuv's thread pool
 * (the directory opened, syncfs, closed there) and calls back with 0 or the errno (the open's or
 * syncfs's): a group's placement, which ran coreutils' `sync -f` through a helper shell, one
 * fork and exec a group (~3 ms of CPU on the benches' VM; docs/performance/catchup.md, "Session 39:
 * catch-up"). Returns 0 when queued, -1 when not (a path it does not take, no memory): the
 * callback is then never called and the caller takes its other way.
 */
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#define PLACE_PATH_MAX 4096
#define WRITE_SMALL_MAX 1024
#define WRITE_NEW_PARTS 16

/*
 * A path argument in buf: false (nothing thrown) when it may have been cut short or holds a NUL.
 * The copy stops before a character that does not fit whole (up to 4 bytes in UTF-8), so a cut
 * path is at least cap - 4 bytes long, not cap - 1: anything that long is left to node:fs
 * (read-small.c's rule, review30; a cut path names another file).
 */
static bool place_path (napi_env env, napi_value v, char *buf, size_t cap)
{
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return false;
  return len > 0 && len < cap - 4 && strlen(buf) == len;
}

static int rename_no_replace_paths (const char *from, const char *to)
{
#ifdef SYS_renameat2
  long r;
  do r = syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE); while (r == -1 && errno == EINTR);
  if (r == 0) return 0;
  if (errno == EEXIST) return 1;
  if (errno == ENOENT) return 2;
#endif
  return -1;
}

static napi_value rename_no_replace (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 2, argv)) return NULL;
  char from[PLACE_PATH_MAX], to[PLACE_PATH_MAX];
  int got = place_path(env, argv[0], from, sizeof from) && place_path(env, argv[1], to, sizeof to) ? rename_no_replace_paths(from, to) : -1;
  napi_value out;
  if (napi_create_int32(env, got, &out) != napi_ok) return NULL;
  return out;
}

static int write_small_file (const char *path, const char *text, size_t len)
{
  int fd;
  do fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666); while (fd == -1 && errno == EINTR);
  if (fd == -1) return -1;
  size_t at = 0;
  while (at < len) {
    ssize_t n = write(fd, text + at, len - at);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) break;
    at += (size_t)n;
  }
  return close(fd) == 0 && at == len ? 0 : -1;
}

static napi_value write_small (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 2, argv)) return NULL;
  /* Room for WRITE_SMALL_MAX + 4 bytes: a text longer than WRITE_SMALL_MAX comes back longer than
   * it even when the copy stops before a multi-byte character, so it is never written cut short. */
  char path[PLACE_PATH_MAX], text[WRITE_SMALL_MAX + 5];
  size_t len = 0;
  int got = -1;
  if (place_path(env, argv[0], path, sizeof path) && napi_get_value_string_utf8(env, argv[1], text, sizeof text, &len) == napi_ok && len <= WRITE_SMALL_MAX) {
    got = write_small_file(path, text, len);
  }
  napi_value out;
  if (napi_create_int32(env, got, &out) != napi_ok) return NULL;
  return out;
}

/* The parts of writeNew as iovecs: false when `v` is not an array of at most WRITE_NEW_PARTS
 * Uint8Arrays of `size` bytes in all. */
static bool write_new_parts (napi_env env, napi_value v, int64_t size, struct iovec *iov, uint32_t *n)
{
  bool array = false;
  if (napi_is_array(env, v, &array) != napi_ok || !array || napi_get_array_length(env, v, n) != napi_ok || *n > WRITE_NEW_PARTS) return false;
  int64_t total = 0;
  for (uint32_t i = 0; i < *n; i++) {
    napi_value e;
    bool typed = false;
    napi_typedarray_type type;
    size_t len = 0;
    void *data = NULL;
    if (napi_get_element(env, v, i, &e) != napi_ok || napi_is_typedarray(env, e, &typed) != napi_ok || !typed ||
        napi_get_typedarray_info(env, e, &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) return false;
    iov[i].iov_base = len == 0 ? (void *)"" : data;
    iov[i].iov_len = len;
    total += (int64_t)len;
  }
  return total == size;
}

static int write_new_file (const char *path, struct iovec *iov, uint32_t n)
{
  int fd;
  do fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, 0644); while (fd == -1 && errno == EINTR);
  if (fd == -1) return -1;
  bool ok = true;
  uint32_t at = 0;
  while (ok && at < n) {
    ssize_t w = writev(fd, iov + at, (int)(n - at));
    if (w == -1 && errno == EINTR) continue;
    if (w <= 0) { ok = false; break; }
    /* Past the parts written whole, into the one written in part. */
    size_t left = (size_t)w;
    while (at < n && left >= iov[at].iov_len) left -= iov[at++].iov_len;
    if (left > 0) { iov[at].iov_base = (char *)iov[at].iov_base + left; iov[at].iov_len -= left; }
  }
  if (close(fd) != 0) ok = false;
  if (ok) return 0;
  unlink(path);
  return -1;
}

static napi_value write_new (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 3, argv)) return NULL;
  char path[PLACE_PATH_MAX];
  struct iovec iov[WRITE_NEW_PARTS];
  uint32_t n = 0;
  int64_t size = -1;
  int got = -1;
  if (place_path(env, argv[0], path, sizeof path) && napi_get_value_int64(env, argv[2], &size) == napi_ok && size >= 0 &&
      write_new_parts(env, argv[1], size, iov, &n)) got = write_new_file(path, iov, n);
  napi_value out;
  if (napi_create_int32(env, got, &out) != napi_ok) return NULL;
  return out;
}

typedef struct {
  napi_async_work work;
  napi_ref callback;
  int err;
  char path[PLACE_PATH_MAX];
} syncfs_request;

/* On a thread of libuv's pool: no napi call here. */
static void syncfs_execute (napi_env env, void *data)
{
  (void)env;
  syncfs_request *r = data;
  int fd;
  do fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC); while (fd == -1 && errno == EINTR);
  if (fd == -1) { r->err = errno; return; }
  r->err = syncfs(fd) == 0 ? 0 : errno;
  close(fd);
}

static void syncfs_complete (napi_env env, napi_status status, void *data)
{
  syncfs_request *r = data;
  napi_value callback, recv, arg;
  /* A work cancelled (never the case: nothing cancels it) is reported as an errno of -1. */
  if (napi_get_reference_value(env, r->callback, &callback) == napi_ok && napi_get_undefined(env, &recv) == napi_ok &&
      napi_create_int32(env, status == napi_ok ? r->err : -1, &arg) == napi_ok) napi_call_function(env, recv, callback, 1, &arg, NULL);
  napi_delete_reference(env, r->callback);
  napi_delete_async_work(env, r->work);
  free(r);
}

static napi_value syncfs_async (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 2, argv)) return NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) { napi_throw_type_error(env, NULL, "a callback is wanted"); return NULL; }
  int got = -1;
  syncfs_request *r = calloc(1, sizeof *r);
  napi_value name;
  if (r != NULL && place_path(env, argv[0], r->path, sizeof r->path) && napi_create_string_utf8(env, "petal.syncfs", NAPI_AUTO_LENGTH, &name) == napi_ok &&
      napi_create_reference(env, argv[1], 1, &r->callback) == napi_ok) {
    if (napi_create_async_work(env, NULL, name, syncfs_execute, syncfs_complete, r, &r->work) == napi_ok) {
      if (napi_queue_async_work(env, r->work) == napi_ok) got = 0;
      else napi_delete_async_work(env, r->work);
    }
    if (got != 0) napi_delete_reference(env, r->callback);
  }
  if (got != 0) free(r);
  napi_value out;
  if (napi_create_int32(env, got, &out) != napi_ok) return NULL;
  return out;
}
