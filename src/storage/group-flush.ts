import { writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { failpoint } from '../util/index.js'
import { writeSmallFileNative } from '../crypto/index.js'
import { prepareBlocks } from './block-files.js'
import { sealPathOf } from './layout.js'
import { syncFileSystem, syncfsWanted } from './syncfs.js'

/**
 * A block of a group to be made durable in tmp/: its file, its seal, whether a load thread
 * flushed both already (`prepared`), or wrote the `.sig` without flushing it (`sealWritten`).
 */
export interface GroupFile { file: string, seal: string, prepared?: boolean, sealWritten?: boolean }

/** A seal file's text, written in place beside its block in tmp/ (no fsync): one native call where the addon is loaded. */
function writeSealInPlace (file: string, seal: string): void {
  const path = sealPathOf(file)
  const text = seal + '\n'
  if (writeSmallFileNative(path, text) !== 0) writeFileSync(path, text)
}

/**
 * The `.sig` of a small block written beside its private file in tmp/, unflushed, by the load
 * thread that checked it, so that creating it (a new inode: ext4's scan of recently freed ones,
 * docs/performance/catchup.md, "Session 36: catch-up") is not the pulling main thread's work. A group
 * placed by one syncfs then has nothing left to write; one flushed file by file writes it again
 * (the same bytes) and fsyncs it. false: not written (the group writes it, and reports a failure).
 */
export function writeSealUnflushed (file: string, seal: string): boolean {
  try {
    writeSealInPlace(file, seal)
    return true
  } catch {
    return false
  }
}

/**
 * prepareBlocks for a group's placement, by the cheaper of two ways: each file and its `.sig`
 * fsynced (libuv's four threads, two fsyncs per block), or, for a group large enough
 * (syncfsWanted), every `.sig` written and then ONE syncfs of the file system holding tmp/, which
 * makes the files, the `.sig` files and tmp/'s entries durable at once (docs/data-directory.md,
 * "Crash safety"). Resolves when all of them are durable; nothing is renamed here. Falls back to
 * the fsyncs when syncfs is not available; a flush that fails rejects either way.
 */
export async function prepareGroup (blocks: readonly GroupFile[]): Promise<void> {
  const todo = blocks.filter(b => b.prepared !== true)
  const dirs = [...new Set(blocks.map(b => dirname(b.file)))]
  if (dirs.length === 1 && syncfsWanted(dirs[0] as string, todo.length)) {
    // One native call a seal where the addon is loaded (not node:fs's open, write and close);
    // none for a seal its load thread wrote already.
    for (const b of todo) if (b.sealWritten !== true) writeSealInPlace(b.file, b.seal)
    if (await syncFileSystem(dirs[0] as string)) {
      failpoint('batch:synced')
      return
    }
  }
  // (After a syncfs found unavailable, the `.sig` files are written again: same bytes.)
  await prepareBlocks(blocks)
}
