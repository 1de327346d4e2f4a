/*
 * Which keys hold the process's MAX_TABLES per-key P-256 tables (included by p256-table.c, after
 * comb_of_point and g_init). A key gets a table at its TABLE_USES-th verification in a thread. When
 * MAX_TABLES are alive, it takes the table of its own thread's least recently used key, but only of
 * one left unused for more of this thread's verifications than the new key took to earn its
 * TABLE_USES: a signer that has gone cold gives its table to one that has become hot, while signers
 * in strict rotation (each idle for fewer than N verifications, each needing 63·N to earn a table)
 * never take each other's, so no table is rebuilt in turn at ~29 M instructions a build
 * (docs/performance/verify.md, "Session 27: P-256 table eviction (lru27)"). Before this the first 32 keys
 * kept the tables for the life of the process, however cold.
 *
 * Threads: a key object belongs to one thread (a handle is an external of one Node environment),
 * which alone verifies with its table, reads and writes its uses and thread_clock, and evicts: only its
 * own keys, so no table is freed under another thread's verification. The list of holders and the
 * count of live tables are shared, under held_mu, taken only when a key earns a table (never on a
 * verification that has one, nor on one that does not) and when a key with a table is freed.
 */
typedef struct {
  uint32_t uses;     /* verifications since `since`, while the key has no table */
  int slot;          /* index in held[], or -1 (no table, or a test's past the cap) */
  uint64_t since;    /* the owner thread's thread_clock when `uses` last started from 0 */
  uint64_t last;     /* the owner thread's thread_clock at the key's last verification */
  const void *owner; /* the owner thread: the address of its `thread_clock` */
  comb *table;
} key_extra;

static _Thread_local uint64_t thread_clock; /* this thread's verifications through table_of */
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static key_extra *held[MAX_TABLES]; /* the keys with a table, under held_mu */
static int n_held;                  /* under held_mu */
static int key_extra_index = -1;
/* Atomic, read by p256Tables (tests): key tables alive (held, and tests' past the cap), built, and
 * taken from a colder key. */
static int live_tables;
static uint32_t tables_built, tables_evicted;

/* Takes e out of held[] (the last entry moves into its slot). Under held_mu. */
static void unhold (key_extra *e)
{
  if (e->slot < 0) return;
  held[e->slot] = held[--n_held];
  held[e->slot]->slot = e->slot;
  e->slot = -1;
}

/* Gives up e's place among the live tables (its table freed, or never built). */
static void release (key_extra *e)
{
  pthread_mutex_lock(&held_mu);
  unhold(e);
  __atomic_sub_fetch(&live_tables, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&held_mu);
}

static void key_extra_free (void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
  (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
  key_extra *e = ptr;
  if (e == NULL) return;
  if (e->table != NULL) release(e);
  free(e->table);
  free(e);
}

/* OpenSSL keeps key_extra_free for the life of the process and calls it at every EC_KEY_free, the
 * node:crypto keys' too; Node unloads (dlclose) an addon when the last environment that loaded it
 * ends (a worker thread's, the main thread never having loaded it), and the next EC key freed
 * called into unmapped code. So the addon is made never to unload (RTLD_NODELETE) before the
 * function is registered; without that, no tables. */
static void once_init (void)
{
  Dl_info self;
  if (dladdr((void *)key_extra_free, &self) == 0 || self.dli_fname == NULL ||
      dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE) == NULL) return;
  key_extra_index = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, key_extra_free);
  if (key_extra_index >= 0) nz_init();
}

/* A place for e's table: a free one; else (evict) the table of this thread's least recently used
 * key idle for more than `took` verifications, freed here; else (past_cap) one past MAX_TABLES.
 * false when none. */
static bool reserve (key_extra *e, uint64_t took, bool evict, bool past_cap)
{
  comb *old = NULL;
  bool ok = true;
  pthread_mutex_lock(&held_mu);
  if (__atomic_load_n(&live_tables, __ATOMIC_RELAXED) < MAX_TABLES && n_held < MAX_TABLES) {
    held[n_held] = e;
    e->slot = n_held++;
    __atomic_add_fetch(&live_tables, 1, __ATOMIC_RELAXED);
  } else {
    key_extra *v = NULL;
    for (int i = 0; evict && i < n_held; i++) {
      key_extra *h = held[i];
      if (h->owner == &thread_clock && h->table != NULL && thread_clock - h->last > took && (v == NULL || h->last < v->last)) v = h;
    }
    if (v != NULL) {
      old = v->table;
      v->table = NULL;
      v->uses = 0;
      v->since = thread_clock;
      held[v->slot] = e;
      e->slot = v->slot;
      v->slot = -1;
      __atomic_add_fetch(&tables_evicted, 1, __ATOMIC_RELAXED);
    } else if (past_cap) __atomic_add_fetch(&live_tables, 1, __ATOMIC_RELAXED);
    else ok = false;
  }
  pthread_mutex_unlock(&held_mu);
  free(old);
  return ok;
}

/* The key's table once it has been used TABLE_USES times, else NULL. force (tests): at once, and
 * never in a colder key's place; past MAX_TABLES too with past_cap (tests of the table arithmetic:
 * the cap had sent a test's later keys to ECDSA_do_verify unseen). */
static const comb *table_of (EC_KEY *k, bool force, bool past_cap)
{
  pthread_once(&nz_once, once_init);
  if (!nz_ok) return NULL;
  uint64_t now = ++thread_clock;
  key_extra *e = EC_KEY_get_ex_data(k, key_extra_index);
  if (e == NULL) {
    if ((e = calloc(1, sizeof *e)) == NULL) return NULL;
    e->slot = -1;
    e->owner = &thread_clock;
    e->since = now - 1;
    if (EC_KEY_set_ex_data(k, key_extra_index, e) != 1) { free(e); return NULL; }
  }
  e->last = now;
  if (e->table == NULL && (force || ++e->uses >= TABLE_USES) && EC_KEY_get0_public_key(k) != NULL) {
    uint64_t took = now - e->since; /* this thread's verifications while the key earned its table */
    e->uses = 0; /* a failed build (or no place) is tried again TABLE_USES verifications later */
    e->since = now;
    pthread_once(&g_once, g_init);
    if (g_comb == NULL) return NULL;
    if (reserve(e, took, !force, past_cap)) {
      if ((e->table = comb_of_point(EC_KEY_get0_group(k), EC_KEY_get0_public_key(k))) != NULL) __atomic_add_fetch(&tables_built, 1, __ATOMIC_RELAXED);
      else {
        release(e);
        ERR_clear_error(); /* a failed build's reason (out of memory), not node:crypto's */
      }
    }
  }
  return e->table;
}

/* Whether the key has a table now (tests). */
static bool has_table (EC_KEY *k)
{
  pthread_once(&nz_once, once_init);
  key_extra *e = key_extra_index < 0 ? NULL : EC_KEY_get_ex_data(k, key_extra_index);
  return e != NULL && e->table != NULL;
}
