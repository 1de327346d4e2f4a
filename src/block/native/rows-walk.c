/*
 * The b-tree walk of btree.ts and page-file.ts in C (included by rows.c): a table b-tree in rowid
 * order, or an index b-tree (WITHOUT ROWID tables, whose interior cells are rows too), over the
 * file's bytes held in memory, with overflow chains. It makes every check btree.ts makes (the page
 * header checks of pageType, a page reached twice, a page out of range, depth, a cell past its
 * page, an overflow chain ending early or running long, a payload over 16 MiB), in the same order
 * of pages, so that it completes on exactly the files the JavaScript walker completes on; where
 * that one throws BtreeUnsupported, this one returns a decline code. Bytes are read through
 * bounds-checked helpers: nothing is read outside the page or record being read (a byte past a
 * page reads as 0, as btree.ts's `page[i] ?? 0`).
 */

#define PAGE_TABLE_INTERIOR 0x05
#define PAGE_TABLE_LEAF 0x0d
#define PAGE_INDEX_INTERIOR 0x02
#define PAGE_INDEX_LEAF 0x0a
/* SQLite's BTCURSOR_MAX_DEPTH: a b-tree whose page would be the 21st is corrupt. */
#define MAX_DEPTH 20
/* Rows larger than this are read through SQLite (page-file.ts's MAX_PAYLOAD). */
#define MAX_PAYLOAD (16u << 20)

static inline uint8_t byte_at (const uint8_t *b, uint64_t len, uint64_t i)
{
  return i < len ? b[i] : 0;
}

static inline uint32_t u32_at (const uint8_t *b, uint64_t len, uint64_t i)
{
  return (uint32_t)byte_at(b, len, i) << 24 | (uint32_t)byte_at(b, len, i + 1) << 16 | (uint32_t)byte_at(b, len, i + 2) << 8 | byte_at(b, len, i + 3);
}

/* SQLite varint at b[p…] (bytes past len read as 0): its value and length (btree.ts's varint). */
static void varint (const uint8_t *b, uint64_t len, uint64_t p, uint64_t *v, unsigned *vl)
{
  uint8_t x = byte_at(b, len, p);
  if (x < 0x80) { *v = x; *vl = 1; return; }
  uint64_t r = x & 0x7f;
  for (unsigned i = 1; i < 9; i++) {
    x = byte_at(b, len, p + i);
    if (i == 8) { *v = (r << 8) | x; *vl = 9; return; }
    r = (r << 7) | (x & 0x7f);
    if (x < 0x80) { *v = r; *vl = i + 1; return; }
  }
}

/* A varint that must be a small non-negative count (btree.ts's smallVarint: below 2^53). */
static int small_varint (const uint8_t *b, uint64_t len, uint64_t p, uint64_t *v, unsigned *vl)
{
  varint(b, len, p, v, vl);
  return (*v >> 32) > 0x1fffff ? DECLINE_VARINT : 0;
}

/* PageFile.mark: page n is in range and used once. */
static int mark (walk *w, uint64_t n)
{
  if (n < 1 || n > w->pages) return DECLINE_RANGE;
  uint8_t bit = (uint8_t)(1u << (n & 7));
  if (w->visited[n >> 3] & bit) return DECLINE_TWICE;
  w->visited[n >> 3] |= bit;
  return 0;
}

static inline const uint8_t *page_of (const walk *w, uint64_t n)
{
  return w->file + (n - 1) * w->page_size;
}

/* btree.ts's pageType: the b-tree header of page n checked; its offset, kind and cell count. */
static int page_type (const walk *w, const uint8_t *page, uint64_t n, bool root, uint32_t *h, bool *leaf, uint32_t *cells)
{
  const uint64_t ps = w->page_size;
  uint32_t at0 = n == 1 ? 100 : 0;
  uint8_t type = byte_at(page, ps, at0);
  bool is_leaf = type == (w->index ? PAGE_INDEX_LEAF : PAGE_TABLE_LEAF);
  if (!is_leaf && type != (w->index ? PAGE_INDEX_INTERIOR : PAGE_TABLE_INTERIOR)) return DECLINE_PAGE;
  uint32_t count = (uint32_t)byte_at(page, ps, at0 + 3) << 8 | byte_at(page, ps, at0 + 4);
  if (count > (w->page_size - 8) / 6) return DECLINE_PAGE;
  if (count == 0 && (!root || (!is_leaf && n != 1))) return DECLINE_PAGE;
  uint32_t hsize = is_leaf ? 8 : 12;
  uint64_t first = at0 + hsize + 2 * (uint64_t)count;
  uint64_t last = w->usable - (is_leaf ? 4 : 5);
  for (uint32_t i = 0; i < count; i++) {
    uint64_t p = at0 + hsize + 2 * (uint64_t)i;
    uint64_t at = (uint64_t)byte_at(page, ps, p) << 8 | byte_at(page, ps, p + 1);
    if (at < first || at > last) return DECLINE_PAGE;
    if (!is_leaf && !w->index) {
      uint64_t k = at + 4;
      while (k < at + 12 && byte_at(page, ps, k) >= 0x80) k++;
      if (k + 1 > w->usable) return DECLINE_PAGE;
    }
  }
  *h = at0;
  *leaf = is_leaf;
  *cells = count;
  return 0;
}

static uint32_t cell_at (const uint8_t *page, uint64_t ps, uint32_t h, uint32_t hsize, uint32_t i)
{
  uint64_t p = h + hsize + 2 * (uint64_t)i;
  return (uint32_t)byte_at(page, ps, p) << 8 | byte_at(page, ps, p + 1);
}

/* btree.ts's localSize: bytes of a payload of `total` stored on its b-tree page. */
static uint64_t local_size (uint64_t usable, uint64_t total, bool index)
{
  uint64_t x = index ? (usable - 12) * 64 / 255 - 23 : usable - 35;
  if (total <= x) return total;
  uint64_t m = (usable - 12) * 32 / 255 - 23;
  uint64_t k = m + ((total - m) % (usable - 4));
  return k <= x ? k : m;
}

/* PageFile.assemble: the payload whose first `local` bytes are at page[at…], then its overflow chain, into w->ovf. */
static int assemble (walk *w, const uint8_t *page, uint64_t at, uint64_t local, uint64_t total)
{
  if (total > MAX_PAYLOAD) return DECLINE_PAYLOAD;
  if (w->ovf_cap < total) {
    uint8_t *b = realloc(w->ovf, total);
    if (b == NULL) return DECLINE_MEMORY;
    w->ovf = b;
    w->ovf_cap = total;
  }
  memcpy(w->ovf, page + at, local);
  uint64_t next = u32_at(page, w->page_size, at + local);
  uint64_t have = local, chunk = w->usable - 4;
  while (have < total) {
    if (next == 0) return DECLINE_CHAIN;
    int e = mark(w, next);
    if (e != 0) return e;
    const uint8_t *p = page_of(w, next);
    uint64_t n = total - have < chunk ? total - have : chunk;
    memcpy(w->ovf + have, p + 4, n);
    have += n;
    next = u32_at(p, w->page_size, 0);
  }
  return next != 0 ? DECLINE_CHAIN : 0;
}

/* btree.ts's emitCell: the cell at page[at…] as a leaf of the tree. */
static int emit_cell (walk *w, const uint8_t *page, uint64_t at)
{
  const uint64_t ps = w->page_size;
  uint64_t total;
  unsigned vl;
  int e = small_varint(page, ps, at, &total, &vl);
  if (e != 0) return e;
  uint64_t p = at + vl;
  if (!w->index) {
    varint(page, ps, p, &w->rowid, &vl);
    p += vl;
  }
  uint64_t local = local_size(w->usable, total, w->index);
  if (p + local + (local < total ? 4 : 0) > w->usable) return DECLINE_CELL;
  if (local == total) return leaf_record(w, page + p, total);
  e = assemble(w, page, p, local, total);
  return e != 0 ? e : leaf_record(w, w->ovf, total);
}

/* btree.ts's walkPage: the rows of the subtree at page n, `depth` below the root. */
static int walk_page (walk *w, uint64_t n, unsigned depth)
{
  if (depth >= MAX_DEPTH) return DECLINE_DEPTH;
  int e = mark(w, n);
  if (e != 0) return e;
  const uint8_t *page = page_of(w, n);
  const uint64_t ps = w->page_size;
  uint32_t h, cells;
  bool leaf;
  e = page_type(w, page, n, depth == 0, &h, &leaf, &cells);
  if (e != 0) return e;
  if (leaf) {
    for (uint32_t i = 0; i < cells; i++) {
      e = emit_cell(w, page, cell_at(page, ps, h, 8, i));
      if (e != 0) return e;
    }
    w->rows += cells;
    return 0;
  }
  for (uint32_t i = 0; i < cells; i++) {
    uint32_t at = cell_at(page, ps, h, 12, i);
    e = walk_page(w, u32_at(page, ps, at), depth + 1);
    if (e != 0) return e;
    if (w->index) {
      e = emit_cell(w, page, at + 4);
      if (e != 0) return e;
      w->rows++;
    }
  }
  return walk_page(w, u32_at(page, ps, h + 8), depth + 1);
}
