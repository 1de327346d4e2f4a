import { lstatSync, readFileSync } from 'node:fs'
import { fileKind } from '../storage/index.js'
import { errorCode, errorMessage, isNotFound } from '../util/index.js'
import { ProofError } from './errors.js'

/** How one witness record file's refusals are worded: the file is not what it should be, or this user may not read it. */
export interface WitnessRecordErrors {
  invalid: (file: string, why: string) => ProofError
  unreadable: (file: string, err: unknown) => ProofError
}

/**
 * The parsed JSON of a witness record kept beside chain.db (witness-resets.json,
 * witness-cosigned.json), or undefined when there is none. Anything else that stops a reading (not
 * a regular file, unreadable, torn) is that record's coded error: a witness that cannot tell what
 * it promised cosigns nothing.
 */
export function readWitnessRecord (file: string, errors: WitnessRecordErrors): unknown {
  let text: string
  try {
    const st = lstatSync(file)
    if (!st.isFile()) throw errors.invalid(file, `it is ${fileKind(st)}, not a regular file`)
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if (isNotFound(err)) return undefined
    if (err instanceof ProofError) throw err
    if (errorCode(err) === 'EACCES' || errorCode(err) === 'EPERM') throw errors.unreadable(file, err)
    throw errors.invalid(file, errorMessage(err))
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw errors.invalid(file, errorMessage(err))
  }
}
