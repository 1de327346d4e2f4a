/*
 * The row walker's leaves hashed into an RFC 6962 root (included by rows.c). Each leaf is written
 * into `msg` framed and padded for SHA-256 (as merkle-batch.ts's commit pads it), hashed four at a
 * time with SHA-NI where sha256-core.c's `lanes` is 4, and the digests folded into perfect
 * subtrees exactly as MerkleBatch.fold and MerkleBuilder.pushSubtree fold them: a run of 2^j leaves
 * aligned on a multiple of 2^j, pushed onto a stack that merges equal sizes. The root is the
 * stack folded right to left (MerkleBuilder.root), SHA-256 of nothing for no leaves.
 */

/* Leaves hashed per batch (a power of two), and the framed bytes after which a batch is hashed. */
#define LEAF_BATCH 4096
#define FLUSH_BYTES (1u << 20)

typedef struct subtree { uint8_t hash[32]; uint64_t size; } subtree;

typedef struct merkle {
  uint8_t *msg;            /* framed leaves, back to back */
  size_t msg_cap, msg_len;
  size_t at[LEAF_BATCH];   /* where leaf i of the batch starts in msg */
  uint64_t blocks[LEAF_BATCH];
  uint32_t pending;
  uint8_t dig[LEAF_BATCH * 32];
  subtree stack[66];
  int depth;
  uint64_t count;          /* leaves pushed onto the stack */
} merkle;

static void merkle_reset (merkle *m)
{
  m->msg_len = 0;
  m->pending = 0;
  m->depth = 0;
  m->count = 0;
}

/* SHA-256(0x01 ‖ l ‖ r) to o (o may be l). */
static void node_hash (const uint8_t *l, const uint8_t *r, uint8_t *o)
{
  uint8_t q[128];
  memset(q, 0, sizeof q);
  q[0] = 0x01;
  memcpy(q + 1, l, 32);
  memcpy(q + 33, r, 32);
  q[65] = 0x80;
  q[126] = 0x02;
  q[127] = 0x08;
  one_message(q, 2, o);
}

/* The n pairs of digests at d hashed into d's first n digests (pair i read before digest i is written). */
static void pairs_in_place (uint8_t *d, uint64_t n)
{
  uint64_t i = 0;
#ifdef PETAL_SHANI
  if (lanes == 4) {
    uint8_t q[4][128];
    for (int l = 0; l < 4; l++) {
      memset(q[l], 0, 128);
      q[l][0] = 0x01;
      q[l][65] = 0x80;
      q[l][126] = 0x02;
      q[l][127] = 0x08;
    }
    const uint8_t *p[4] = { q[0], q[1], q[2], q[3] };
    const uint64_t two[4] = { 2, 2, 2, 2 };
    for (; i + 4 <= n; i += 4) {
      for (int l = 0; l < 4; l++) memcpy(q[l] + 1, d + 64 * (i + l), 64);
      uint8_t *o[4] = { d + 32 * i, d + 32 * (i + 1), d + 32 * (i + 2), d + 32 * (i + 3) };
      four_messages(p, two, o);
    }
  }
#endif
  for (; i < n; i++) node_hash(d + 64 * i, d + 64 * i + 32, d + 32 * i);
}

/* MerkleBuilder.pushSubtree. */
static void push_subtree (merkle *m, const uint8_t *hash, uint64_t size)
{
  subtree node;
  memcpy(node.hash, hash, 32);
  node.size = size;
  while (m->depth > 0 && m->stack[m->depth - 1].size == node.size) {
    subtree *top = &m->stack[--m->depth];
    node_hash(top->hash, node.hash, node.hash);
    node.size *= 2;
  }
  m->stack[m->depth++] = node;
  m->count += size;
}

/* Hash the batch's leaves and fold their digests onto the stack (MerkleBatch.flush and fold). */
static void merkle_flush (merkle *m)
{
  uint32_t n = m->pending;
  if (n == 0) return;
  uint32_t i = 0;
#ifdef PETAL_SHANI
  if (lanes == 4) {
    for (; i + 4 <= n; i += 4) {
      const uint8_t *p[4] = { m->msg + m->at[i], m->msg + m->at[i + 1], m->msg + m->at[i + 2], m->msg + m->at[i + 3] };
      const uint64_t b[4] = { m->blocks[i], m->blocks[i + 1], m->blocks[i + 2], m->blocks[i + 3] };
      uint8_t *o[4] = { m->dig + 32 * i, m->dig + 32 * (i + 1), m->dig + 32 * (i + 2), m->dig + 32 * (i + 3) };
      four_messages(p, b, o);
    }
  }
#endif
  for (; i < n; i++) one_message(m->msg + m->at[i], m->blocks[i], m->dig + 32 * i);
  uint64_t off = 0, left = n;
  while (left > 0) {
    uint64_t size = 1, before = m->count;
    while (size * 2 <= left && (before == 0 || before % (size * 2) == 0)) size *= 2;
    uint8_t *d = m->dig + 32 * off;
    for (uint64_t s = size; s > 1; s /= 2) pairs_in_place(d, s / 2);
    push_subtree(m, d, size);
    off += size;
    left -= size;
  }
  m->pending = 0;
  m->msg_len = 0;
}

/* Room for a leaf of up to `max` bytes; its data goes at the returned pointer (NULL: no memory). */
static uint8_t *merkle_begin (merkle *m, uint64_t max)
{
  uint64_t need = max + 72;
  if (m->msg_len + need > m->msg_cap) {
    size_t cap = m->msg_cap == 0 ? FLUSH_BYTES + 65536 : m->msg_cap;
    while (cap < m->msg_len + need) cap *= 2;
    uint8_t *b = realloc(m->msg, cap);
    if (b == NULL) return NULL;
    m->msg = b;
    m->msg_cap = cap;
  }
  return m->msg + m->msg_len;
}

/* The leaf written at merkle_begin's pointer is `len` bytes: pad it (padMessage) and count it. */
static void merkle_commit (merkle *m, uint64_t len)
{
  uint8_t *p = m->msg + m->msg_len;
  uint64_t blocks = ((len + 8) >> 6) + 1;
  uint64_t end = blocks * 64;
  p[len] = 0x80;
  memset(p + len + 1, 0, end - 8 - len - 1);
  uint64_t bits = len * 8;
  for (int k = 0; k < 8; k++) p[end - 1 - k] = (uint8_t)(bits >> (8 * k));
  m->at[m->pending] = m->msg_len;
  m->blocks[m->pending] = blocks;
  m->pending++;
  m->msg_len += end;
  if (m->pending == LEAF_BATCH || m->msg_len >= FLUSH_BYTES) merkle_flush(m);
}

/* The root (MerkleBuilder.root) of every leaf committed. */
static void merkle_root (merkle *m, uint8_t out[32])
{
  merkle_flush(m);
  if (m->depth == 0) {
    static const uint8_t empty[32] = {
      0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
      0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55
    };
    memcpy(out, empty, 32);
    return;
  }
  uint8_t acc[32];
  memcpy(acc, m->stack[m->depth - 1].hash, 32);
  for (int i = m->depth - 2; i >= 0; i--) node_hash(m->stack[i].hash, acc, acc);
  memcpy(out, acc, 32);
}
