/*
 * P-256 ECDSA verification with a precomputed table per public key (included by openssl.c).
 *
 * OpenSSL verifies u1·G + u2·Q with a table only for G: u2·Q costs 255 doublings and ~67 additions
 * (~0.6 M of a verification's ~0.83 M instructions; docs/performance/catchup.md, "Session 26: catch-up").
 * A chain's blocks are signed by a few keys, so a key verified often gets a table of its own
 * (j·2^(8i)·Q for i < 32, 1 ≤ j < 256, affine: 522 KB) and u2·Q becomes at most 32 mixed
 * additions; G gets the same kind of table, once per process, with the first key's. Windows of 8
 * bits, not 6 (session 26's 43 × 63 points): 168 K instructions a verification against 213 K,
 * ~29 M to build a table against ~11 M (docs/performance/verify.md, "Session 27: plain verify"). The
 * field and point arithmetic is OpenSSL's own ecp_nistz256 assembly, which Node's binary exports;
 * looked up with dlsym, so a Node without it (another architecture, a shared OpenSSL) keeps
 * ECDSA_do_verify.
 *
 * The verdict is OpenSSL's: 1 ≤ r, s < n, u1 = e·s⁻¹, u2 = r·s⁻¹ (mod n), R = u1·G + u2·Q, valid
 * iff R is not the point at infinity and x(R) mod n = r. No exceptional addition can occur inside
 * a comb: after window i the sum is k·P with 0 ≤ k < 2^(8i), and the point added is j·2^(8i)·P
 * with k + j·2^(8i) ≤ u < n, so the two are never equal nor opposite. u1·G = ±u2·Q, the one
 * exceptional final addition, is found and handled (doubling, or infinity) here, not in assembly.
 * Public data only: no constant-time requirement.
 */
#include <dlfcn.h>
#include <pthread.h>

#define W 8
#define WINDOWS 32 /* ⌈256 / 8⌉ */
#define PER (1 << W)
#define TABLE_USES 64 /* verifications of one key before it gets a table: ~29 M instructions to build, ~0.6 M saved a verification */
#define MAX_TABLES 32 /* live key tables in the process (16.7 MB); a colder key's may pass to a hotter one (p256-cache.c) */

typedef uint64_t limbs[4]; /* little-endian, Montgomery form (x·2^256 mod p) */
typedef struct { limbs X, Y, Z; } jpoint;
typedef struct { limbs X, Y; } apoint;
typedef struct { apoint p[WINDOWS][PER - 1]; } comb; /* p[i][j-1] = j·2^(8i)·P */

static struct {
  void (*mul)(limbs, const limbs, const limbs);
  void (*sqr)(limbs, const limbs);
  void (*to_mont)(limbs, const limbs);
  void (*from_mont)(limbs, const limbs);
  void (*dbl)(jpoint *, const jpoint *);
  void (*add)(jpoint *, const jpoint *, const jpoint *);
  void (*add_affine)(jpoint *, const jpoint *, const apoint *);
  void (*ord_mul)(limbs, const limbs, const limbs);
} nz;
static bool nz_ok;
static comb *g_comb; /* G's table: made with the first key's (g_init), NULL until then or if it failed */
static pthread_once_t nz_once = PTHREAD_ONCE_INIT, g_once = PTHREAD_ONCE_INIT;

static const limbs ONE = { 1, 0, 0, 0 };
/* p − 2, the exponent of a field inverse. */
static const limbs P_MINUS_2 = { 0xfffffffffffffffdULL, 0x00000000ffffffffULL, 0, 0xffffffff00000001ULL };

static void inv_mont (limbs out, const limbs a)
{
  limbs r;
  nz.to_mont(r, ONE);
  for (int i = 255; i >= 0; i--) {
    nz.sqr(r, r);
    if ((P_MINUS_2[i / 64] >> (i % 64)) & 1) nz.mul(r, r, a);
  }
  memcpy(out, r, sizeof r);
}

static bool same (const limbs a, const limbs b) { return memcmp(a, b, sizeof(limbs)) == 0; }

/* The table of the point (x, y) (affine, Montgomery form): per window, the multiples in Jacobian
 * form, then all made affine with one inversion (Montgomery's trick). NULL when out of memory. */
static comb *comb_new (const limbs x, const limbs y)
{
  enum { N = WINDOWS * (PER - 1) };
  comb *c = aligned_alloc(64, sizeof *c); /* a point per cache line */
  jpoint *j = malloc(N * sizeof *j);
  limbs *acc = malloc(N * sizeof *acc);
  if (c == NULL || j == NULL || acc == NULL) { free(c); free(j); free(acc); return NULL; }
  jpoint base;
  memcpy(base.X, x, sizeof(limbs));
  memcpy(base.Y, y, sizeof(limbs));
  nz.to_mont(base.Z, ONE);
  for (int i = 0; i < WINDOWS; i++) {
    jpoint *t = j + i * (PER - 1);
    t[0] = base;
    nz.dbl(&t[1], &base); /* 2·B: the addition's assembly is not asked to double */
    for (int k = 2; k < PER - 1; k++) nz.add(&t[k], &t[k - 1], &base); /* (k+1)·B, never ±B */
    nz.dbl(&base, &t[PER / 2 - 1]); /* 2^W·B */
  }
  /* acc[k] = Z0·…·Zk; then walking back, each Zk⁻¹ from the running inverse. No Z is 0:
   * j·2^(8i) is never a multiple of the prime n. */
  memcpy(acc[0], j[0].Z, sizeof(limbs));
  for (int k = 1; k < N; k++) nz.mul(acc[k], acc[k - 1], j[k].Z);
  limbs inv, zi, zi2;
  inv_mont(inv, acc[N - 1]);
  for (int k = N - 1; k >= 0; k--) {
    if (k > 0) { nz.mul(zi, inv, acc[k - 1]); nz.mul(inv, inv, j[k].Z); } else memcpy(zi, inv, sizeof zi);
    apoint *a = &c->p[k / (PER - 1)][k % (PER - 1)];
    nz.sqr(zi2, zi);
    nz.mul(a->X, j[k].X, zi2);
    nz.mul(zi2, zi2, zi);
    nz.mul(a->Y, j[k].Y, zi2);
  }
  free(j);
  free(acc);
  return c;
}

/* The bytes of a BIGNUM below 2^256 as limbs (BN_bn2lebinpad: little-endian bytes, x86-64's order). */
static bool to_limbs (limbs out, const BIGNUM *bn)
{
  uint8_t b[32];
  if (BN_bn2lebinpad(bn, b, 32) != 32) return false;
  memcpy(out, b, 32);
  return true;
}

/* The table of an EC_POINT's multiples, or NULL. */
static comb *comb_of_point (const EC_GROUP *g, const EC_POINT *pt)
{
  BIGNUM *x = BN_new(), *y = BN_new();
  limbs lx, ly;
  comb *c = NULL;
  if (x != NULL && y != NULL && EC_POINT_get_affine_coordinates(g, pt, x, y, NULL) == 1 && to_limbs(lx, x) && to_limbs(ly, y)) {
    nz.to_mont(lx, lx);
    nz.to_mont(ly, ly);
    c = comb_new(lx, ly);
  }
  BN_free(x);
  BN_free(y);
  return c;
}

/* OpenSSL's nistz256 functions, looked up in the process (Node's binary exports them). */
static void nz_init (void)
{
#if defined(__x86_64__)
  void **f = (void **)&nz;
  static const char *names[] = { "ecp_nistz256_mul_mont", "ecp_nistz256_sqr_mont", "ecp_nistz256_to_mont", "ecp_nistz256_from_mont",
                                 "ecp_nistz256_point_double", "ecp_nistz256_point_add", "ecp_nistz256_point_add_affine",
                                 "ecp_nistz256_ord_mul_mont" };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) if ((f[i] = dlsym(RTLD_DEFAULT, names[i])) == NULL) return;
  nz_ok = true;
#endif
}

/* u·P from P's table; false when u·P is the point at infinity (u = 0). u: limbs, u < n. */
static bool comb_mul (jpoint *r, const comb *c, const limbs u)
{
  bool inf = true;
  for (int i = 0; i < WINDOWS; i++) {
    int bit = i * W, lo = bit % 64;
    uint64_t v = u[bit / 64] >> lo;
    if (lo > 64 - W && bit / 64 < 3) v |= u[bit / 64 + 1] << (64 - lo);
    unsigned d = (unsigned)(v & (PER - 1));
    if (d == 0) continue;
    const apoint *a = &c->p[i][d - 1];
    if (inf) { memcpy(r->X, a->X, sizeof(limbs)); memcpy(r->Y, a->Y, sizeof(limbs)); nz.to_mont(r->Z, ONE); inf = false; }
    else nz.add_affine(r, r, a);
  }
  return !inf;
}

/* a + b, both finite; false when the sum is the point at infinity (b = −a). */
static bool add_checked (jpoint *r, const jpoint *a, const jpoint *b)
{
  limbs z1z1, z2z2, u1, u2, s1, s2;
  nz.sqr(z1z1, a->Z);
  nz.sqr(z2z2, b->Z);
  nz.mul(u1, a->X, z2z2);
  nz.mul(u2, b->X, z1z1);
  if (!same(u1, u2)) { nz.add(r, a, b); return true; }
  nz.mul(s1, a->Y, z2z2);
  nz.mul(s1, s1, b->Z);
  nz.mul(s2, b->Y, z1z1);
  nz.mul(s2, s2, a->Z);
  if (!same(s1, s2)) return false;
  nz.dbl(r, a);
  return true;
}

static bool table_verify (const comb *q, const uint8_t *digest, const uint8_t *rs);

/* A signature under the key d = 1 (Q = G) of SHA-256("petal p256-table self-test"), checked by
 * OpenSSL and @noble/curves. */
static const uint8_t KAT_DIGEST[32] = {
  0x3a, 0xef, 0xf3, 0xbb, 0x15, 0x20, 0x69, 0xcb, 0xf1, 0xc5, 0xca, 0x3c, 0xac, 0x30, 0x9e, 0x8d,
  0xca, 0x3b, 0x61, 0xee, 0x6c, 0x43, 0x32, 0x3c, 0x67, 0xd9, 0xe2, 0xa7, 0xd5, 0x81, 0x3b, 0xda };
static const uint8_t KAT_RS[64] = {
  0xc5, 0xe6, 0x81, 0x58, 0x72, 0x66, 0x81, 0x19, 0xeb, 0xc9, 0x53, 0x8c, 0x4b, 0x13, 0x68, 0x5c,
  0x44, 0x80, 0xcb, 0xcd, 0xfb, 0x6e, 0xd7, 0x3a, 0xc0, 0xfe, 0x98, 0x56, 0xea, 0xbc, 0x9e, 0x1e,
  0x3a, 0x2c, 0xe3, 0x72, 0x2a, 0x91, 0x06, 0x8f, 0xcd, 0xd8, 0xec, 0xe0, 0xe5, 0xe6, 0xab, 0x41,
  0x6b, 0xfa, 0xb9, 0xdf, 0x75, 0x78, 0x80, 0xa2, 0x38, 0x3a, 0xd1, 0xc4, 0x50, 0x51, 0x0b, 0x83 };

/* G's table, made when the first key's is (not at a process's first verification: ~29 M
 * instructions with 8-bit windows, where ECDSA_do_verify costs ~0.85 M a signature). Kept only if
 * it passes a known answer, valid and tampered, through the table path: arithmetic that is not
 * OpenSSL's as this file expects it (another build of the functions looked up) leaves every key on
 * ECDSA_do_verify. */
static void g_init (void)
{
  EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  comb *c = g == NULL ? NULL : comb_of_point(g, EC_GROUP_get0_generator(g));
  EC_GROUP_free(g);
  if (c == NULL) { ERR_clear_error(); return; }
  __atomic_store_n(&g_comb, c, __ATOMIC_RELEASE); /* table_verify reads it; other threads see it after pthread_once */
  uint8_t tampered[32];
  memcpy(tampered, KAT_DIGEST, 32);
  tampered[31] ^= 1;
  if (!table_verify(c, KAT_DIGEST, KAT_RS) || table_verify(c, tampered, KAT_RS)) { __atomic_store_n(&g_comb, NULL, __ATOMIC_RELEASE); free(c); }
}

#include "p256-cache.c"

static const limbs ORDER = { 0xf3b9cac2fc632551ULL, 0xbce6faada7179e84ULL, 0xffffffffffffffffULL, 0xffffffff00000000ULL };
/* 2^512 mod n: into the order's Montgomery form. */
static const limbs ORDER_RR = { 0x83244c95be79eea2ULL, 0x4699799c49bd6fa6ULL, 0x2845b2392b6bec59ULL, 0x66e12d94f3d95620ULL };

/* 32 big-endian bytes as limbs. */
static void from_be (limbs out, const uint8_t *b)
{
  for (int i = 0; i < 4; i++) {
    uint64_t v = 0;
    for (int j = 0; j < 8; j++) v = (v << 8) | b[(3 - i) * 8 + j];
    out[i] = v;
  }
}

static int cmp (const limbs a, const limbs b)
{
  for (int i = 3; i >= 0; i--) if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/* a mod n for a < 2n (every 256-bit value, and every x below p). */
static void reduce (limbs a)
{
  if (cmp(a, ORDER) < 0) return;
  unsigned __int128 borrow = 0;
  for (int i = 0; i < 4; i++) {
    unsigned __int128 d = (unsigned __int128)a[i] - ORDER[i] - borrow;
    a[i] = (uint64_t)d;
    borrow = (d >> 64) & 1;
  }
}

static bool is_zero (const limbs a) { return (a[0] | a[1] | a[2] | a[3]) == 0; }

#include "p256-ord-inv.c"

/* p − n: x(R) < p < 2n, so x(R) mod n = r iff x(R) = r, or x(R) = r + n when r < p − n. */
static const limbs P_MINUS_N = { 0x0c46353d039cdaaeULL, 0x4319055358e8617bULL, 0, 0 };

/* Whether x(R) mod n = r, R = (X, Y, Z) Jacobian (x = X/Z²), 0 < r < n: X = r·Z² or X = (r + n)·Z²,
 * compared out of Montgomery form (canonical below p), with no inversion of Z (~65 K instructions). */
static bool x_is_r (const jpoint *R, const limbs r)
{
  limbs z2, x, t, c;
  nz.sqr(z2, R->Z);
  nz.from_mont(x, R->X);
  memcpy(c, r, sizeof c);
  for (int k = 0; k < 2; k++) {
    if (k == 1) {
      if (cmp(r, P_MINUS_N) >= 0) return false;
      unsigned __int128 carry = 0;
      for (int i = 0; i < 4; i++) { carry += (unsigned __int128)r[i] + ORDER[i]; c[i] = (uint64_t)carry; carry >>= 64; }
    }
    nz.to_mont(t, c);
    nz.mul(t, t, z2);
    nz.from_mont(t, t);
    if (same(t, x)) return true;
  }
  return false;
}

/* 1 ≤ r, s < n: what OpenSSL checks before any arithmetic. */
static bool in_range (const limbs r, const limbs s)
{
  return !is_zero(r) && !is_zero(s) && cmp(r, ORDER) < 0 && cmp(s, ORDER) < 0;
}

/* The verdict on (r, s), r in range, over the digest e (256 bits, any value), with w = s⁻¹ in the
 * order's Montgomery form. */
static bool verify_with_inverse (const comb *q, limbs e, const limbs r, const limbs w)
{
  limbs u1, u2;
  reduce(e);
  nz.ord_mul(u1, e, w); /* e·s⁻¹, out of Montgomery form by the multiplication itself */
  nz.ord_mul(u2, r, w);
  reduce(u1); /* the combs' argument wants u < n */
  reduce(u2);
  jpoint a, b, sum;
  bool ha = comb_mul(&a, g_comb, u1), hb = comb_mul(&b, q, u2);
  if (ha && hb) { if (!add_checked(&sum, &a, &b)) return false; }
  else if (ha) sum = a;
  else if (hb) sum = b;
  else return false;
  return x_is_r(&sum, r);
}

/* OpenSSL's verdict on (r, s) over a 32-byte digest, through the tables: true iff valid. */
static bool table_verify (const comb *q, const uint8_t *digest, const uint8_t *rs)
{
  limbs r, s, e, w;
  from_be(r, rs);
  from_be(s, rs + 32);
  from_be(e, digest); /* 256 bits, the order's length: no truncation */
  if (!in_range(r, s)) return false;
  ord_inverse_mont(w, s); /* s⁻¹ in the order's Montgomery form */
  return verify_with_inverse(q, e, r, w);
}

/* Two signatures under one key (a block's previous-hash signature and seal), each judged on its
 * own exactly as table_verify judges it: bit 0 the first's verdict, bit 1 the second's. With both
 * in range, one inversion serves both (Montgomery's trick): with m(a, b) = a·b·2^−256 mod n (the
 * order's Montgomery multiplication), t = m(s1, s2) ≠ 0 (n is prime, 0 < s1, s2 < n), w =
 * t⁻¹·2^256 = (s1·s2)⁻¹·2^512, and m(w, s2) = s1⁻¹·2^256, m(w, s1) = s2⁻¹·2^256: each s⁻¹ in the
 * same form as ord_inverse_mont gives it, for three multiplications (~0.5 K instructions) instead
 * of a second inversion (~26 K; docs/performance/verify.md, "Session 28: plain verify"). */
static int table_verify2 (const comb *q, const uint8_t *d1, const uint8_t *rs1, const uint8_t *d2, const uint8_t *rs2)
{
  limbs r1, s1, e1, r2, s2, e2, t, w, w1, w2;
  from_be(r1, rs1);
  from_be(s1, rs1 + 32);
  from_be(r2, rs2);
  from_be(s2, rs2 + 32);
  if (!in_range(r1, s1) || !in_range(r2, s2)) return (int)table_verify(q, d1, rs1) | (int)table_verify(q, d2, rs2) << 1;
  from_be(e1, d1);
  from_be(e2, d2);
  nz.ord_mul(t, s1, s2);
  reduce(t);
  ord_inverse_mont(w, t);
  nz.ord_mul(w1, w, s2);
  nz.ord_mul(w2, w, s1);
  return (int)verify_with_inverse(q, e1, r1, w1) | (int)verify_with_inverse(q, e2, r2, w2) << 1;
}
