// Limits of the download window (download.ts).

// A range request (`blocks`) takes up to this many bytes of consecutive blocks of one peer, and
// blocks up to RANGE_BLOCK_BYTES only. A stream of its own per block started each 1 MB block at
// yamux's initial 256 KiB window, so it took several round trips of window updates; a range's
// stream grows its window once and keeps it. Larger blocks grow the window within the block.
// A whole range fits the stream's 8 MiB read buffer with room to spare (its frames, a stalled disk).
export const RANGE_MAX_BYTES = 6 * 1024 * 1024
export const RANGE_BLOCK_BYTES = 6 * 1024 * 1024

// The most blocks (and bytes) placed as one group: one journal, one round of fsyncs, one index transaction.
export const MAX_GROUP = 256
export const MAX_GROUP_BYTES = 256 * 1024 * 1024

// The longest the loop sleeps without news (downloads finishing wake it at once).
export const MAX_IDLE_MS = 1_000
