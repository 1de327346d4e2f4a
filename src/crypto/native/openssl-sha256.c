/*
 * SHA-256 for openssl.c (included by it, after its argument helpers and tags: one translation unit):
 * sha256Into, merkleRoot and the incremental hasher, through the SHA256_* functions of the OpenSSL
 * that Node links and exports. Kept apart so that each file has one purpose.
 */

/* sha256Into(buf, from, to, out): the digest of buf[from…to) into out's first 32 bytes (no allocation). */
static napi_value sha256_into (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 4, argv)) return NULL;
  size_t len, from, to, olen;
  const uint8_t *p = bytes(env, argv[0], 0, &len);
  if (p == NULL || !range(env, argv[1], argv[2], len, &from, &to)) return NULL;
  uint8_t *o = (uint8_t *)bytes(env, argv[3], 0, &olen);
  if (o == NULL) return NULL;
  if (olen < 32) { napi_throw_range_error(env, NULL, "out is shorter than 32 bytes"); return NULL; }
  /* SHA256_Init/Update/Final, not SHA256(): in OpenSSL 3 the one-shot SHA256() is EVP_Q_digest,
   * which fetches the algorithm by name (a locked method-store lookup) at every call. */
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, p + from, to - from);
  SHA256_Final(o, &c);
  return NULL;
}

/* The RFC 6962 root of the leaves buf[ends[i-1]…ends[i]) (each starting with its 0x00 prefix) into
 * out: every leaf hashed, then each level's pairs, an odd last node carried up unchanged, which is
 * the tree split at the largest power of two below n (MerkleBuilder's). One call for a small
 * table's rows, where a call and a JavaScript node per leaf cost more than the hashing. */
static napi_value merkle_root (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 3, argv)) return NULL;
  size_t len, n = 0;
  const uint8_t *p = bytes(env, argv[0], 0, &len);
  if (p == NULL) return NULL;
  bool is_ta = false;
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[1], &type, &n, &data, NULL, NULL) != napi_ok || type != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "expected a Uint32Array of leaf ends");
    return NULL;
  }
  uint8_t *o = (uint8_t *)bytes(env, argv[2], 32, NULL);
  if (o == NULL) return NULL;
  const uint32_t *ends = data;
  for (size_t i = 0; i < n; i++) {
    if (ends[i] > len || (i > 0 && ends[i] < ends[i - 1])) { napi_throw_range_error(env, NULL, "leaf ends out of order or past the buffer"); return NULL; }
  }
  if (n == 0) { napi_throw_range_error(env, NULL, "no leaves"); return NULL; }
  uint8_t (*h)[32] = malloc(n * 32);
  if (h == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  SHA256_CTX c;
  for (size_t i = 0, at = 0; i < n; at = ends[i++]) {
    SHA256_Init(&c);
    SHA256_Update(&c, p + at, ends[i] - at);
    SHA256_Final(h[i], &c);
  }
  uint8_t node[65];
  node[0] = 0x01;
  for (size_t m = n; m > 1; m = (m + 1) / 2) {
    for (size_t i = 0; i < m / 2; i++) {
      memcpy(node + 1, h[2 * i], 32);
      memcpy(node + 33, h[2 * i + 1], 32);
      SHA256_Init(&c);
      SHA256_Update(&c, node, 65);
      SHA256_Final(h[i], &c);
    }
    if (m & 1) memcpy(h[m / 2], h[m - 1], 32);
  }
  memcpy(o, h[0], 32);
  free(h);
  return NULL;
}

static void free_hasher (napi_env env, void *data, void *hint)
{
  (void)env; (void)hint;
  OPENSSL_cleanse(data, sizeof(SHA256_CTX));
  free(data);
}

static napi_value hasher_new (napi_env env, napi_callback_info info)
{
  (void)info;
  SHA256_CTX *c = malloc(sizeof *c);
  if (c == NULL || SHA256_Init(c) != 1) { free(c); napi_throw_error(env, NULL, "out of memory"); return NULL; }
  return tagged_external(env, c, free_hasher, &HASHER_TAG);
}

static SHA256_CTX *hasher_of (napi_env env, napi_value v) { return external_of(env, v, &HASHER_TAG, "expected a hasher"); }

static napi_value hasher_update (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 4, argv)) return NULL;
  SHA256_CTX *c = hasher_of(env, argv[0]);
  if (c == NULL) return NULL;
  size_t len, from, to;
  const uint8_t *p = bytes(env, argv[1], 0, &len);
  if (p == NULL || !range(env, argv[2], argv[3], len, &from, &to)) return NULL;
  SHA256_Update(c, p + from, to - from);
  return NULL;
}

/* The digest; the hasher starts again (as after hasherNew). */
static napi_value hasher_digest (napi_env env, napi_callback_info info)
{
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 1, argv)) return NULL;
  SHA256_CTX *c = hasher_of(env, argv[0]);
  if (c == NULL) return NULL;
  uint8_t md[32];
  SHA256_Final(md, c);
  SHA256_Init(c);
  return buffer(env, md, sizeof md);
}
