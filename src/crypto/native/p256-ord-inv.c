/*
 * s⁻¹ in the order's Montgomery form (s⁻¹·2^256 mod n), 0 < s < n, P-256's group order n
 * (included by p256-table.c, after limbs, nz, ORDER and ORDER_RR). Fermat on OpenSSL's order
 * multiplication (s^(n−2): 256 squarings, ~167 multiplications) cost ~96 K instructions of a
 * ~345 K verification; this binary extended Euclidean algorithm without division by 2 mod n
 * (Kaliski's "almost Montgomery inverse") ~26 K (docs/performance/verify.md, "Session 27: plain verify").
 * Variable time: s is a signature's, public.
 *
 * From (u, v) = (s, n), the greater of two odd values loses the smaller, then its factors of 2.
 * With x1 = 1, x2 = 0, k = 0 at the start, each step keeps
 *   x1·s ≡ u·2^k,  x2·s ≡ −v·2^k (mod n),  u·x2 + v·x1 = n,
 * where u −= v takes x1 += x2 (v −= u: x2 += x1), and u /= 2^t takes k += t, x2 ·= 2^t (v /= 2^t:
 * x1 ·= 2^t). The third keeps x1, x2 ≤ n in four limbs; u·v, from s·n < 2^512 down to at
 * least 1, halves or more with each unit of k, so k < 512. gcd(s, n) = 1 ends it at u = 1
 * (s⁻¹ = x1·2^−k) or v = 1 (s⁻¹ = (n − x2)·2^−k), and one or two Montgomery multiplications by a
 * power of 2 turn 2^−k into 2^256.
 */

#define INLINE static inline __attribute__((always_inline))

INLINE bool is_one (const limbs a) { return a[0] == 1 && (a[1] | a[2] | a[3]) == 0; }

/* a > b */
INLINE bool greater (const limbs a, const limbs b)
{
  if (a[3] != b[3]) return a[3] > b[3];
  if (a[2] != b[2]) return a[2] > b[2];
  if (a[1] != b[1]) return a[1] > b[1];
  return a[0] > b[0];
}

/* a += b (no carry out: the sums here stay below n). */
INLINE void add_in (limbs a, const limbs b)
{
  unsigned __int128 c = (unsigned __int128)a[0] + b[0];
  a[0] = (uint64_t)c;
  c = (c >> 64) + a[1] + b[1];
  a[1] = (uint64_t)c;
  c = (c >> 64) + a[2] + b[2];
  a[2] = (uint64_t)c;
  a[3] += b[3] + (uint64_t)(c >> 64);
}

/* a −= b, for a ≥ b. */
INLINE void sub_in (limbs a, const limbs b)
{
  unsigned __int128 d = (unsigned __int128)a[0] - b[0];
  a[0] = (uint64_t)d;
  d = (unsigned __int128)a[1] - b[1] - (uint64_t)((d >> 64) & 1);
  a[1] = (uint64_t)d;
  d = (unsigned __int128)a[2] - b[2] - (uint64_t)((d >> 64) & 1);
  a[2] = (uint64_t)d;
  a[3] = a[3] - b[3] - (uint64_t)((d >> 64) & 1);
}

/* u's factors of 2 (u ≠ 0) out of u and into x (x·2^t stays ≤ n); their count added to k. */
INLINE void make_odd (limbs u, limbs x, unsigned *k)
{
  while ((u[0] & 1) == 0) {
    unsigned t = u[0] == 0 ? 63 : (unsigned)__builtin_ctzll(u[0]);
    u[0] = (u[0] >> t) | (u[1] << (64 - t));
    u[1] = (u[1] >> t) | (u[2] << (64 - t));
    u[2] = (u[2] >> t) | (u[3] << (64 - t));
    u[3] >>= t;
    x[3] = (x[3] << t) | (x[2] >> (64 - t));
    x[2] = (x[2] << t) | (x[1] >> (64 - t));
    x[1] = (x[1] << t) | (x[0] >> (64 - t));
    x[0] <<= t;
    *k += t;
  }
}

static void ord_inverse_mont (limbs out, const limbs s)
{
  limbs u, v, x1 = { 1, 0, 0, 0 }, x2 = { 0, 0, 0, 0 }, y, c = { 0, 0, 0, 0 };
  unsigned k = 0;
  memcpy(u, s, sizeof u);
  memcpy(v, ORDER, sizeof v);
  make_odd(u, x2, &k);
  while (!is_one(u) && !is_one(v)) {
    if (greater(u, v)) { sub_in(u, v); add_in(x1, x2); make_odd(u, x2, &k); }
    else { sub_in(v, u); add_in(x2, x1); make_odd(v, x1, &k); }
  }
  if (is_one(u)) memcpy(y, x1, sizeof y);
  else { memcpy(y, ORDER, sizeof y); sub_in(y, x2); }
  /* y·2^−k·2^256 = ord_mul(y, 2^(512−k)) for k > 256; else ord_mul(ord_mul(y, 2^512), 2^(256−k)). */
  if (k <= 256) { nz.ord_mul(y, y, ORDER_RR); k += 256; }
  if (k == 256) { memcpy(c, ORDER, sizeof c); c[0] = ~c[0] + 1; c[1] = ~c[1]; c[2] = ~c[2]; c[3] = ~c[3]; } /* 2^256 − n */
  else c[(512 - k) / 64] = 1ULL << ((512 - k) % 64);
  nz.ord_mul(out, y, c);
}
