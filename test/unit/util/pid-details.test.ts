import { describe, expect, it } from 'vitest'
import { pidDetails, pidNamespace } from '../../../src/util/index.js'
import { writerDetails } from '../../../src/storage/writer-record.js'

// One builder for a recorded process's pid fields in --json and errors' details (session 46):
// `petal status --json`'s node (cli) and writer.json's writer (storage's LOCK_TIMEOUT, INDEX_BUSY,
// INDEX_CORRUPT) had a copy each. `pid` is a pid of this namespace or absent.

const other = pidNamespace() === '' ? '4026531836' : String(Number(pidNamespace()) + 7)

describe.runIf(process.platform === 'linux' && pidNamespace() !== '')('pidDetails', () => {
  it('keeps a pid of this namespace (or of a record without one) as it is, and drops `here`', () => {
    expect(pidDetails({ pid: 42, pid_ns: pidNamespace(), here: 42, role: 'follower' })).toEqual({ pid: 42, pid_ns: pidNamespace(), role: 'follower' })
    expect(pidDetails({ pid: 42, work: 'reindex' })).toEqual({ pid: 42, work: 'reindex' })
  })

  it('gives one of another namespace its pid there as ns_pid, and `pid` only where a pid here names it', () => {
    expect(pidDetails({ pid: 7, pid_ns: other, here: 31337, work: 'w' })).toEqual({ pid: 31337, other_pid_ns: true, ns_pid: 7, pid_ns: other, work: 'w' })
    expect(pidDetails({ pid: 7, pid_ns: other, work: 'w' })).toEqual({ other_pid_ns: true, ns_pid: 7, pid_ns: other, work: 'w' })
  })

  it('is what writerDetails gives', () => {
    for (const r of [{ pid: 7, pid_ns: other, here: 9, work: 'w', since: 's' }, { pid: 7, pid_ns: other, work: 'w', since: 's' }, { pid: 7, work: 'w', since: 's' }]) {
      expect(writerDetails(r)).toEqual(pidDetails(r))
    }
    expect(writerDetails(undefined)).toBeUndefined()
  })
})
