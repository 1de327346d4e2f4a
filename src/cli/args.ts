import { UsageError } from './output.js'

// Parsers of numeric option values, shared by every command so that each refuses the same way:
// plain decimal digits only (no sign, exponent, hex, fraction or spaces), within the safe integer
// range, and within the bounds the option allows. `Number('0x10')`, `Number('1e3')` and
// `Number('99999999999999999999')` would all "work" and mean something else.

const DECIMAL = /^\d+$/

/** An integer option: decimal digits, from `min` (default 0) to `max` (default 2^53 − 1). */
export function intOption (flag: string, o: { min?: number, max?: number, what?: string } = {}): (v: string) => number {
  const min = o.min ?? 0
  const max = o.max ?? Number.MAX_SAFE_INTEGER
  const what = o.what ?? (min === 0 ? 'a non-negative integer' : min === 1 && max === Number.MAX_SAFE_INTEGER ? 'a positive integer' : `an integer from ${min} to ${max}`)
  return (v: string): number => {
    const n = Number(v)
    if (!DECIMAL.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new UsageError(`${flag} must be ${what}, not ${JSON.stringify(v)}`, hintFor(v, n, min, max))
    }
    return n
  }
}

/** A block height option (0 … 2^53 − 1). */
export const heightOption = (flag: string): (v: string) => number => intOption(flag, { what: 'a block height (a non-negative integer)' })

function hintFor (v: string, n: number, min: number, max: number): string {
  if (DECIMAL.test(v) && (!Number.isSafeInteger(n) || n > max)) return `the largest value it takes is ${max}`
  if (DECIMAL.test(v) && n < min) return `the smallest value it takes is ${min}`
  if (/^-/.test(v)) return `negative values are not allowed; the smallest is ${min}`
  return `write it in decimal digits only, e.g. ${Math.max(min, 10)}`
}

/** A duration in seconds (decimal, fraction allowed), at most `max`; returned in milliseconds. 0 means 0. */
export function secondsOption (flag: string, max: number): (v: string) => number {
  return (v: string): number => {
    const n = Number(v)
    if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n > max) {
      throw new UsageError(`${flag} must be a number of seconds from 0 to ${max}, not ${JSON.stringify(v)}`, 'e.g. 10 or 2.5; 0 for no limit')
    }
    // A positive value never rounds down to 0, which means "no limit".
    return n === 0 ? 0 : Math.max(1, Math.round(n * 1000))
  }
}

/**
 * A height range given by --from/--to: from ≤ to, and from at most the tip (a range starting above
 * the tip can only be empty: it is a mistake, not a query). --to above the tip means "to the tip".
 */
export function checkHeightRange (from: number | undefined, to: number | undefined, tipHeight: number): void {
  if (from !== undefined && to !== undefined && from > to) {
    throw new UsageError(`--from ${from} is above --to ${to}`, 'give --from ≤ --to (both are included)')
  }
  if (from !== undefined && from > tipHeight) {
    throw new UsageError(`--from ${from} is above the tip, which is at height ${tipHeight}`, tipHeight === 0 ? 'the chain has only its genesis block, height 0' : `give a height from 0 to ${tipHeight}`)
  }
}
