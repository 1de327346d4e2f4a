import { describe, expect, it } from 'vitest'
import { asError, errorCode, errorMessage, isRecord, isStringArray, parseJson } from '../../../src/util/index.js'

describe('narrowing helpers', () => {
  it('asError keeps an Error and wraps anything else', () => {
    const e = new RangeError('x')
    expect(asError(e)).toBe(e)
    const w = asError('plain')
    expect(w).toBeInstanceOf(Error)
    expect(w.message).toBe('plain')
    expect(asError(undefined).message).toBe('undefined')
  })

  it('errorMessage and errorCode read what was thrown, whatever it is', () => {
    expect(errorMessage(new Error('m'))).toBe('m')
    expect(errorMessage(42)).toBe('42')
    expect(errorCode(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }))).toBe('SQLITE_BUSY')
    expect(errorCode({ code: 5 })).toBeUndefined()
    expect(errorCode(null)).toBeUndefined()
  })

  it('isRecord, isStringArray and parseJson', () => {
    expect(isRecord({})).toBe(true)
    expect(isRecord([])).toBe(false)
    expect(isRecord(null)).toBe(false)
    expect(isStringArray(['a', 'b'])).toBe(true)
    expect(isStringArray(['a', 1])).toBe(false)
    expect(parseJson('{"a":1}')).toEqual({ a: 1 })
    expect(() => parseJson('{')).toThrow(SyntaxError)
  })
})
