// The code tables (meaning and hint of every code) are built only when asked for (the docs
// script), not when an error class registers: ~500 object literals at every command's start.
import { describe, expect, it } from 'vitest'
import { errorClasses, PetalError, registerErrorClass } from '../../../src/util/index.js'

class LazyDocsError extends PetalError<'LAZY_ONE'> {
  static readonly codes = ['LAZY_ONE'] as const
}

describe('registerErrorClass', () => {
  it('builds a class\'s code table only when errorClasses() is read', () => {
    let built = 0
    registerErrorClass(LazyDocsError, 'a class of this test', () => { built++; return { LAZY_ONE: { meaning: 'only a test' } } })
    expect(built).toBe(0)
    const mine = errorClasses().find(c => c.name === 'LazyDocsError')
    expect(built).toBe(1)
    expect(mine?.docs.LAZY_ONE?.meaning).toBe('only a test')
  })

  it('registers the loaded modules\' classes without building their tables', async () => {
    const block = await import('../../../src/block/index.js')
    expect(errorClasses().find(c => c.name === block.BlockError.name)?.docs.CORRUPT?.meaning).toMatch(/SQLite cannot read/)
  })
})
