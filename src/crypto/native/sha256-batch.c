/*
 * SHA-256 of many pre-padded messages per call, for the manifest's Merkle leaves and interior
 * nodes (src/crypto/sha256-native.ts loads it; merkle-batch.ts uses it, the WebAssembly module
 * sha256-wasm.ts is the fallback and has the same two functions over the same layout).
 *
 * node:crypto costs ~1.4 µs per call, which at ~1 KB leaves eats SHA-NI's speed; here one call
 * hashes up to thousands of messages with the SHA-256 block function of the OpenSSL that Node
 * links and exports (it picks SHA-NI, AVX2 or plain code by CPUID itself). The messages are
 * already padded (padMessage), so each is one SHA256_Update over whole blocks and its digest is
 * the state words: no Final, no copy. On x86-64 with SHA-NI, four messages at a time with the
 * instructions themselves (sha256-ni.c, included below; `lanes` says which ran).
 *
 *   leaves(buf, in, n, out): n messages at buf[in…], each a little-endian u32 count of 64-byte
 *     blocks then those blocks; digest i (32 bytes) to buf[out + 32 i …].
 *   pairs(buf, in, n, out): for each of n 64-byte pairs of digests at buf[in…], SHA-256(0x01 ‖ pair)
 *     to buf[out + 32 i …]; out may equal in (pair i is read before digest i is written).
 *
 * buf is any Uint8Array (an ordinary Buffer or one over a WebAssembly memory). Every offset is
 * checked against it: a bad call throws a RangeError, it never reads or writes outside.
 *   accelerated: whether the CPU has SHA-256 instructions (below).
 * Context-aware (NAPI_MODULE_INIT): loaded by the main thread and by worker threads.
 */
#define NAPI_VERSION 8
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <node_api.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

#include "sha256-core.c"

/*
 * Whether the CPU has SHA-256 instructions (x86 SHA-NI, ARMv8 SHA2), which OpenSSL then uses.
 * Without them OpenSSL's software SHA-256 (AVX2 here) is slower than the WebAssembly four-lane one
 * (2.3 against 1.7 ms per 1,000 leaves of 1 KB, docs/performance.md), so the loader uses this
 * addon only when this is true.
 */
static bool sha_instructions (void)
{
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b >> 29) & 1;
#elif defined(__aarch64__) && defined(__linux__) && defined(HWCAP_SHA2)
  return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#elif defined(__aarch64__) && defined(__APPLE__)
  return true;
#else
  return false;
#endif
}

#define MAX_ARGS 4

/* buf, then three non-negative integer offsets/counts; NULL (an exception pending) on bad input. */
static uint8_t *args (napi_env env, napi_callback_info info, size_t *len, uint64_t v[3])
{
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) { napi_throw_type_error(env, NULL, "expected (buf, in, n, out)"); return NULL; }
  bool is_ta = false;
  napi_is_typedarray(env, argv[0], &is_ta);
  if (!is_ta) { napi_throw_type_error(env, NULL, "buf must be a Uint8Array"); return NULL; }
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_get_typedarray_info(env, argv[0], &type, len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "buf must be a Uint8Array");
    return NULL;
  }
  for (int i = 0; i < 3; i++) {
    double d;
    if (napi_get_value_double(env, argv[i + 1], &d) != napi_ok || !(d >= 0 && d <= 9007199254740991.0) || d != (double)(uint64_t)d) {
      napi_throw_range_error(env, NULL, "offsets and counts must be non-negative integers");
      return NULL;
    }
    v[i] = (uint64_t)d;
  }
  if (data == NULL && *len > 0) { napi_throw_error(env, NULL, "buf has no data"); return NULL; }
  /* An empty or detached buffer has no data pointer, and NULL here means "exception pending":
   * give it a pointer to nothing, so the bounds checks refuse n > 0 (a RangeError) instead of the
   * call returning without an exception and without a digest (stale digests taken for new ones). */
  static uint8_t none;
  return data == NULL ? &none : data;
}

static napi_value leaves (napi_env env, napi_callback_info info)
{
  size_t len;
  uint64_t v[3];
  uint8_t *buf = args(env, info, &len, v);
  if (buf == NULL) return NULL;
  uint64_t at = v[0], n = v[1], out = v[2];
  if (out > len || n > (len - out) / 32) { napi_throw_range_error(env, NULL, "digests past the end of buf"); return NULL; }
  /* Messages gathered (checked) for the next four at a time; hashed one by one when fewer remain. */
  const uint8_t *p[4];
  uint64_t blocks[4];
  uint8_t *o[4];
  int k = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (at > len || len - at < 4) break;
    const uint8_t *q = buf + at;
    uint64_t b = (uint64_t)q[0] | (uint64_t)q[1] << 8 | (uint64_t)q[2] << 16 | (uint64_t)q[3] << 24;
    if (b == 0 || b > (len - at - 4) / 64) break;
    p[k] = q + 4;
    blocks[k] = b;
    o[k] = buf + out + 32 * i;
    at += 4 + b * 64;
#ifdef PETAL_SHANI
    if (lanes == 4 && ++k == 4) { four_messages(p, blocks, o); k = 0; }
#else
    k++;
#endif
    if (lanes != 4) { one_message(p[0], blocks[0], o[0]); k = 0; }
    if (i + 1 == n) { for (int l = 0; l < k; l++) one_message(p[l], blocks[l], o[l]); return NULL; }
  }
  if (n == 0) return NULL;
  /* A message past the end: those before it are hashed, as one by one, and the call throws. */
  for (int l = 0; l < k; l++) one_message(p[l], blocks[l], o[l]);
  napi_throw_range_error(env, NULL, "message past the end of buf");
  return NULL;
}

static napi_value pairs (napi_env env, napi_callback_info info)
{
  size_t len;
  uint64_t v[3];
  uint8_t *buf = args(env, info, &len, v);
  if (buf == NULL) return NULL;
  uint64_t at = v[0], n = v[1], out = v[2];
  if (at > len || n > (len - at) / 64 || out > len || n > (len - out) / 32) { napi_throw_range_error(env, NULL, "pairs past the end of buf"); return NULL; }
  /* 0x01 ‖ 64 bytes = 65 bytes: two blocks, the second the pair's last byte, 0x80, zeros, 520 bits. */
  uint8_t m[128];
  memset(m, 0, sizeof m);
  m[0] = 0x01;
  m[65] = 0x80;
  m[126] = 0x02;
  m[127] = 0x08;
  uint64_t i = 0;
#ifdef PETAL_SHANI
  if (lanes == 4) {
    /* Four pairs read (copied into their messages) before their four digests are written. */
    uint8_t q[4][128];
    for (int l = 0; l < 4; l++) memcpy(q[l], m, sizeof m);
    const uint8_t *p[4] = { q[0], q[1], q[2], q[3] };
    const uint64_t two[4] = { 2, 2, 2, 2 };
    for (; i + 4 <= n; i += 4) {
      for (int l = 0; l < 4; l++) memcpy(q[l] + 1, buf + at + 64 * (i + l), 64);
      uint8_t *o[4] = { buf + out + 32 * i, buf + out + 32 * (i + 1), buf + out + 32 * (i + 2), buf + out + 32 * (i + 3) };
      four_messages(p, two, o);
    }
  }
#endif
  for (; i < n; i++) {
    memcpy(m + 1, buf + at + 64 * i, 64);
    one_message(m, 2, buf + out + 32 * i);
  }
  return NULL;
}

NAPI_MODULE_INIT ()
{
  napi_property_descriptor props[] = {
    { "leaves", NULL, leaves, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pairs", NULL, pairs, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  if (napi_define_properties(env, exports, 2, props) != napi_ok) return NULL;
  init_lanes();
  /* lanes: 4 when leaves and pairs hash four messages at a time (sha256-ni.c), else 1 (OpenSSL's one at a time). */
  napi_value nlanes;
  if (napi_create_int32(env, lanes, &nlanes) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "lanes", nlanes) != napi_ok) return NULL;
  napi_value accelerated;
  if (napi_get_boolean(env, sha_instructions(), &accelerated) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "accelerated", accelerated) != napi_ok) return NULL;
  return exports;
}
