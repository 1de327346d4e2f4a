/*
 * The wal-index header of a WAL database, read and marked through SQLite's own mapping of its
 * -shm (src/storage/wal-index.ts loads this into chain.db's and pending.db's connections;
 * scripts/build-native.ts builds it into dist/native/petal-wal-index.node). An SQLite extension
 * (sqlite3_petalwal_init) that registers one SQL function on the connection that loads it:
 *
 *   petal_wal_index(0): the wal-index header's mxFrame (frames the log holds as committed), or
 *     NULL when the header is not initialised or its two copies differ (a torn header: SQLite
 *     itself would rebuild it from the log) or there is no mapped wal-index.
 *   petal_wal_index(1): clear the header's isInit, so that the next transaction of any connection
 *     rebuilds the wal-index from the log (walIndexTryHdr takes the header as torn), as the first
 *     open after a crash does. Returns 1 when done. Only under SQLite's write lock (BEGIN IMMEDIATE).
 *   petal_wal_index(2): the frames the log held after this connection's last commit (what SQLite's
 *     WAL hook was told), 0 before its first; src/storage/wal-checkpoint.ts runs a checkpoint when due.
 *   petal_wal_index(3): the frames a checkpoint has copied, or begun to copy, into the database
 *     (the checkpoint header's nBackfill and nBackfillAttempted, the larger), NULL as for 0. The
 *     pages of those frames may be in the database already: a rebuild that ends the log before one
 *     of them would put older versions of its pages back over it (review39).
 *
 * Loading it also turns off the two checkpoints SQLite runs by itself, which copy what the
 * wal-index names unchecked (docs/data-directory.md, "A log that no longer reads as written"):
 * the automatic one after a commit (a WAL hook of its own replaces SQLite's default one, which ran
 * it past 1,000 frames; this one only records the count), and the last connection's at close
 * (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE: the -wal and -shm are left as a crash leaves them, and the
 * next first opener's recovery reads the log from the disk). better-sqlite3 exposes neither.
 *
 * Why not a descriptor of our own on the -shm: closing any descriptor of a file drops every POSIX
 * (fcntl) lock the process holds on it, SQLite's wal-index locks included (the revert of 989d6f3,
 * docs/data-directory.md). Here nothing is opened or closed: the connection's main file gives its
 * VFS handle (SQLITE_FCNTL_FILE_POINTER), whose xShmMap returns the region SQLite already mapped.
 * An SQLite extension only, loaded by better-sqlite3's loadExtension with its entry point (and so
 * by the build, to check that it loads): no Node addon, so a C compiler is all it needs (until
 * session 40 it included node_api.h for a Node addon with no exports, and a Node without its
 * headers made Petal read-only).
 */
#include <sqlite3ext.h>
#include <stdint.h>
#include <string.h>

SQLITE_EXTENSION_INIT1

/* The wal-index header (sqlite3.c, WalIndexHdr): 48 bytes, twice at the start of region 0, native byte order. */
#define HDR_SIZE 48
#define HDR_IS_INIT 12
#define HDR_MX_FRAME 16
/* The checkpoint header (WalCkptInfo) after the two copies: nBackfill, and nBackfillAttempted after aReadMark[5] and aLock[8]. */
#define CKPT_BACKFILL (2 * HDR_SIZE)
#define CKPT_BACKFILL_ATTEMPTED (2 * HDR_SIZE + 32)
/* Region 0's size as SQLite maps it (WALINDEX_PGSZ). */
#define REGION 32768

static volatile unsigned char *header (sqlite3 *db)
{
  sqlite3_file *f = NULL;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || f == NULL) return NULL;
  const sqlite3_io_methods *m = f->pMethods;
  if (m == NULL || m->iVersion < 2 || m->xShmMap == NULL) return NULL;
  void volatile *p = NULL;
  /* bExtend 0: never creates or grows the -shm; NULL when SQLite has not mapped it. */
  if (m->xShmMap(f, 0, REGION, 0, &p) != SQLITE_OK || p == NULL) return NULL;
  if (m->xShmBarrier != NULL) m->xShmBarrier(f);
  return (volatile unsigned char *)p;
}

static void wal_index (sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  int op = argc > 0 ? sqlite3_value_int(argv[0]) : 0;
  if (op == 2) { sqlite3_result_int(ctx, *(int *)sqlite3_user_data(ctx)); return; }
  volatile unsigned char *h = header(sqlite3_context_db_handle(ctx));
  if (h == NULL) { sqlite3_result_null(ctx); return; }
  unsigned char a[HDR_SIZE], b[HDR_SIZE];
  for (int i = 0; i < HDR_SIZE; i++) { a[i] = h[i]; b[i] = h[HDR_SIZE + i]; }
  if (op == 1) {
    h[HDR_IS_INIT] = 0;
    sqlite3_result_int(ctx, 1);
    return;
  }
  if (memcmp(a, b, HDR_SIZE) != 0 || a[HDR_IS_INIT] == 0) { sqlite3_result_null(ctx); return; }
  if (op == 3) {
    uint32_t done, tried;
    unsigned char c[4];
    for (int i = 0; i < 4; i++) c[i] = h[CKPT_BACKFILL + i];
    memcpy(&done, c, sizeof done);
    for (int i = 0; i < 4; i++) c[i] = h[CKPT_BACKFILL_ATTEMPTED + i];
    memcpy(&tried, c, sizeof tried);
    sqlite3_result_int64(ctx, (sqlite3_int64)(done > tried ? done : tried));
    return;
  }
  uint32_t mx;
  memcpy(&mx, a + HDR_MX_FRAME, sizeof mx);
  sqlite3_result_int64(ctx, (sqlite3_int64)mx);
}

/* SQLite's WAL hook: called after each commit with the log's frame count. Never checkpoints. */
static int wal_hook (void *arg, sqlite3 *db, const char *name, int frames)
{
  (void)db;
  if (strcmp(name, "main") == 0) *(int *)arg = frames;
  return SQLITE_OK;
}

__attribute__((visibility("default"))) int sqlite3_petalwal_init (sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
  SQLITE_EXTENSION_INIT2(api);
  int off = 0;
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &off) != SQLITE_OK || off != 1) {
    *err = sqlite3_mprintf("cannot turn off the checkpoint on close");
    return SQLITE_ERROR;
  }
  /* The connection's last commit's frame count, freed with the function at the connection's close. */
  int *frames = sqlite3_malloc(sizeof *frames);
  if (frames == NULL) return SQLITE_NOMEM;
  *frames = 0;
  /* DIRECTONLY: never from a trigger or a view a database file could carry. */
  int rc = sqlite3_create_function_v2(db, "petal_wal_index", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, frames, wal_index, NULL, NULL, sqlite3_free);
  if (rc != SQLITE_OK) return rc;
  sqlite3_wal_hook(db, wal_hook, frames);
  return SQLITE_OK;
}
