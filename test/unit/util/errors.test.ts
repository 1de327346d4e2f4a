import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BlockError, isInvalidBlock } from '../../../src/block/index.js'
import { ChainError } from '../../../src/chain/index.js'
import { exitCodeOf } from '../../../src/cli/exit-codes.js'
import { UsageError } from '../../../src/cli/errors.js'
import { NetworkError } from '../../../src/network/errors.js'
import { QueryError } from '../../../src/query/index.js'
import { StorageError } from '../../../src/storage/index.js'
import {
  AbortError, errorStatusTable, errorStatus, PetalError, reviveError, serializeError, withDetails, WorkerPool, workerScript
} from '../../../src/util/index.js'
import { ERRORS_DOC, loadErrorClasses, renderErrorsDoc } from '../../../scripts/errors-doc.js'

describe('the error namespace', () => {
  it('gives every code to exactly one class', async () => {
    const owner = new Map<string, string>()
    for (const c of await loadErrorClasses()) {
      for (const code of c.codes) {
        expect(owner.get(code), `${code} of ${c.name}`).toBeUndefined()
        owner.set(code, c.name)
      }
    }
    expect(owner.size).toBeGreaterThan(90)
  })

  it('has exactly one status row per class, naming only codes of that class', async () => {
    const classes = await loadErrorClasses()
    expect(Object.keys(errorStatusTable()).sort()).toEqual(classes.map(c => c.name).sort())
    for (const c of classes) {
      for (const code of Object.keys(errorStatusTable()[c.name]?.codes ?? {})) expect(c.codes, `${c.name} overrides ${code}`).toContain(code)
    }
  })

  it('derives exit and HTTP statuses from the class and code', () => {
    expect(exitCodeOf(new UsageError('bad flag', 'x'))).toBe(2)
    expect(exitCodeOf(new ChainError('BLOCK_NOT_FOUND', 'no block 9'))).toBe(2)
    expect(errorStatus(new ChainError('BLOCK_NOT_FOUND', 'no block 9')).http).toBe(404)
    expect(exitCodeOf(new BlockError('BAD_SEAL', 'x', { details: { height: 1, hash: 'h' } }))).toBe(3)
    // Below the API, what a request cannot cause is a condition of the node: 503.
    expect(errorStatus(new BlockError('BLOCK_TOO_LARGE', 'x', { details: { size: 9, maxBytes: 1 } })).http).toBe(503)
    expect(errorStatus(new QueryError('QUERY_TIMEOUT', 'x', { details: { timeoutMs: 1 } })).http).toBe(422)
    expect(exitCodeOf(new StorageError('INDEX_CORRUPT', 'x'))).toBe(4)
    expect(exitCodeOf(new StorageError('KEY_NOT_FOUND', 'x'))).toBe(5)
    expect(exitCodeOf(new ChainError('VERIFY_FAILED', 'x'))).toBe(6)
    expect(exitCodeOf(new NetworkError('TIMEOUT', 'x'))).toBe(7)
    expect(exitCodeOf(new QueryError('QUERY_EMPTY', 'x'))).toBe(8)
    expect(exitCodeOf(new AbortError())).toBe(130)
    expect(errorStatus(new TypeError('bug'))).toEqual({ category: 'internal', exit: 1, http: 500 })
    // A code without its class (a class this process never loaded) is not guessed at.
    expect(exitCodeOf(new PetalError('INDEX_CORRUPT', 'x'))).toBe(1)
  })

  it('narrows details by code, and refuses codes of other classes at compile time', () => {
    const err: unknown = new BlockError('HEIGHT_MISMATCH', 'x', { details: { height: 5, parentHeight: 3 } })
    let parentHeight: number | undefined
    if (BlockError.is(err) && err.code === 'HEIGHT_MISMATCH') parentHeight = err.details.parentHeight
    expect(parentHeight).toBe(3)
    // @ts-expect-error TIMEOUT is a network code, not a block code
    expect(isInvalidBlock('TIMEOUT')).toBe(true)
    expect(isInvalidBlock('PARENT_UNKNOWN')).toBe(false)
  })

  it('revives an error as its own class, bigints and all; adds details without losing any', () => {
    const e = new BlockError('BLOCK_TOO_LARGE', 'too large', { hint: 'split it', details: { size: 2 ** 60, maxBytes: 4096 } })
    const back = reviveError(structuredClone(serializeError(e)))
    expect(back).toBeInstanceOf(BlockError)
    expect(back).toMatchObject({ code: 'BLOCK_TOO_LARGE', message: 'too large', hint: 'split it', details: { size: 2 ** 60, maxBytes: 4096 } })
    const q = reviveError(structuredClone(serializeError(new QueryError('QUERY_SYNTAX', 'bad', { details: { sqliteMessage: 'm', sqliteCode: 'SQLITE_ERROR' } }))))
    expect(q).toBeInstanceOf(QueryError)
    const usage = reviveError(serializeError(new UsageError('no', 'try this')))
    expect(usage).toBeInstanceOf(UsageError)
    expect(usage).toMatchObject({ message: 'no', hint: 'try this' })
    const at = withDetails(new BlockError('BAD_SEAL', 'x', { details: { height: 3, hash: 'h' } }), { height: 9, extra: 1n })
    expect(at).toBeInstanceOf(BlockError)
    expect(at).toMatchObject({ details: { height: 3, hash: 'h', extra: 1n } })
  })

  it('brings errors back from a worker thread as their own class', async () => {
    const pool = new WorkerPool<{ kind: 'block' | 'plain' }, never>(workerScript(import.meta.url, '../../helpers/throwing-worker.js'), 1)
    try {
      const e = await pool.run({ kind: 'block' }).catch((err: unknown) => err)
      expect(e).toBeInstanceOf(BlockError)
      expect(e).toMatchObject({ code: 'BLOCK_TOO_LARGE', hint: 'split it', details: { size: 2 ** 60, height: 7 } })
      const plain = await pool.run({ kind: 'plain' }).catch((err: unknown) => err)
      expect(plain).toBeInstanceOf(Error)
      expect(plain).toMatchObject({ name: 'TypeError', message: 'plain failure' })
    } finally {
      await pool.close()
    }
  })

  it('documents a hint for every code: what the CLI and the HTTP API show for an error thrown without one', async () => {
    const missing = (await loadErrorClasses()).flatMap(c => c.codes.filter(code => (c.docs[code]?.hint ?? '') === '').map(code => `${c.name}.${code}`))
    expect(missing).toEqual([])
  })

  it('publishes every code in docs/errors.md (npm run docs:errors)', async () => {
    expect(readFileSync(ERRORS_DOC, 'utf8'), 'docs/errors.md is stale: run `npm run docs:errors`').toBe(await renderErrorsDoc())
  })
})
