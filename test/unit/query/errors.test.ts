import { describe, expect, it } from 'vitest'
import { statementError, valueTooLarge } from '../../../src/query/errors.js'

describe('query error mapping', () => {
  it('reports a value longer than a JavaScript string as QUERY_VALUE_TOO_LARGE, with a hint', () => {
    const e = statementError(new RangeError('Cannot create a string longer than 0x1fffffe8 characters'), 'the query mirror')
    expect(e.code).toBe('QUERY_VALUE_TOO_LARGE')
    expect(e.message).toContain('the query mirror')
    expect(e.hint).toMatch(/substr/)
    expect(valueTooLarge(new RangeError('Invalid string length'))?.code).toBe('QUERY_VALUE_TOO_LARGE')
    // Node's own error for a Buffer written out as a string past that length (a BLOB of 256 MiB as
    // hex): a plain Error with a code, not V8's RangeError. (Zeroed pages, refused before a copy.)
    let thrown: unknown
    try { Buffer.alloc(0x1fffffe9).toString('utf8') } catch (err) { thrown = err }
    expect(thrown).not.toBeInstanceOf(RangeError)
    expect(valueTooLarge(thrown)?.code).toBe('QUERY_VALUE_TOO_LARGE')
  })

  it('leaves other errors to their own codes', () => {
    expect(valueTooLarge(new RangeError('Maximum call stack size exceeded'))).toBeUndefined()
    expect(valueTooLarge(new Error('Cannot create a string longer than 1'))).toBeUndefined()
    expect(statementError(Object.assign(new Error('no such table: x'), { code: 'SQLITE_ERROR' })).code).toBe('QUERY_UNKNOWN_TABLE')
  })
})
