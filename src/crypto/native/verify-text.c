/*
 * verify2Text for openssl.c (included by it, after verify2 and SHA-256: one translation unit).
 *
 *   verify2Text(key, m1, hex1, m2, hex2)  verify2's two verdicts (bit 0, bit 1) for the messages
 *                           m1, m2 (strings, hashed as UTF-8) and the signatures hex1, hex2 (lower-
 *                           case hex of strict low-S DER); -1, nothing counted, for anything else
 *                           (a message over MSG_MAX bytes, a signature that is not such hex or DER),
 *                           which the caller then judges its JavaScript way (src/crypto/ecdsa.ts).
 *
 * Plain verify checks a block's previous-hash signature and seal per block: in JavaScript that
 * was two hex decodings, two DER checks and copies to r ‖ s, two UTF-8 writes and two digests
 * around verify2, ~10 K instructions a block and a dozen functions that each verify worker's
 * optimising compiler compiled (docs/performance/verify.md, "Session 40: plain verify of small blocks").
 * Here the same steps, in the same order, give verify2 the same bytes.
 */

#define MSG_MAX 1024
#define SIG_HEX_MAX 144 /* 72 bytes: the longest DER of a P-256 signature */

/* The UTF-8 of string v into buf (cap bytes): its length, or -1 when it may not fit whole. A string
 * whose UTF-8 fills the buffer to within a character may have been cut, and is not taken. Throws
 * (returns -2) when v is not a string. napi_get_value_string_utf8 replaces a lone surrogate as
 * Buffer.from(s, 'utf8') does (V8's WriteUtf8 with REPLACE_INVALID_UTF8). */
static int utf8_of (napi_env env, napi_value v, char *buf, size_t cap)
{
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok) { napi_throw_type_error(env, NULL, "expected a string"); return -2; }
  return n + 4 >= cap ? -1 : (int)n;
}

/* One more than a lower-case hex digit's value, by byte; 0 for any other byte (a table: two loads a
 * byte pair, where comparisons cost ~11 instructions a digit). */
static const uint8_t HEX_DIGIT1[256] = {
  ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
  ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16 };

/* Lower-case hex of even length (fromHex's rule) into out: the byte count, or -1. */
static int unhex (const char *s, int n, uint8_t *out)
{
  if ((n & 1) != 0) return -1;
  const uint8_t *u = (const uint8_t *)s;
  for (int i = 0; i < n; i += 2) {
    int hi = HEX_DIGIT1[u[i]] - 1, lo = HEX_DIGIT1[u[i + 1]] - 1;
    if ((hi | lo) < 0) return -1;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  return n / 2;
}

/* n and n/2 of P-256, big-endian. */
static const uint8_t N_BE[32] = {
  0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51 };
static const uint8_t HALF_N_BE[32] = {
  0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8 };

/* derToP1363 of src/crypto/ecdsa.ts: r ‖ s into rs for strict DER (minimal, positive integers,
 * no trailing bytes) with 1 ≤ r < n and 1 ≤ s ≤ n/2 (isStrictLowS's rules, in its order); else false. */
static bool der_low_s (const uint8_t *der, int len, uint8_t *rs)
{
  if (len < 8 || len > 72 || der[0] != 0x30 || der[1] != len - 2) return false;
  memset(rs, 0, 64);
  int pos = 2;
  for (int k = 0; k < 2; k++) {
    if (pos + 2 > len || der[pos] != 0x02) return false;
    int n = der[pos + 1];
    if (n == 0 || n > 33 || pos + 2 + n > len) return false;
    const uint8_t *v = der + pos + 2;
    if ((v[0] & 0x80) != 0) return false;                          /* negative */
    if (n > 1 && v[0] == 0 && (v[1] & 0x80) == 0) return false;     /* not minimal */
    if (n == 33 && v[0] != 0) return false;                         /* at least 2^256 */
    if (n == 1 && v[0] == 0) return false;                          /* zero */
    int m = n == 33 ? 32 : n;
    if (m == 32) {
      int d = memcmp(v + n - 32, k == 0 ? N_BE : HALF_N_BE, 32);
      if (d > 0 || (k == 0 && d == 0)) return false;               /* r ≥ n, s > n/2 */
    }
    memcpy(rs + 32 * k + 32 - m, v + n - m, m);
    pos += 2 + n;
  }
  return pos == len;
}

static napi_value verify2_text (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 5, argv)) return NULL;
  EC_KEY *k = key_of(env, argv[0]);
  if (k == NULL) return NULL;
  char m1[MSG_MAX], m2[MSG_MAX], h1[SIG_HEX_MAX + 8], h2[SIG_HEX_MAX + 8];
  int n1 = utf8_of(env, argv[1], m1, sizeof m1), x1 = n1 == -2 ? -2 : utf8_of(env, argv[2], h1, sizeof h1);
  int n2 = x1 == -2 ? -2 : utf8_of(env, argv[3], m2, sizeof m2), x2 = n2 == -2 ? -2 : utf8_of(env, argv[4], h2, sizeof h2);
  if (n1 == -2 || x1 == -2 || n2 == -2 || x2 == -2) return NULL;
  int v = -1;
  uint8_t der1[SIG_HEX_MAX / 2], der2[SIG_HEX_MAX / 2], rs1[64], rs2[64], d1[32], d2[32];
  int l1 = n1 < 0 || x1 < 0 || x1 > SIG_HEX_MAX ? -1 : unhex(h1, x1, der1);
  int l2 = n2 < 0 || x2 < 0 || x2 > SIG_HEX_MAX ? -1 : unhex(h2, x2, der2);
  if (l1 >= 0 && l2 >= 0 && der_low_s(der1, l1, rs1) && der_low_s(der2, l2, rs2)) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, m1, (size_t)n1);
    SHA256_Final(d1, &c);
    SHA256_Init(&c);
    SHA256_Update(&c, m2, (size_t)n2);
    SHA256_Final(d2, &c);
    /* verify2's own steps (mode 0): two uses of the key, one inversion once it has a table. */
    const comb *t1 = table_for(k, 0), *t2 = table_for(k, 0);
    int v1 = 0, v2 = 0;
    if (t1 != NULL && t1 == t2) v = table_verify2(t1, d1, rs1, d2, rs2);
    else if ((v1 = verify_one(k, t1, d1, rs1)) != -1 && (v2 = verify_one(k, t2, d2, rs2)) != -1) v = v1 | v2 << 1;
    if (v == -1) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  }
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}
