// The mirror's reads of block files (src/query/mirror/block-bytes.ts) when a named pipe stands at
// a block's path: it checked the path by lstat and then opened it by name, so a file swapped for
// a pipe in between held the open (and the mirror, and a pool thread) until a writer came. Here
// the pipe is there from the start: what that open met after the swap.
import { describe, expect, it } from 'vitest'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { spawnSync, execFileSync } from 'node:child_process'
import { closeSync, constants, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { copyRegular, readExact } from '../../../src/query/mirror/block-bytes.js'
import { tmpDir } from '../../helpers/tmp.js'

/** `p` settled within `ms`, or 'waiting'. */
async function within<T> (p: Promise<T>, ms: number): Promise<T | 'waiting'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'waiting'>(resolve => { timer = setTimeout(() => { resolve('waiting') }, ms) })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Open the pipe's write end once and close it: a reader blocked in open(2) is released. */
function release (fifo: string): void {
  try { closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)) } catch {}
}

describe('the mirror\'s block reads', () => {
  it('a named pipe at a block\'s path is refused at once, by the synchronous and the pooled reads and the copy', async () => {
    const dir = tmpDir()
    const fifo = join(dir, '5.db')
    execFileSync('mkfifo', [fifo])
    try {
      expect(await within(readExact(fifo, 10), 2_000)).toBeUndefined()
      expect(await within(copyRegular(fifo, join(dir, 'copy.db')), 2_000)).toBe(false)
    } finally {
      release(fifo)
    }
    // The synchronous read in a child: had it waited, it would hold this test's thread.
    const mod = srcEntry('query', 'mirror', 'block-bytes.ts')
    const script = `import { readExactSync } from ${JSON.stringify(mod)}
      try { readExactSync(${JSON.stringify(fifo)}, 10); console.log('read') } catch (err) { console.log(err.code) }`
    const r = spawnSync(process.execPath, [...loaderFor(mod), '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 })
    release(fifo)
    expect({ out: r.stdout.trim(), signal: r.signal }).toEqual({ out: 'DATA_FILE_NOT_REGULAR', signal: null })
  })

  it('a regular file is read when its size is the record\'s, and copied', async () => {
    const dir = tmpDir()
    const file = join(dir, '6.db')
    writeFileSync(file, 'block bytes')
    expect((await readExact(file, 11))?.toString()).toBe('block bytes')
    expect(await readExact(file, 12)).toBeUndefined()
    expect(await copyRegular(file, join(dir, 'copy.db'))).toBe(true)
    expect(readFileSync(join(dir, 'copy.db'), 'utf8')).toBe('block bytes')
  })
})
