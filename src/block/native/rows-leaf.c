/*
 * One record's v2 leaf (docs/block-format.md): 0x00 ‖ u32 column count ‖ each column's tagged
 * value, written from SQLite's record bytes as fast-rows.ts's LeafWriter.onRecord writes it, for
 * the walker of rows-walk.c (included by rows.c). Every check of LeafWriter is made here too
 * (where it refuses a row, this code declines, and the JavaScript walker run on the table then
 * refuses it), and text is converted as it converts it: UTF-16 to UTF-8 refused with a lone
 * surrogate, invalid UTF-8 decoded as Node decodes it, one U+FFFD per maximal bad subpart.
 */

#define TAG_NULL 0
#define TAG_INTEGER 1
#define TAG_REAL 2
#define TAG_TEXT 3
#define TAG_BLOB 4

/* Content bytes of serial types 0…9. */
static const uint8_t FIXED[10] = { 0, 1, 2, 3, 4, 6, 8, 8, 0, 0 };

static void put32 (uint8_t *m, uint32_t v)
{
  m[0] = (uint8_t)(v >> 24);
  m[1] = (uint8_t)(v >> 16);
  m[2] = (uint8_t)(v >> 8);
  m[3] = (uint8_t)v;
}

static void put64 (uint8_t *m, uint64_t v)
{
  for (int k = 0; k < 8; k++) m[k] = (uint8_t)(v >> (56 - 8 * k));
}

/* The big-endian two's complement integer of serial type 1…6, 8 or 9 at s. */
static int64_t int_value (const uint8_t *s, uint64_t t)
{
  if (t == 8) return 0;
  if (t == 9) return 1;
  uint8_t n = FIXED[t];
  uint64_t v = (s[0] & 0x80) ? ~(uint64_t)0 : 0;
  for (uint8_t i = 0; i < n; i++) v = (v << 8) | s[i];
  return (int64_t)v;
}

/* Strict UTF-8 (node:buffer's isUtf8): no overlong form, no surrogate, nothing past U+10FFFF. */
static bool valid_utf8 (const uint8_t *s, uint64_t n)
{
  uint64_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) { i++; continue; }
    uint32_t need, min, cp;
    if (c >= 0xc2 && c <= 0xdf) { need = 1; min = 0x80; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; min = 0x800; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; min = 0x10000; cp = c & 0x07; }
    else return false;
    if (n - i <= need) return false;
    for (uint32_t k = 1; k <= need; k++) {
      uint8_t d = s[i + k];
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

static uint64_t put_utf8 (uint8_t *o, uint32_t u)
{
  if (u < 0x80) { o[0] = (uint8_t)u; return 1; }
  if (u < 0x800) { o[0] = (uint8_t)(0xc0 | u >> 6); o[1] = (uint8_t)(0x80 | (u & 0x3f)); return 2; }
  if (u < 0x10000) { o[0] = (uint8_t)(0xe0 | u >> 12); o[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3f)); o[2] = (uint8_t)(0x80 | (u & 0x3f)); return 3; }
  o[0] = (uint8_t)(0xf0 | u >> 18); o[1] = (uint8_t)(0x80 | ((u >> 12) & 0x3f)); o[2] = (uint8_t)(0x80 | ((u >> 6) & 0x3f)); o[3] = (uint8_t)(0x80 | (u & 0x3f));
  return 4;
}

/*
 * Text that is not valid UTF-8 as Node decodes it (buf.toString('utf8'), which better-sqlite3's
 * strings match): the WHATWG Encoding Standard's UTF-8 decoder, each maximal subpart of a bad
 * sequence one U+FFFD; written back as UTF-8 at o. Returns its length (at most 3n).
 */
static uint64_t utf8_replaced (const uint8_t *s, uint64_t n, uint8_t *o)
{
  uint64_t w = 0;
  uint32_t cp = 0, needed = 0, seen = 0;
  uint8_t lower = 0x80, upper = 0xbf;
  for (uint64_t i = 0; i < n;) {
    uint8_t b = s[i];
    if (needed == 0) {
      i++;
      if (b < 0x80) o[w++] = b;
      else if (b >= 0xc2 && b <= 0xdf) { needed = 1; cp = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) { if (b == 0xe0) lower = 0xa0; if (b == 0xed) upper = 0x9f; needed = 2; cp = b & 0x0f; }
      else if (b >= 0xf0 && b <= 0xf4) { if (b == 0xf0) lower = 0x90; if (b == 0xf4) upper = 0x8f; needed = 3; cp = b & 0x07; }
      else w += put_utf8(o + w, 0xfffd);
      continue;
    }
    if (b < lower || b > upper) {
      /* The sequence so far is one U+FFFD; this byte is read again as a first byte. */
      cp = needed = seen = 0;
      lower = 0x80;
      upper = 0xbf;
      w += put_utf8(o + w, 0xfffd);
      continue;
    }
    i++;
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen == needed) {
      w += put_utf8(o + w, cp);
      cp = needed = seen = 0;
    }
  }
  if (needed != 0) w += put_utf8(o + w, 0xfffd);
  return w;
}

/* UTF-16 text of n bytes (big-endian or not) as UTF-8 at o; its length, or -1 for a lone surrogate. */
static int64_t utf16_to_utf8 (const uint8_t *s, uint64_t n, bool be, uint8_t *o)
{
  uint64_t w = 0;
  for (uint64_t i = 0; i < n; i += 2) {
    uint32_t u = be ? ((uint32_t)s[i] << 8 | s[i + 1]) : ((uint32_t)s[i + 1] << 8 | s[i]);
    if (u >= 0xd800 && u <= 0xdbff) {
      if (i + 2 >= n) return -1;
      uint32_t v = be ? ((uint32_t)s[i + 2] << 8 | s[i + 3]) : ((uint32_t)s[i + 3] << 8 | s[i + 2]);
      if (v < 0xdc00 || v > 0xdfff) return -1;
      u = 0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00);
      i += 2;
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      return -1;
    }
    w += put_utf8(o + w, u);
  }
  return (int64_t)w;
}

/* One stored value of serial type t at s, encoded at m; returns the bytes written, or -1 to decline. */
static int64_t leaf_value (const walk *w, uint64_t t, const uint8_t *s, bool real, uint8_t *m)
{
  if (t == 0) { m[0] = TAG_NULL; return 1; }
  if (t <= 6 || t == 8 || t == 9) {
    int64_t v = int_value(s, t);
    if (real) {
      double d = (double)v;
      uint64_t bits;
      memcpy(&bits, &d, 8);
      m[0] = TAG_REAL;
      put64(m + 1, bits);
      return 9;
    }
    m[0] = TAG_INTEGER;
    put64(m + 1, (uint64_t)v);
    return 9;
  }
  if (t == 7) {
    uint64_t bits = 0;
    for (int k = 0; k < 8; k++) bits = (bits << 8) | s[k];
    /* SQLite reads a stored NaN as NULL. */
    if ((bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (bits & 0x000fffffffffffffull) != 0) { m[0] = TAG_NULL; return 1; }
    m[0] = TAG_REAL;
    memcpy(m + 1, s, 8);
    return 9;
  }
  if (t < 12) return -1;
  uint64_t n = (t - 12) / 2;
  if ((t & 1) == 0) {
    m[0] = TAG_BLOB;
    put32(m + 1, (uint32_t)n);
    memcpy(m + 5, s, n);
    return (int64_t)(5 + n);
  }
  m[0] = TAG_TEXT;
  if (w->encoding == ENCODING_UTF8) {
    if (!valid_utf8(s, n)) {
      uint64_t len = utf8_replaced(s, n, m + 5);
      put32(m + 1, (uint32_t)len);
      return (int64_t)(5 + len);
    }
    put32(m + 1, (uint32_t)n);
    memcpy(m + 5, s, n);
    return (int64_t)(5 + n);
  }
  if ((n & 1) != 0) return -1;
  int64_t len = utf16_to_utf8(s, n, w->encoding == ENCODING_UTF16BE, m + 5);
  if (len < 0) return -1;
  put32(m + 1, (uint32_t)len);
  return 5 + len;
}

/*
 * The record of len bytes at r (its rowid in w->rowid for a rowid table) as a leaf committed to
 * w->m; 0, or a decline code. Bytes past the record are never read: a header whose varints would
 * reach them is refused whatever they hold (its sizes cannot then agree), as LeafWriter refuses it.
 */
static int leaf_record (walk *w, const uint8_t *r, uint64_t len)
{
  uint64_t hdr;
  unsigned vl;
  if (small_varint(r, len, 0, &hdr, &vl) != 0 || hdr > len || hdr < 1) return DECLINE_RECORD;
  uint64_t q = vl, end = hdr, body = end;
  uint32_t nf = 0;
  while (q < end) {
    uint64_t t = r[q];
    if (t < 0x80) q++;
    else { if (small_varint(r, len, q, &t, &vl) != 0) return DECLINE_RECORD; q += vl; }
    /* More fields than the table has columns: LeafWriter refuses it once the header is read. */
    if (nf == w->ncols) return DECLINE_RECORD;
    w->types[nf] = t;
    w->offs[nf] = body;
    body += t < 12 ? (t < 10 ? FIXED[t] : 0) : (t - 12) / 2;
    /* Sizes only grow: past the record they cannot come back to its end. */
    if (body > len) return DECLINE_RECORD;
    nf++;
  }
  if (q != end || body != len) return DECLINE_RECORD;
  uint32_t ncols = w->ncols;
  uint64_t max = 5 + 9 * (uint64_t)ncols + 3 * len;
  uint8_t *m = merkle_begin(&w->m, max);
  if (m == NULL) return DECLINE_MEMORY;
  m[0] = 0x00;
  put32(m + 1, ncols);
  uint64_t o = 5;
  for (uint32_t c = 0; c < ncols; c++) {
    int32_t f = w->fields[c];
    if (f < 0) {
      m[o] = TAG_INTEGER;
      put64(m + o + 1, w->rowid);
      o += 9;
    } else if ((uint32_t)f >= nf) {
      if (w->flags[c] & FLAG_DEFAULT) return DECLINE_DEFAULT;
      m[o++] = TAG_NULL;
    } else {
      int64_t k = leaf_value(w, w->types[f], r + w->offs[f], (w->flags[c] & FLAG_REAL) != 0, m + o);
      if (k < 0) return DECLINE_VALUE;
      o += (uint64_t)k;
    }
  }
  if (o > max) return DECLINE_RECORD;
  merkle_commit(&w->m, o);
  return 0;
}
