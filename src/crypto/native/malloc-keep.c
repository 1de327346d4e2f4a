/*
 * keepFreed(mmapThreshold, trimThreshold): glibc's malloc told to serve allocations below
 * mmapThreshold from its heap and to hand the heap's free top back to the kernel only beyond
 * trimThreshold (mallopt M_MMAP_THRESHOLD, M_TRIM_THRESHOLD; process-wide, every arena). True when
 * both were set; false where the C library is not glibc (nothing changed).
 *
 * Why: a node moving 1 MB blocks allocates a 1 MiB buffer or two per block (a socket's read pool, a
 * range's message, its sealed copy) and frees them a moment later. glibc's own thresholds follow
 * the largest chunk freed so far (the trim at 2× that), so the heap's top, once more than ~2 MiB of
 * it was free, went back to the kernel, and the next buffers faulted their pages in again, each
 * page zeroed by the kernel: tens of minor faults a block on either end, several microseconds each
 * on a hypervisor (docs/performance/pull.md, "Session 41: the 1 MB pull").
 */
/* __GLIBC__ comes with <features.h>, which openssl.c's <stdlib.h> included; other C libraries
 * (musl, macOS) have no mallopt thresholds, or no <malloc.h>. */
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value keep_freed (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS], out;
  uint32_t mmap_at = 0, trim_at = 0;
  if (!get_args(env, info, 2, argv)) return NULL;
  /* glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2 (32 MiB on 64-bit) and keeps the old one. */
  if (napi_get_value_uint32(env, argv[0], &mmap_at) != napi_ok || napi_get_value_uint32(env, argv[1], &trim_at) != napi_ok ||
      mmap_at < 128 * 1024 || mmap_at > 32u * 1024 * 1024 || trim_at < mmap_at || trim_at > 1024u * 1024 * 1024) {
    napi_throw_range_error(env, NULL, "bad malloc thresholds");
    return NULL;
  }
  bool ok = false;
#ifdef __GLIBC__
  ok = mallopt(M_MMAP_THRESHOLD, (int)mmap_at) == 1 && mallopt(M_TRIM_THRESHOLD, (int)trim_at) == 1;
#endif
  if (napi_get_boolean(env, ok, &out) != napi_ok) return NULL;
  return out;
}
