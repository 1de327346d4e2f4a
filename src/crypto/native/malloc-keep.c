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

/*
 * hugeHeap(pad): the heap's free top and whatever it grows into marked MADV_HUGEPAGE, so that the
 * kernel backs it with 2 MiB pages: one fault for 512 of the 4 KiB pages that each trapped to the
 * hypervisor (~6-12 µs a fault on this VM; glibc's own `glibc.malloc.hugetlb=1` tunable does the
 * same at each growth, but only from the environment at start-up). A pad > 0 (once) sets
 * M_TOP_PAD, so the heap grows and is trimmed in steps of that much, and grows it now by one such
 * step when its top is smaller than half of it; pad 0 marks only what the heap has grown into since
 * the last call (a sbrk(0) and, when it moved, one madvise). Returns the bytes newly marked (0:
 * nothing new), or -1 where this is not glibc on Linux or the kernel has no transparent huge pages
 * (nothing changed then but, with glibc, the pad). Main arena only: threads' arenas are left as they are.
 */
#if defined(__GLIBC__) && defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif
#define HUGE_BYTES ((uintptr_t)2 * 1024 * 1024)
static uintptr_t huge_to = 0; /* the heap below this is marked (0: nothing yet) */
static bool huge_off = false;

static napi_value huge_heap (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS], out;
  uint32_t pad = 0;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_uint32(env, argv[0], &pad) != napi_ok || pad > 256u * 1024 * 1024) {
    napi_throw_range_error(env, NULL, "bad heap pad");
    return NULL;
  }
  double marked = -1;
#if defined(__GLIBC__) && defined(__linux__) && defined(MADV_HUGEPAGE)
  if (!huge_off) {
    if (pad > 0) {
      mallopt(M_TOP_PAD, (int)pad);
      struct mallinfo2 mi = mallinfo2();
      /* A request larger than the top (and below the mmap threshold keepFreed set) makes glibc grow
       * the heap by it plus the pad; freed at once, it is the top again. */
      if (mi.keepcost < pad / 2 && mi.keepcost + 65536 < 4u * 1024 * 1024) { void *volatile grow = malloc(mi.keepcost + 65536); free(grow); }
    }
    uintptr_t brk = (uintptr_t)sbrk(0);
    uintptr_t end = brk & ~(HUGE_BYTES - 1);
    /* Trimmed below what was marked: what grows back is a new mapping, unmarked. */
    if (huge_to > end) huge_to = end;
    /* The first time, from the start of the heap's free top (mallinfo2 passes over every arena:
     * once, not at each call). */
    uintptr_t from = huge_to;
    if (from == 0) from = ((brk - mallinfo2().keepcost) + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
    marked = 0;
    if (end > from) {
      if (madvise((void *)from, end - from, MADV_HUGEPAGE) == 0) { marked = (double)(end - from); huge_to = end; }
      else { huge_off = true; marked = -1; }
    }
  }
#endif
  if (napi_create_double(env, marked, &out) != napi_ok) return NULL;
  return out;
}
