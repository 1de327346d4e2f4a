/*
 * P-256 ECDSA and SHA-256 through the OpenSSL that Node links and exports, so that a process that
 * signs, verifies and hashes a few things (a `signimportblock`) need not load node:crypto, whose
 * own JavaScript costs ~13.5 M instructions to load and ~10 M more in first calls
 * (docs/performance/import.md, "Session 23: the 100-row import"). src/crypto/openssl-native.ts loads it;
 * node:crypto stays the fallback when it is not built or PETAL_NATIVE_SHA256=0.
 *
 *   keyFromScalar(d)        d: 32 bytes. A private key object (its EC_KEY freed, and d cleared,
 *                           by OpenSSL when the object is collected), and d·G (65 bytes,
 *                           uncompressed); undefined when d is 0 or not below n.
 *   sign(key, digest)       ECDSA over a 32-byte digest: r ‖ s, 32 bytes each (IEEE P1363).
 *   publicKey(point)        a public key object of a 65-byte uncompressed point; undefined when
 *                           the point is not on the curve.
 *   verify(key, digest, sig[, mode])  whether sig (r ‖ s, 64 bytes) verifies under the key: a key
 *                           verified often through its own precomputed table (p256-table.c,
 *                           p256-cache.c).
 *   verify2(key, digest1, sig1, digest2, sig2[, mode])  both verdicts as verify's, bit 0 and bit 1
 *                           of a number: one s⁻¹ computation for the two once the key has a table.
 *   verify2Text(key, m1, hex1, m2, hex2)  verify2 of two messages and two hex DER signatures as
 *                           given, or -1 for the caller's JavaScript way (verify-text.c).
 *   sha256Into(buf, from, to, out)  SHA-256 of buf[from…to) into out[0…32): no allocation here
 *                           (a Buffer from Node's pool is ~2× cheaper than one made by the addon).
 *   hasherNew(), hasherUpdate(h, buf, from, to), hasherDigest(h): incremental SHA-256.
 *   scalar(key)             d again (32 bytes), for the node:crypto KeyObject some callers want.
 *   readSmall(path, buf)    a small regular file read whole into buf: its length, or -1 for the
 *                           caller's node:fs way (read-small.c; plain verify's block files and seals).
 *   renameNoReplace(from, to), writeSmall(path, text)  a move that replaces nothing (one
 *                           renameat2) and a small file written whole, for a group's placement:
 *                           -1 for the caller's node:fs way (place-files.c).
 *   writeNew(path, parts, size)  a new file (O_EXCL) holding the parts, one writev: a range
 *                           receive's small block; -1 for the caller's node:fs way (place-files.c).
 *   syncfs(dir, callback)   syncfs(2) of dir's file system on libuv's thread pool, calling back
 *                           with 0 or the errno; -1 when not queued (place-files.c).
 *   tmpForeign(dir, prefix), makeEmpty(paths, callback)  tmp/'s names not the caller's, and
 *                           empty files made on libuv's pool in one request (tmp-files.c).
 *   aeadSeal(...), aeadOpen(...)  ChaCha20-Poly1305 for noise's transport (openssl-aead.c).
 *   keepFreed(mmapAt, trimAt)  glibc's malloc keeps freed memory for reuse (malloc-keep.c).
 *   hugeHeap(pad)           the heap's top marked for 2 MiB pages (malloc-keep.c).
 *
 * Every offset is checked; a bad argument (a hasher where a key is wanted among them) throws a
 * TypeError or RangeError. Context-aware.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT, for p256-table.c */
#define NAPI_VERSION 8
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <node_api.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 6

#include "p256-table.c"

static bool get_args (napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) { napi_throw_type_error(env, NULL, "too few arguments"); return false; }
  return true;
}

/* The bytes of a Uint8Array, exactly `want` long unless want is 0. */
static const uint8_t *bytes (napi_env env, napi_value v, size_t want, size_t *len)
{
  bool is_ta = false;
  napi_typedarray_type type;
  void *data = NULL;
  size_t n = 0;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &n, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array");
    return NULL;
  }
  if (want != 0 && n != want) { napi_throw_range_error(env, NULL, "wrong length"); return NULL; }
  static const uint8_t none = 0;
  if (len != NULL) *len = n;
  return data == NULL ? &none : data;
}

static bool range (napi_env env, napi_value a, napi_value b, size_t len, size_t *from, size_t *to)
{
  double f, t;
  if (napi_get_value_double(env, a, &f) != napi_ok || napi_get_value_double(env, b, &t) != napi_ok ||
      !(f >= 0 && t >= f && t <= (double)len) || f != (double)(size_t)f || t != (double)(size_t)t) {
    napi_throw_range_error(env, NULL, "bad range");
    return false;
  }
  *from = (size_t)f;
  *to = (size_t)t;
  return true;
}

static napi_value buffer (napi_env env, const uint8_t *p, size_t n)
{
  napi_value out;
  if (napi_create_buffer_copy(env, n, p, NULL, &out) != napi_ok) return NULL;
  return out;
}

static napi_value undefined (napi_env env)
{
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* Random tags: which kind of pointer an external holds (napi_type_tag_object). */
static const napi_type_tag KEY_TAG = { 0x8f0c52d1a6b34e07ULL, 0x5d2e9b7f13c4a860ULL };
static const napi_type_tag HASHER_TAG = { 0x3b91e4c07d2f5a18ULL, 0xc6a0d8e2f419b375ULL };

/* An external holding p (freed by `fin` when collected), tagged; NULL on failure, p then freed. */
static napi_value tagged_external (napi_env env, void *p, napi_finalize fin, const napi_type_tag *tag)
{
  napi_value ext;
  if (napi_create_external(env, p, fin, NULL, &ext) != napi_ok) { fin(env, p, NULL); return NULL; }
  /* On failure the untagged external is refused by every call, and its finalizer frees p. */
  if (napi_type_tag_object(env, ext, tag) != napi_ok) return NULL;
  return ext;
}

static void free_key (napi_env env, void *data, void *hint)
{
  (void)env; (void)hint;
  EC_KEY_free(data); /* clears the private scalar (BN_clear_free) */
}

static napi_value key_from_scalar (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 1, argv)) return NULL;
  const uint8_t *d = bytes(env, argv[0], 32, NULL);
  if (d == NULL) return NULL;
  EC_KEY *k = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  BIGNUM *bn = BN_secure_new();
  EC_POINT *pt = NULL;
  uint8_t point[65];
  bool ok = false;
  if (k != NULL && bn != NULL && BN_bin2bn(d, 32, bn) != NULL) {
    const EC_GROUP *g = EC_KEY_get0_group(k);
    /* 1 ≤ d < n, as node:crypto's ECDH checks. */
    if (!BN_is_zero(bn) && BN_cmp(bn, EC_GROUP_get0_order(g)) < 0 && (pt = EC_POINT_new(g)) != NULL &&
        EC_POINT_mul(g, pt, bn, NULL, NULL, NULL) == 1 &&
        EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, point, sizeof point, NULL) == sizeof point &&
        EC_KEY_set_private_key(k, bn) == 1 && EC_KEY_set_public_key(k, pt) == 1) ok = true;
  }
  BN_clear_free(bn);
  EC_POINT_free(pt);
  /* Every refusal clears what OpenSSL put on this thread's error queue: node:crypto's next call
   * on the thread (generateKeyPairSync among them) would read it as its own failure. */
  if (!ok) { EC_KEY_free(k); ERR_clear_error(); return undefined(env); }
  napi_value obj, ext, pub;
  if (napi_create_object(env, &obj) != napi_ok) { EC_KEY_free(k); return NULL; }
  if ((ext = tagged_external(env, k, free_key, &KEY_TAG)) == NULL ||
      (pub = buffer(env, point, sizeof point)) == NULL ||
      napi_set_named_property(env, obj, "handle", ext) != napi_ok ||
      napi_set_named_property(env, obj, "point", pub) != napi_ok) return NULL;
  return obj;
}

/* The pointer an external holds, or NULL with a TypeError naming `what`: only an external this addon
 * made and tagged as `tag`, so a hasher given where a key is wanted (or any other addon's external)
 * is refused, not read as an EC_KEY (it was: sign(hasherNew(), …) crashed the process). */
static void *external_of (napi_env env, napi_value v, const napi_type_tag *tag, const char *what)
{
  napi_valuetype t;
  bool tagged = false;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_check_object_type_tag(env, v, tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return p;
}

static EC_KEY *key_of (napi_env env, napi_value v) { return external_of(env, v, &KEY_TAG, "expected a key handle"); }

static napi_value sign (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 2, argv)) return NULL;
  EC_KEY *k = key_of(env, argv[0]);
  if (k == NULL) return NULL;
  const uint8_t *digest = bytes(env, argv[1], 32, NULL);
  if (digest == NULL) return NULL;
  ECDSA_SIG *sig = ECDSA_do_sign(digest, 32, k);
  if (sig == NULL) { ERR_clear_error(); napi_throw_error(env, NULL, "ECDSA_do_sign failed"); return NULL; }
  const BIGNUM *r, *s;
  ECDSA_SIG_get0(sig, &r, &s);
  uint8_t out[64];
  bool ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (!ok) { napi_throw_error(env, NULL, "signature does not fit"); return NULL; }
  return buffer(env, out, sizeof out);
}

static napi_value public_key (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 1, argv)) return NULL;
  const uint8_t *point = bytes(env, argv[0], 65, NULL);
  if (point == NULL) return NULL;
  EC_KEY *k = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  EC_POINT *pt = k == NULL ? NULL : EC_POINT_new(EC_KEY_get0_group(k));
  if (pt == NULL) { EC_KEY_free(k); napi_throw_error(env, NULL, "out of memory"); return NULL; }
  /* oct2point refuses a point off the curve: then it is not a key. */
  bool ok = EC_POINT_oct2point(EC_KEY_get0_group(k), pt, point, 65, NULL) == 1 && EC_KEY_set_public_key(k, pt) == 1;
  EC_POINT_free(pt);
  /* A point off the curve leaves "point is not on curve" there (see keyFromScalar). */
  if (!ok) { EC_KEY_free(k); ERR_clear_error(); return undefined(env); }
  return tagged_external(env, k, free_key, &KEY_TAG);
}

/* One verdict: through the key's table when it has one (table), else ECDSA_do_verify. 1 valid, 0
 * not, -1 out of memory. */
static int verify_one (EC_KEY *k, const comb *table, const uint8_t *digest, const uint8_t *rs)
{
  if (table != NULL) return table_verify(table, digest, rs);
  ECDSA_SIG *sig = ECDSA_SIG_new();
  BIGNUM *r = NULL, *s = NULL;
  int v = -1;
  if (sig != NULL && (r = BN_bin2bn(rs, 32, NULL)) != NULL && (s = BN_bin2bn(rs + 32, 32, NULL)) != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
    r = s = NULL;
    /* 1 valid, 0 not, -1 an error (r or s out of range among them): all but 1 are "no". */
    v = ECDSA_do_verify(digest, 32, sig, k) == 1;
    /* A refusal leaves its reason on this thread's OpenSSL error queue (a sum at infinity, r ≥ n),
     * where node:crypto's next call on the thread would read it as its own failure. */
    ERR_clear_error();
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return v;
}

/* mode (tests): 0 or absent the key's table once it has one (p256-cache.c), 1 a table at once (none
 * past MAX_TABLES, never a colder key's), 2 OpenSSL's own, 3 a table at once even past MAX_TABLES. */
static uint32_t mode_of (napi_env env, napi_value v)
{
  uint32_t mode = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_number) napi_get_value_uint32(env, v, &mode);
  return mode;
}

static const comb *table_for (EC_KEY *k, uint32_t mode)
{
  return mode == 2 ? NULL : table_of(k, mode == 1 || mode == 3, mode == 3);
}

static napi_value verify (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 3, argv)) return NULL;
  EC_KEY *k = key_of(env, argv[0]);
  if (k == NULL) return NULL;
  const uint8_t *digest = bytes(env, argv[1], 32, NULL);
  if (digest == NULL) return NULL;
  const uint8_t *rs = bytes(env, argv[2], 64, NULL);
  if (rs == NULL) return NULL;
  int v = verify_one(k, table_for(k, mode_of(env, argv[3])), digest, rs);
  if (v == -1) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  napi_value out;
  napi_get_boolean(env, v == 1, &out);
  return out;
}

/* verify2(key, digest1, sig1, digest2, sig2[, mode]): both verdicts, bit 0 the first's and bit 1
 * the second's, each exactly verify's; two uses of the key (its table counts them as verify does),
 * and with a table one inversion for both s (table_verify2). */
static napi_value verify2 (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 5, argv)) return NULL;
  EC_KEY *k = key_of(env, argv[0]);
  if (k == NULL) return NULL;
  const uint8_t *d1 = bytes(env, argv[1], 32, NULL), *rs1 = d1 == NULL ? NULL : bytes(env, argv[2], 64, NULL);
  const uint8_t *d2 = rs1 == NULL ? NULL : bytes(env, argv[3], 32, NULL), *rs2 = d2 == NULL ? NULL : bytes(env, argv[4], 64, NULL);
  if (rs2 == NULL) return NULL;
  uint32_t mode = mode_of(env, argv[5]);
  const comb *t1 = table_for(k, mode), *t2 = table_for(k, mode);
  int v1 = 0, v2 = 0, v = -1;
  if (t1 != NULL && t1 == t2) v = table_verify2(t1, d1, rs1, d2, rs2);
  else if ((v1 = verify_one(k, t1, d1, rs1)) != -1 && (v2 = verify_one(k, t2, d2, rs2)) != -1) v = v1 | v2 << 1;
  if (v == -1) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  napi_value out;
  napi_create_uint32(env, (uint32_t)v, &out);
  return out;
}

#include "openssl-sha256.c"
#include "read-small.c"
#include "place-files.c"
#include "tmp-files.c"
#include "openssl-aead.c"
#include "verify-text.c"
#include "malloc-keep.c"

static napi_value scalar (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 1, argv)) return NULL;
  EC_KEY *k = key_of(env, argv[0]);
  if (k == NULL) return NULL;
  uint8_t d[32];
  const BIGNUM *bn = EC_KEY_get0_private_key(k);
  if (bn == NULL || BN_bn2binpad(bn, d, 32) != 32) { napi_throw_error(env, NULL, "no private scalar"); return NULL; }
  napi_value out = buffer(env, d, sizeof d);
  OPENSSL_cleanse(d, sizeof d);
  return out;
}

/* p256Tables([key]) (tests): { available: OpenSSL's nistz256 functions were found, keys: the key
 * tables alive in the process, generator: whether G's is made, built: key tables made so far,
 * evicted: of which in a colder key's place, and with a key, table: whether it has one now }. */
static napi_value p256_tables (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS], out, v;
  napi_valuetype t;
  EC_KEY *k = NULL;
  if (!get_args(env, info, 0, argv) || napi_typeof(env, argv[0], &t) != napi_ok) return NULL;
  if (t != napi_undefined && (k = key_of(env, argv[0])) == NULL) return NULL;
  pthread_once(&nz_once, once_init);
  static const char *names[] = { "keys", "built", "evicted", "available", "generator", "table" };
  const int32_t n[] = { __atomic_load_n(&live_tables, __ATOMIC_RELAXED), (int32_t)__atomic_load_n(&tables_built, __ATOMIC_RELAXED),
                        (int32_t)__atomic_load_n(&tables_evicted, __ATOMIC_RELAXED), nz_ok,
                        __atomic_load_n(&g_comb, __ATOMIC_ACQUIRE) != NULL, k != NULL && has_table(k) };
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  for (size_t i = 0; i < 6 - (k == NULL); i++) {
    if ((i < 3 ? napi_create_int32(env, n[i], &v) : napi_get_boolean(env, n[i] != 0, &v)) != napi_ok ||
        napi_set_named_property(env, out, names[i], v) != napi_ok) return NULL;
  }
  return out;
}

NAPI_MODULE_INIT ()
{
  napi_property_descriptor props[] = {
    { "keyFromScalar", NULL, key_from_scalar, NULL, NULL, NULL, napi_enumerable, NULL },
    { "sign", NULL, sign, NULL, NULL, NULL, napi_enumerable, NULL },
    { "publicKey", NULL, public_key, NULL, NULL, NULL, napi_enumerable, NULL },
    { "verify", NULL, verify, NULL, NULL, NULL, napi_enumerable, NULL },
    { "verify2", NULL, verify2, NULL, NULL, NULL, napi_enumerable, NULL },
    { "verify2Text", NULL, verify2_text, NULL, NULL, NULL, napi_enumerable, NULL },
    { "sha256Into", NULL, sha256_into, NULL, NULL, NULL, napi_enumerable, NULL },
    { "merkleRoot", NULL, merkle_root, NULL, NULL, NULL, napi_enumerable, NULL },
    { "hasherNew", NULL, hasher_new, NULL, NULL, NULL, napi_enumerable, NULL },
    { "hasherUpdate", NULL, hasher_update, NULL, NULL, NULL, napi_enumerable, NULL },
    { "hasherDigest", NULL, hasher_digest, NULL, NULL, NULL, napi_enumerable, NULL },
    { "readSmall", NULL, read_small, NULL, NULL, NULL, napi_enumerable, NULL },
    { "renameNoReplace", NULL, rename_no_replace, NULL, NULL, NULL, napi_enumerable, NULL },
    { "writeSmall", NULL, write_small, NULL, NULL, NULL, napi_enumerable, NULL },
    { "writeNew", NULL, write_new, NULL, NULL, NULL, napi_enumerable, NULL },
    { "syncfs", NULL, syncfs_async, NULL, NULL, NULL, napi_enumerable, NULL },
    { "tmpForeign", NULL, tmp_foreign, NULL, NULL, NULL, napi_enumerable, NULL },
    { "makeEmpty", NULL, make_empty_async, NULL, NULL, NULL, napi_enumerable, NULL },
    { "scalar", NULL, scalar, NULL, NULL, NULL, napi_enumerable, NULL },
    { "p256Tables", NULL, p256_tables, NULL, NULL, NULL, napi_enumerable, NULL },
    { "aeadSeal", NULL, aead_seal, NULL, NULL, NULL, napi_enumerable, NULL },
    { "aeadOpen", NULL, aead_open, NULL, NULL, NULL, napi_enumerable, NULL },
    { "keepFreed", NULL, keep_freed, NULL, NULL, NULL, napi_enumerable, NULL },
    { "hugeHeap", NULL, huge_heap, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
