/*
 * The native row walker (src/block/native-rows.ts loads it; scripts/build-native.ts builds it into
 * dist/native/petal-rows.node): a table's row count and v2 Merkle root computed straight from the
 * b-tree pages of an SQLite file held in memory, without JavaScript per row. It is fast-rows.ts's
 * fastTableRoot (btree.ts's walk, LeafWriter's leaves, MerkleBatch's hashing) in one call; that
 * JavaScript walker stays the reference and the fallback: where this one declines (anything
 * btree.ts refuses, and text it would decode with replacement characters), the caller runs it.
 *
 *   tableRoot(bytes, pageSize, usable, pages, encoding, root, index, fields, flags, out):
 *     bytes: the whole file (a Uint8Array); pageSize, usable, pages, encoding: its header as
 *     page-file.ts read and checked it; root: the table's root page; index: 1 for a WITHOUT ROWID
 *     table's index b-tree; fields (Int32Array) and flags (Uint8Array, FLAG_REAL | FLAG_DEFAULT):
 *     per declared column, fast-rows.ts's FastPlan; out: 32 bytes for the root.
 *     Returns the row count, or a negative decline code (nothing written to out).
 *   lanes: 4 when leaves are hashed four at a time with SHA-NI, else 1.
 *
 * The files: rows-walk.c (pages and cells), rows-leaf.c (a record's leaf), rows-merkle.c (the
 * leaves' hashing and the tree), and the SHA-256 core of src/crypto/native (one translation unit).
 * Context-aware (NAPI_MODULE_INIT): the main thread and load or worker threads each get their own
 * buffers (instance data, freed with the thread's environment).
 */
#define NAPI_VERSION 8
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <node_api.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

#include "../../crypto/native/sha256-core.c"

#define ENCODING_UTF8 1
#define ENCODING_UTF16LE 2
#define ENCODING_UTF16BE 3
#define FLAG_REAL 1
#define FLAG_DEFAULT 2
/* Most columns a table may have here (leaf-wasm.ts's WASM_MAX_COLUMNS; SQLite's limit is 2,000 by default). */
#define MAX_COLUMNS 32767

/* Why a walk declined (negative results; native-rows.ts names them). */
#define DECLINE_RANGE 1
#define DECLINE_TWICE 2
#define DECLINE_PAGE 3
#define DECLINE_DEPTH 4
#define DECLINE_CELL 5
#define DECLINE_CHAIN 6
#define DECLINE_PAYLOAD 7
#define DECLINE_VARINT 8
#define DECLINE_RECORD 9
#define DECLINE_DEFAULT 10
#define DECLINE_VALUE 11
#define DECLINE_MEMORY 12
#define DECLINE_ARGS 13

#include "rows-merkle.c"

typedef struct walk {
  const uint8_t *file;
  uint64_t file_len;
  uint32_t page_size, usable, pages, encoding;
  bool index;
  const int32_t *fields;
  const uint8_t *flags;
  uint32_t ncols;
  uint64_t rows;
  uint64_t rowid;          /* the rowid of the cell being read (a rowid table) */
  uint8_t *visited;        /* one bit per page */
  uint8_t *ovf;            /* a payload assembled from its overflow chain */
  uint64_t ovf_cap;
  uint64_t *types, *offs;  /* the record's serial types and body offsets */
  merkle m;
} walk;

static int leaf_record (walk *w, const uint8_t *r, uint64_t len);

#include "rows-walk.c"
#include "rows-leaf.c"

/* This environment's walk, kept between calls (its buffers reused); freed with the environment. */
static void free_walk (napi_env env, void *data, void *hint)
{
  (void)env;
  (void)hint;
  walk *w = data;
  free(w->m.msg);
  free(w->ovf);
  free(w->types);
  free(w->offs);
  free(w);
}

static bool number_arg (napi_env env, napi_value v, double max, uint64_t *out)
{
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= max) || d != (double)(uint64_t)d) return false;
  *out = (uint64_t)d;
  return true;
}

static bool typed_arg (napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len)
{
  bool is_ta = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return false;
  if (napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) != napi_ok || type != want) return false;
  static uint8_t none[8];
  if (*data == NULL) *data = none;
  return true;
}

static napi_value result (napi_env env, double v)
{
  napi_value r;
  return napi_create_double(env, v, &r) == napi_ok ? r : NULL;
}

static napi_value table_root (napi_env env, napi_callback_info info)
{
  size_t argc = 10;
  napi_value argv[10];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  void *bytes, *fields, *flags, *out;
  size_t len, nfields, nflags, nout;
  uint64_t ps, usable, pages, enc, root, index;
  if (argc < 10 || !typed_arg(env, argv[0], napi_uint8_array, &bytes, &len) ||
      !number_arg(env, argv[1], 65536, &ps) || !number_arg(env, argv[2], 65536, &usable) ||
      !number_arg(env, argv[3], 4294967295.0, &pages) || !number_arg(env, argv[4], 3, &enc) ||
      !number_arg(env, argv[5], 4294967295.0, &root) || !number_arg(env, argv[6], 1, &index) ||
      !typed_arg(env, argv[7], napi_int32_array, &fields, &nfields) ||
      !typed_arg(env, argv[8], napi_uint8_array, &flags, &nflags) ||
      !typed_arg(env, argv[9], napi_uint8_array, &out, &nout)) {
    napi_throw_type_error(env, NULL, "expected (bytes, pageSize, usable, pages, encoding, root, index, fields, flags, out)");
    return NULL;
  }
  /* The header's facts as page-file.ts checks them, and pages within the bytes: else decline. */
  if (ps < 512 || (ps & (ps - 1)) != 0 || usable < 480 || usable > ps || enc < 1 || pages * ps > len ||
      nfields != nflags || nfields > MAX_COLUMNS || nout < 32) return result(env, -DECLINE_ARGS);
  for (size_t c = 0; c < nfields; c++) {
    int32_t f = ((const int32_t *)fields)[c];
    if (f < -1 || f >= (int32_t)nfields || (f < 0 && index)) return result(env, -DECLINE_ARGS);
  }
  walk *w = NULL;
  if (napi_get_instance_data(env, (void **)&w) != napi_ok) return NULL;
  if (w == NULL) {
    w = calloc(1, sizeof *w);
    if (w == NULL || napi_set_instance_data(env, w, free_walk, NULL) != napi_ok) { free(w); return result(env, -DECLINE_MEMORY); }
  }
  w->file = bytes;
  w->file_len = len;
  w->page_size = (uint32_t)ps;
  w->usable = (uint32_t)usable;
  w->pages = (uint32_t)pages;
  w->encoding = (uint32_t)enc;
  w->index = index != 0;
  w->fields = fields;
  w->flags = flags;
  w->ncols = (uint32_t)nfields;
  w->rows = 0;
  w->rowid = 0;
  merkle_reset(&w->m);
  uint64_t *types = realloc(w->types, (nfields + 1) * sizeof *types);
  if (types != NULL) w->types = types;
  uint64_t *offs = realloc(w->offs, (nfields + 1) * sizeof *offs);
  if (offs != NULL) w->offs = offs;
  w->visited = calloc(((uint64_t)pages + 1 + 7) / 8, 1);
  if (types == NULL || offs == NULL || w->visited == NULL) { free(w->visited); return result(env, -DECLINE_MEMORY); }
  int e = walk_page(w, root, 0);
  free(w->visited);
  w->visited = NULL;
  if (e != 0) return result(env, -e);
  merkle_root(&w->m, out);
  /* The message buffer beyond a batch (a row of many MiB grew it) is not kept. */
  if (w->m.msg_cap > 4 * (FLUSH_BYTES + 65536)) { free(w->m.msg); w->m.msg = NULL; w->m.msg_cap = 0; }
  if (w->ovf_cap > (4u << 20)) { free(w->ovf); w->ovf = NULL; w->ovf_cap = 0; }
  return result(env, (double)w->rows);
}

NAPI_MODULE_INIT ()
{
  init_lanes();
  napi_value fn, nlanes;
  if (napi_create_function(env, "tableRoot", NAPI_AUTO_LENGTH, table_root, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "tableRoot", fn) != napi_ok) return NULL;
  if (napi_create_int32(env, lanes, &nlanes) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "lanes", nlanes) != napi_ok) return NULL;
  return exports;
}
