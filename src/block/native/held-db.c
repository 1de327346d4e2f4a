/*
 * SQLite over bytes this thread already holds (verify --deep: a block file read once, hashed, and
 * its tables' rows read from those bytes): one shared object that is both a Node addon and an
 * SQLite extension (src/block/held-db.ts loads it both ways; scripts/build-native.ts builds it
 * into dist/native/petal-held-db.node).
 *
 *   hold(buf): as a Node addon, remember buf's bytes for this thread's next load of the extension
 *     (buf is a Uint8Array; the caller keeps it alive and unchanged until that connection closes).
 *   sqlite3_petalheld_init: as an SQLite extension, loaded into a fresh `:memory:` connection
 *     (better-sqlite3's loadExtension, on the same thread): makes the remembered bytes that
 *     connection's main database, read-only and without a copy (sqlite3_deserialize without
 *     FREEONCLOSE or RESIZEABLE), and forgets them; SQLITE_ERROR when nothing is held.
 *
 * Why: SQLite otherwise reads the file again, one 4 KiB pread per page (a system call and a copy
 * each), into a page cache that it allocates per connection; with the connection's mmap_size at
 * the bytes' length, SQLite reads pages in place (memdb's xFetch), as it does a mapped file, but
 * without a map's hazard (a file truncated under it: SIGBUS), since the bytes are in memory.
 * The bytes are thread-local: each worker thread holds its own block, and SQLite loads the
 * extension on the thread that asked (better-sqlite3 is synchronous).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <sqlite3ext.h>
#include <stddef.h>
#include <stdint.h>

SQLITE_EXTENSION_INIT1

static _Thread_local unsigned char *held;
static _Thread_local size_t held_len;
/* hold(buf, true): the connection the next load makes the bytes' main database is kept for swap. */
static _Thread_local int keep_next;
/* The connection swap() replaces the main database of; NULL after forget() (before JS closes it). */
static _Thread_local sqlite3 *kept;

/*
 * The bytes of argv[0], which must be a Uint8Array (else a TypeError naming `what`, and false):
 * what hold and swap take.
 */
static bool uint8_arg (napi_env env, size_t argc, napi_value *argv, const char *what, void **data, size_t *len)
{
  bool is_ta = false;
  napi_typedarray_type type;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[0], &type, len, data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, what);
    return false;
  }
  return true;
}

static napi_value hold (napi_env env, napi_callback_info info)
{
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  size_t len = 0;
  void *data = NULL;
  if (!uint8_arg(env, argc, argv, "hold(buf): buf must be a Uint8Array", &data, &len)) return NULL;
  if (data == NULL || len == 0) { napi_throw_range_error(env, NULL, "hold(buf): buf is empty"); return NULL; }
  held = data;
  held_len = len;
  bool keep = false;
  if (argc < 2 || napi_get_value_bool(env, argv[1], &keep) != napi_ok) keep = false;
  keep_next = keep;
  return NULL;
}

static napi_value result_bool (napi_env env, bool b)
{
  napi_value v;
  return napi_get_boolean(env, b, &v) == napi_ok ? v : NULL;
}

/*
 * swap(buf): make buf's bytes the main database of the kept connection (read-only, in place, as
 * the extension's load does), replacing the block it held: its schema and pages go with it. false
 * when no connection is kept or SQLite refuses (a transaction or a statement still open on it:
 * SQLITE_BUSY); the caller then closes it and opens a fresh one.
 * A statement prepared on the previous block is not expired by sqlite3_deserialize (its ATTACH
 * expires only itself): where both blocks have the same schema cookie (blocks built alike), it ran
 * the previous block's program, root pages included, on the new bytes. sqlite3_set_authorizer
 * expires every statement of the connection, so each is prepared again on the new schema at its
 * next step (no authorizer is ever set on a block connection: clearing it changes nothing else).
 */
static napi_value swap (napi_env env, napi_callback_info info)
{
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  size_t len = 0;
  void *data = NULL;
  if (!uint8_arg(env, argc, argv, "swap(buf): buf must be a Uint8Array", &data, &len)) return NULL;
  if (data == NULL || len == 0 || kept == NULL || sqlite3_api == NULL) return result_bool(env, false);
  int rc = sqlite3_deserialize(kept, "main", data, (sqlite3_int64)len, (sqlite3_int64)len, SQLITE_DESERIALIZE_READONLY);
  if (rc == SQLITE_OK) sqlite3_set_authorizer(kept, NULL, NULL);
  return result_bool(env, rc == SQLITE_OK);
}

/* forget(): no connection kept on this thread (called before JS closes it: swap never touches a closed one). */
static napi_value forget (napi_env env, napi_callback_info info)
{
  (void)info;
  kept = NULL;
  return result_bool(env, true);
}

__attribute__((visibility("default"))) int sqlite3_petalheld_init (sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
  SQLITE_EXTENSION_INIT2(api);
  unsigned char *p = held;
  size_t n = held_len;
  int keep = keep_next;
  held = NULL;
  held_len = 0;
  keep_next = 0;
  if (p == NULL) {
    *err = sqlite3_mprintf("petal-held-db: no bytes held on this thread");
    return SQLITE_ERROR;
  }
  if (sqlite3_libversion_number() < 3036000) {
    *err = sqlite3_mprintf("petal-held-db: SQLite %s has no sqlite3_deserialize in its extension API", sqlite3_libversion());
    return SQLITE_ERROR;
  }
  int rc = sqlite3_deserialize(db, "main", p, (sqlite3_int64)n, (sqlite3_int64)n, SQLITE_DESERIALIZE_READONLY);
  if (rc != SQLITE_OK) *err = sqlite3_mprintf("petal-held-db: sqlite3_deserialize failed (%d)", rc);
  else if (keep) kept = db;
  return rc;
}

NAPI_MODULE_INIT ()
{
  napi_property_descriptor props[] = {
    { "hold", NULL, hold, NULL, NULL, NULL, napi_enumerable, NULL },
    { "swap", NULL, swap, NULL, NULL, NULL, napi_enumerable, NULL },
    { "forget", NULL, forget, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  if (napi_define_properties(env, exports, 3, props) != napi_ok) return NULL;
  return exports;
}
