import { randomBytes } from 'node:crypto'

// A receipt id is `<instance>-<row id>`: the store's random instance (8 base32 letters, made when
// pending.db is created) and the row's id in it, so a receipt names one row of one store.
const RECEIPT = /^([a-z2-7]{8})-([1-9][0-9]{0,15})$/
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** A new store instance id. */
export function newInstanceId (): string {
  return [...randomBytes(8)].map(b => BASE32[b & 31]).join('')
}

export function formatReceipt (instance: string, rowId: number): string {
  return `${instance}-${rowId}`
}

/** The row id `receipt` names in the store `instance`, or undefined when it names no row of it. */
export function parseReceipt (receipt: string, instance: string): number | undefined {
  const m = RECEIPT.exec(receipt)
  if (m === null || m[1] !== instance) return undefined
  const id = Number(m[2])
  return Number.isSafeInteger(id) ? id : undefined
}
