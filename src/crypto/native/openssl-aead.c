/*
 * ChaCha20-Poly1305 (RFC 8439) for noise's transport messages, on OpenSSL's EVP_CIPHER_CTX: two
 * contexts per thread (one to seal, one to open), made at the first call and re-initialised with
 * each message's key and nonce. node:crypto makes a Cipheriv/Decipheriv object and a new output
 * buffer for every message (src/network/noise-crypto.ts says what this saves, docs/performance/pull.md
 * "Session 29: the 1 MB pull"). Included by openssl.c (one translation unit).
 *
 *   aeadSeal(key, nonce, ad, parts, out)   the parts' bytes (a Uint8Array or an array of them, in
 *                          order) encrypted into out[0…n) and the 16-byte tag into out[n…n+16),
 *                          n the parts' total; out at least n + 16 long, not overlapping them.
 *   aeadOpen(key, nonce, ad, parts, out)   the parts hold ciphertext ‖ tag (at least 16 bytes in
 *                          all); the plaintext is written into out[0…n−16), or, when out is null,
 *                          over the ciphertext's own bytes in the parts (in place). true when the
 *                          tag verifies; false when not, and then every byte written is zeroed.
 *
 * key: 32 bytes, nonce: 12, ad: any length. A bad argument throws a TypeError or RangeError, an
 * OpenSSL failure an Error.
 */
#include <openssl/evp.h>
#include <limits.h>

#define AEAD_TAG 16
#define AEAD_STACK_PARTS 8

typedef struct { EVP_CIPHER_CTX *seal, *open; } aead_state;
typedef struct { uint8_t *p; size_t n; } aead_part;

static void aead_state_free (napi_env env, void *data, void *hint)
{
  (void)env; (void)hint;
  aead_state *s = data;
  EVP_CIPHER_CTX_free(s->seal);
  EVP_CIPHER_CTX_free(s->open);
  free(s);
}

/* This env's (thread's) context for sealing (enc 1) or opening (enc 0); NULL with an error thrown. */
static EVP_CIPHER_CTX *aead_ctx (napi_env env, int enc)
{
  aead_state *s = NULL;
  if (napi_get_instance_data(env, (void **)&s) == napi_ok && s != NULL) return enc ? s->seal : s->open;
  s = calloc(1, sizeof *s);
  if (s == NULL || (s->seal = EVP_CIPHER_CTX_new()) == NULL || (s->open = EVP_CIPHER_CTX_new()) == NULL ||
      EVP_CipherInit_ex(s->seal, EVP_chacha20_poly1305(), NULL, NULL, NULL, 1) != 1 ||
      EVP_CipherInit_ex(s->open, EVP_chacha20_poly1305(), NULL, NULL, NULL, 0) != 1 ||
      napi_set_instance_data(env, s, aead_state_free, NULL) != napi_ok) {
    if (s != NULL) aead_state_free(env, s, NULL);
    napi_throw_error(env, NULL, "ChaCha20-Poly1305 context not available");
    return NULL;
  }
  return enc ? s->seal : s->open;
}

/* A Uint8Array's bytes, writable (openssl.c's bytes(): its placeholder for an empty array is never
 * written, every write here being of at most n bytes); false with an error thrown if v is not one. */
static bool aead_bytes (napi_env env, napi_value v, aead_part *out)
{
  size_t n = 0;
  const uint8_t *p = bytes(env, v, 0, &n);
  if (p == NULL) return false;
  if (n > INT_MAX) { napi_throw_range_error(env, NULL, "part too large"); return false; }
  out->p = (uint8_t *)p;
  out->n = n;
  return true;
}

/* The parts (a Uint8Array or an array of them) into *parts (stack, or malloc'd when more than
 * AEAD_STACK_PARTS: the caller frees it if it is not stack) and their total; false with an error thrown. */
static bool aead_parts (napi_env env, napi_value v, aead_part *stack, aead_part **parts, uint32_t *count, size_t *total)
{
  bool is_array = false;
  *parts = stack;
  *total = 0;
  if (napi_is_array(env, v, &is_array) != napi_ok) return false;
  if (!is_array) {
    *count = 1;
    if (!aead_bytes(env, v, stack)) return false;
    *total = stack->n;
    return true;
  }
  if (napi_get_array_length(env, v, count) != napi_ok) return false;
  if (*count > AEAD_STACK_PARTS && (*parts = malloc(*count * sizeof **parts)) == NULL) {
    *parts = stack;
    napi_throw_error(env, NULL, "out of memory");
    return false;
  }
  for (uint32_t i = 0; i < *count; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || !aead_bytes(env, e, &(*parts)[i])) return false;
    *total += (*parts)[i].n;
  }
  if (*total > INT_MAX) { napi_throw_range_error(env, NULL, "message too large"); return false; }
  return true;
}

/* Re-key ctx with key and nonce and feed it ad; false with an error thrown. */
static bool aead_start (napi_env env, EVP_CIPHER_CTX *ctx, napi_value *argv, int enc)
{
  size_t adlen = 0;
  const uint8_t *key = bytes(env, argv[0], 32, NULL), *nonce = key == NULL ? NULL : bytes(env, argv[1], 12, NULL);
  const uint8_t *ad = nonce == NULL ? NULL : bytes(env, argv[2], 0, &adlen);
  if (ad == NULL) return false;
  int l;
  if (EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 || (adlen > 0 && (adlen > INT_MAX || EVP_CipherUpdate(ctx, NULL, &l, ad, (int)adlen) != 1))) {
    napi_throw_error(env, NULL, "ChaCha20-Poly1305 initialisation failed");
    return false;
  }
  return true;
}

static napi_value aead_seal (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS], result = NULL;
  aead_part stack[AEAD_STACK_PARTS], *parts = stack, out;
  uint32_t count = 0;
  size_t total = 0;
  EVP_CIPHER_CTX *ctx;
  int l;
  if (!get_args(env, info, 5, argv) || !aead_parts(env, argv[3], stack, &parts, &count, &total) || !aead_bytes(env, argv[4], &out)) goto done;
  if (out.n < total + AEAD_TAG) { napi_throw_range_error(env, NULL, "output too short"); goto done; }
  if ((ctx = aead_ctx(env, 1)) == NULL || !aead_start(env, ctx, argv, 1)) goto done;
  size_t off = 0;
  for (uint32_t i = 0; i < count; off += parts[i].n, i++) {
    if (parts[i].n > 0 && (EVP_CipherUpdate(ctx, out.p + off, &l, parts[i].p, (int)parts[i].n) != 1 || (size_t)l != parts[i].n)) goto failed;
  }
  if (EVP_CipherFinal_ex(ctx, out.p + off, &l) != 1 || l != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG, out.p + total) != 1) goto failed;
  result = undefined(env);
  goto done;
failed:
  napi_throw_error(env, NULL, "ChaCha20-Poly1305 encryption failed");
done:
  if (parts != stack) free(parts);
  return result;
}

static napi_value aead_open (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS], result = NULL;
  aead_part stack[AEAD_STACK_PARTS], *parts = stack, out = { NULL, 0 };
  uint32_t count = 0;
  size_t total = 0, written = 0;
  napi_valuetype t;
  EVP_CIPHER_CTX *ctx;
  uint8_t tag[AEAD_TAG], scratch[AEAD_TAG];
  int l;
  bool ok = false;
  if (!get_args(env, info, 5, argv) || !aead_parts(env, argv[3], stack, &parts, &count, &total) ||
      napi_typeof(env, argv[4], &t) != napi_ok || (t != napi_null && !aead_bytes(env, argv[4], &out))) goto done;
  if (total < AEAD_TAG) { napi_throw_range_error(env, NULL, "ciphertext shorter than its tag"); goto done; }
  const size_t clen = total - AEAD_TAG;
  if (t != napi_null && out.n < clen) { napi_throw_range_error(env, NULL, "output too short"); goto done; }
  /* The tag: the last 16 bytes, wherever the parts cut them (copied from the last part backwards). */
  for (size_t i = count, need = AEAD_TAG; need > 0 && i-- > 0;) {
    size_t n = parts[i].n < need ? parts[i].n : need;
    if (n > 0) memcpy(tag + need - n, parts[i].p + parts[i].n - n, n);
    need -= n;
  }
  if ((ctx = aead_ctx(env, 0)) == NULL || !aead_start(env, ctx, argv, 0)) goto done;
  for (uint32_t i = 0; i < count && written < clen; i++) {
    size_t n = parts[i].n < clen - written ? parts[i].n : clen - written;
    if (n == 0) continue;
    if (EVP_CipherUpdate(ctx, out.p != NULL ? out.p + written : parts[i].p, &l, parts[i].p, (int)n) != 1 || (size_t)l != n) goto failed;
    written += n;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG, tag) != 1) goto failed;
  ok = EVP_CipherFinal_ex(ctx, scratch, &l) == 1;
  if (!ok) {
    /* Unauthenticated plaintext is never left behind. */
    if (out.p != NULL && written > 0) memset(out.p, 0, written);
    else for (uint32_t i = 0, left = (uint32_t)written; i < count && left > 0; i++) {
      size_t n = parts[i].n < left ? parts[i].n : left;
      if (n > 0) memset(parts[i].p, 0, n);
      left -= (uint32_t)n;
    }
  }
  napi_get_boolean(env, ok, &result);
  goto done;
failed:
  napi_throw_error(env, NULL, "ChaCha20-Poly1305 decryption failed");
done:
  if (parts != stack) free(parts);
  return result;
}
