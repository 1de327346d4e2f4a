/*
 * SHA-256 of four messages at once with the x86 SHA-256 instructions (SHA-NI), for
 * sha256-batch.c's leaves and pairs (included there: one translation unit). One message's rounds
 * are a chain of dependent sha256rnds2 instructions, which leaves the unit idle between them;
 * four independent chains interleaved keep it busy: on this project's VM (AMD EPYC, family 26)
 * 1,000 messages of 17 blocks took ~0.50 ms this way against ~0.70 ms through OpenSSL's block
 * function one message at a time (docs/performance/pull.md, "Session 52: the manifest's leaves
 * four at a time with SHA-NI (pull52)"). Eight lanes were no faster (the instructions use only
 * xmm0-15: the states and schedules no longer fit in registers). Compiled for these instructions
 * by function attribute, called only when the CPU has them (shani_usable) and the module's
 * self-test at load agreed with OpenSSL (sha256-batch.c).
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PETAL_SHANI 1
#include <immintrin.h>

/* FIPS 180-4's K and H(0), as src/crypto/sha256-constants.ts has them for TypeScript (C cannot import those). */
static const uint32_t SHANI_K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};
static const uint32_t SHANI_IV[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

#define SHANI_FN __attribute__((target("sha,sse4.1,ssse3")))
#define SHANI_LANES 4

/* Whether the CPU has SHA-NI, SSSE3 and SSE4.1 (all that the functions below use). */
static bool shani_usable (void)
{
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 9) & 1) || !((c >> 19) & 1)) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b >> 29) & 1;
}

/* The initial hash value as the instructions hold a state: words ABEF and CDGH. */
SHANI_FN static void shani_init (__m128i *s0, __m128i *s1)
{
  __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&SHANI_IV[0]), 0xB1);
  __m128i u = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&SHANI_IV[4]), 0x1B);
  *s0 = _mm_alignr_epi8(t, u, 8);
  *s1 = _mm_blend_epi16(u, t, 0xF0);
}

/* A state ABEF/CDGH as the eight words H0..H7 (SHA256_CTX's `h`). */
SHANI_FN static void shani_words (__m128i s0, __m128i s1, uint32_t h[8])
{
  __m128i t = _mm_shuffle_epi32(s0, 0x1B);
  s1 = _mm_shuffle_epi32(s1, 0xB1);
  _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, s1, 0xF0));
  _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(s1, t, 8));
}

/*
 * `blocks` 64-byte blocks of each of four messages, p[l] the next block of lane l, its state
 * s0[l]/s1[l] updated. The rounds of a group of four words: W = the block's words (byte-swapped)
 * for groups 0-3, else the schedule from the four groups before (sha256msg1/msg2).
 */
SHANI_FN static void shani_blocks4 (__m128i s0[SHANI_LANES], __m128i s1[SHANI_LANES], const uint8_t *const p[SHANI_LANES], uint64_t blocks)
{
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  for (uint64_t b = 0; b < blocks; b++) {
    __m128i a0[SHANI_LANES], c0[SHANI_LANES], w[SHANI_LANES][4];
    for (int l = 0; l < SHANI_LANES; l++) { a0[l] = s0[l]; c0[l] = s1[l]; }
    _Pragma("GCC unroll 16")
    for (int g = 0; g < 16; g++) {
      const __m128i k = _mm_loadu_si128((const __m128i *)&SHANI_K[4 * g]);
      _Pragma("GCC unroll 4")
      for (int l = 0; l < SHANI_LANES; l++) {
        __m128i x;
        if (g < 4) {
          x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p[l] + 64 * b + 16 * g)), bswap);
        } else {
          x = _mm_sha256msg1_epu32(w[l][g & 3], w[l][(g + 1) & 3]);
          x = _mm_add_epi32(x, _mm_alignr_epi8(w[l][(g + 3) & 3], w[l][(g + 2) & 3], 4));
          x = _mm_sha256msg2_epu32(x, w[l][(g + 3) & 3]);
        }
        w[l][g & 3] = x;
        __m128i t = _mm_add_epi32(x, k);
        s1[l] = _mm_sha256rnds2_epu32(s1[l], s0[l], t);
        s0[l] = _mm_sha256rnds2_epu32(s0[l], s1[l], _mm_shuffle_epi32(t, 0x0E));
      }
    }
    for (int l = 0; l < SHANI_LANES; l++) { s0[l] = _mm_add_epi32(s0[l], a0[l]); s1[l] = _mm_add_epi32(s1[l], c0[l]); }
  }
}

/*
 * Four padded messages of blocks[l] blocks at p[l]: their common blocks four at a time, the rest
 * of each longer one through OpenSSL from the state reached. Their words to h[l].
 */
SHANI_FN static void shani_four (const uint8_t *const p[SHANI_LANES], const uint64_t blocks[SHANI_LANES], uint32_t h[SHANI_LANES][8])
{
  uint64_t common = blocks[0];
  for (int l = 1; l < SHANI_LANES; l++) if (blocks[l] < common) common = blocks[l];
  __m128i s0[SHANI_LANES], s1[SHANI_LANES];
  for (int l = 0; l < SHANI_LANES; l++) shani_init(&s0[l], &s1[l]);
  shani_blocks4(s0, s1, p, common);
  for (int l = 0; l < SHANI_LANES; l++) {
    shani_words(s0[l], s1[l], h[l]);
    if (blocks[l] == common) continue;
    SHA256_CTX c;
    SHA256_Init(&c);
    memcpy(c.h, h[l], sizeof c.h);
    SHA256_Update(&c, p[l] + 64 * common, (blocks[l] - common) * 64);
    memcpy(h[l], c.h, sizeof c.h);
  }
}
#endif
