/*
 * The hashing core of sha256-batch.c (included there) and of the native row walker
 * (src/block/native/rows.c includes it too): OpenSSL's block function one padded message at a
 * time, and four at a time with SHA-NI (sha256-ni.c) once `lanes` is 4. The includer sets `lanes`
 * at its module's load (init_lanes). Needs <openssl/sha.h>, <stdbool.h>, <stdint.h>, <string.h>
 * and, on x86, <cpuid.h> included before.
 */
static void put_words (uint8_t *o, const uint32_t w[8])
{
  for (int k = 0; k < 8; k++) {
    uint32_t h = w[k];
    o[4 * k] = (uint8_t)(h >> 24);
    o[4 * k + 1] = (uint8_t)(h >> 16);
    o[4 * k + 2] = (uint8_t)(h >> 8);
    o[4 * k + 3] = (uint8_t)h;
  }
}

static void put_digest (uint8_t *o, const SHA256_CTX *c)
{
  put_words(o, c->h);
}

/* One padded message of `blocks` blocks at p through OpenSSL, its digest to o. */
static void one_message (const uint8_t *p, uint64_t blocks, uint8_t *o)
{
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, p, blocks * 64);
  put_digest(o, &c);
}

#include "sha256-ni.c"

/*
 * Whether leaves and pairs hash four messages at a time with SHA-NI (sha256-ni.c): the CPU has
 * the instructions and the self-test at load (lanes_agree) gave OpenSSL's digests. Set once, at
 * the first load of the module in the process (any thread); the same value in every thread.
 */
static int lanes = -1;

#ifdef PETAL_SHANI
/* `blocks[l]` blocks at p[l], four at a time; each digest to o[l]. */
static void four_messages (const uint8_t *const p[4], const uint64_t blocks[4], uint8_t *const o[4])
{
  uint32_t h[4][8];
  shani_four(p, blocks, h);
  for (int l = 0; l < 4; l++) put_words(o[l], h[l]);
}

/* Messages of 1-9 blocks, and one of 3 with one of 9 (the rest through OpenSSL), against OpenSSL one by one. */
static bool lanes_agree (void)
{
  uint8_t m[4 * 9 * 64];
  for (size_t i = 0; i < sizeof m; i++) m[i] = (uint8_t)(i * 167 + (i >> 7));
  for (uint64_t n = 1; n <= 9; n++) {
    const uint8_t *p[4] = { m, m + 9 * 64, m + 18 * 64, m + 27 * 64 };
    uint64_t blocks[4] = { n, n, n == 3 ? 9 : n, n };
    uint8_t got[4][32], want[32];
    uint8_t *o[4] = { got[0], got[1], got[2], got[3] };
    four_messages(p, blocks, o);
    for (int l = 0; l < 4; l++) {
      one_message(p[l], blocks[l], want);
      if (memcmp(want, got[l], 32) != 0) return false;
    }
  }
  return true;
}
#endif

/* Sets `lanes` once a process (any thread, any of the addons that include this file). */
static void init_lanes (void)
{
#ifdef PETAL_SHANI
  if (lanes < 0) lanes = shani_usable() && lanes_agree() ? 4 : 1;
#else
  if (lanes < 0) lanes = 1;
#endif
}
