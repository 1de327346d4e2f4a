/*
 * tmpForeign(dir, prefix) and makeEmpty(paths, callback) for openssl.c (included by it, after
 * place-files.c, whose place_path it uses): the data directory's tmp/ during a catch-up, which
 * holds ~500-700 files of the pulling process at a time (its downloads, their seals, the files
 * made ahead for the range receives; docs/performance/catchup.md, "Session 41: catch-up").
 *
 * tmpForeign lists the names in `dir` that do not start with `prefix` (the caller's own,
 * "<pid>-n<pid namespace>-"), without "." and "..": storage/block-files.ts's cleanTmp, run by every
 * write transaction (a group's placement), read tmp/ through readdirSync, which made a string of
 * every name, its own included, to pass over nearly all of them. Returns the array of names; the
 * errno (a positive number) of the open or the listing that failed (on Linux, getdents64 into 64
 * KiB: tmp_list below); or -1 for a path or prefix it does not take. On a number the caller takes
 * its node:fs way, which gives the errors it always gave.
 *
 * makeEmpty(paths, callback) creates each path (O_EXCL, mode 0644 less the umask, closed at once:
 * an empty file nothing wrote) on libuv's thread pool, one after another, stopping at the first
 * that fails, and calls back with the number made (the first that many paths; none of the others
 * was made by it) and the errno of the one that failed (0: none failed; -1: the work never ran).
 * storage/tmp-files.ts's pool made each file by its own node:fs open, each a request, a callback
 * and a close on the main thread. Returns 0 when queued, -1 when not (paths it does not take, no
 * memory): the callback is then never called and the caller takes its node:fs way.
 */
#include <dirent.h>
#ifdef __linux__
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define MAKE_EMPTY_MAX 64
#define TMP_PREFIX_MAX 64

/* Appends `name` to `out` unless it is "." or "..", or starts with the caller's prefix; false on a napi failure. */
static bool tmp_push (napi_env env, napi_value out, uint32_t *n, const char *name, const char *prefix, size_t plen)
{
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strncmp(name, prefix, plen) == 0) return true;
  napi_value s;
  return napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &s) == napi_ok && napi_set_element(env, out, (*n)++, s) == napi_ok;
}

#ifdef __linux__
/* The kernel's record of getdents64(2). The listing reads into 64 KiB on the stack: ~1,100 of the
 * names made since session 42 (33 bytes: "<pid>-n<pid namespace>-<random>.db") in one call, where
 * readdir's 32 KiB buffer took two for a catch-up's ~600 (and the end of the listing a third). */
struct tmp_dirent64 { uint64_t d_ino; int64_t d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; };
#define TMP_LIST_BYTES 65536

/* The listing through getdents64: 0, or the errno of the call that failed; -2 on a napi failure. */
static int tmp_list (napi_env env, int fd, napi_value out, const char *prefix, size_t plen)
{
  char buf[TMP_LIST_BYTES] __attribute__((aligned(8)));
  uint32_t n = 0;
  for (;;) {
    long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (got == -1 && errno == EINTR) continue;
    if (got < 0) return errno > 0 ? errno : -1;
    if (got == 0) return 0;
    for (long off = 0; off < got;) {
      const struct tmp_dirent64 *e = (const struct tmp_dirent64 *)(buf + off);
      if (e->d_reclen == 0) return EIO; /* never from the kernel; not a loop for ever */
      off += e->d_reclen;
      if (!tmp_push(env, out, &n, e->d_name, prefix, plen)) return -2;
    }
  }
}
#endif

static napi_value tmp_foreign (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 2, argv)) return NULL;
  char dir[PLACE_PATH_MAX], prefix[TMP_PREFIX_MAX];
  size_t plen = 0;
  napi_value out;
  if (!place_path(env, argv[0], dir, sizeof dir) || napi_get_value_string_utf8(env, argv[1], prefix, sizeof prefix, &plen) != napi_ok ||
      plen == 0 || plen >= sizeof prefix - 4 || strlen(prefix) != plen) {
    return napi_create_int32(env, -1, &out) == napi_ok ? out : NULL;
  }
#ifdef __linux__
  int fd;
  do fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); while (fd == -1 && errno == EINTR);
  if (fd == -1) {
    int e = errno > 0 ? errno : -1;
    return napi_create_int32(env, e, &out) == napi_ok ? out : NULL;
  }
  if (napi_create_array(env, &out) != napi_ok) { close(fd); return NULL; }
  int err = tmp_list(env, fd, out, prefix, plen);
  close(fd);
  if (err == -2) return NULL;
#else
  DIR *d;
  do d = opendir(dir); while (d == NULL && errno == EINTR);
  if (d == NULL) {
    int e = errno > 0 ? errno : -1;
    return napi_create_int32(env, e, &out) == napi_ok ? out : NULL;
  }
  if (napi_create_array(env, &out) != napi_ok) { closedir(d); return NULL; }
  uint32_t n = 0;
  int err = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (e == NULL) { err = errno; break; }
    if (!tmp_push(env, out, &n, e->d_name, prefix, plen)) { closedir(d); return NULL; }
  }
  closedir(d);
#endif
  if (err != 0 && napi_create_int32(env, err, &out) != napi_ok) return NULL;
  return out;
}

typedef struct {
  napi_async_work work;
  napi_ref callback;
  uint32_t n, made;
  int err;
  char *paths[MAKE_EMPTY_MAX];
} make_request;

static void make_free (make_request *r)
{
  for (uint32_t i = 0; i < r->n; i++) free(r->paths[i]);
  free(r);
}

/* On a thread of libuv's pool: no napi call here. */
static void make_execute (napi_env env, void *data)
{
  (void)env;
  make_request *r = data;
  for (; r->made < r->n; r->made++) {
    int fd;
    do fd = open(r->paths[r->made], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644); while (fd == -1 && errno == EINTR);
    if (fd == -1) { r->err = errno > 0 ? errno : -1; return; }
    close(fd);
  }
}

static void make_complete (napi_env env, napi_status status, void *data)
{
  make_request *r = data;
  napi_value callback, recv, args[2];
  bool ran = status == napi_ok;
  if (napi_get_reference_value(env, r->callback, &callback) == napi_ok && napi_get_undefined(env, &recv) == napi_ok &&
      napi_create_uint32(env, ran ? r->made : 0, &args[0]) == napi_ok && napi_create_int32(env, ran ? r->err : -1, &args[1]) == napi_ok) {
    napi_call_function(env, recv, callback, 2, args, NULL);
  }
  napi_delete_reference(env, r->callback);
  napi_delete_async_work(env, r->work);
  make_free(r);
}

/* The paths of makeEmpty, each copied: false when `v` is not an array of 1 to MAKE_EMPTY_MAX paths place_path takes. */
static bool make_paths (napi_env env, napi_value v, make_request *r)
{
  bool array = false;
  uint32_t n = 0;
  if (napi_is_array(env, v, &array) != napi_ok || !array || napi_get_array_length(env, v, &n) != napi_ok || n == 0 || n > MAKE_EMPTY_MAX) return false;
  char path[PLACE_PATH_MAX];
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || !place_path(env, e, path, sizeof path)) return false;
    if ((r->paths[i] = strdup(path)) == NULL) return false;
    r->n = i + 1;
  }
  return true;
}

static napi_value make_empty_async (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 2, argv)) return NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) { napi_throw_type_error(env, NULL, "a callback is wanted"); return NULL; }
  int got = -1;
  make_request *r = calloc(1, sizeof *r);
  napi_value name;
  if (r != NULL && make_paths(env, argv[0], r) && napi_create_string_utf8(env, "petal.makeEmpty", NAPI_AUTO_LENGTH, &name) == napi_ok &&
      napi_create_reference(env, argv[1], 1, &r->callback) == napi_ok) {
    if (napi_create_async_work(env, NULL, name, make_execute, make_complete, r, &r->work) == napi_ok) {
      if (napi_queue_async_work(env, r->work) == napi_ok) got = 0;
      else napi_delete_async_work(env, r->work);
    }
    if (got != 0) napi_delete_reference(env, r->callback);
  }
  if (got != 0 && r != NULL) make_free(r);
  napi_value out;
  if (napi_create_int32(env, got, &out) != napi_ok) return NULL;
  return out;
}
