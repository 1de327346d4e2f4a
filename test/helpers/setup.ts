// Setup file (vitest.config.ts), run before each test file, also where test files share a process
// (the unit tier runs without isolation): per-file hooks live here, not at the top level of a
// helper module, which runs once per process there.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { resetNativeOpenssl } from '../../src/crypto/openssl-native.js'
import { removeTmpDirs } from './tmp.js'

// Each test file runs with a temporary directory of its own as TMPDIR (os.tmpdir(), and so the
// processes it starts): what the file leaves there fails it at its end, and the directory goes.
// One TMPDIR shared by the parallel forks could not say whose a leftover is. The suite left 85
// `petal-export-*` directories in /tmp a run (session 43). Mode 1777 as /tmp: some files run
// children as another user. tsx's compile cache (`tsx-<uid>`, kept across runs by design) is the
// outer directory's, through a link, and another user's is not counted. Registered before the
// check below, so run after it, which sees TMPDIR as the file had it.
const outerTmp = process.env.TMPDIR
const fileTmp = mkdtempSync(join(tmpdir(), 'petal-file-'))
chmodSync(fileTmp, 0o1777)
const tsxCache = `tsx-${process.getuid?.() ?? 0}`
try {
  mkdirSync(join(tmpdir(), tsxCache), { recursive: true, mode: 0o700 })
  symlinkSync(join(tmpdir(), tsxCache), join(fileTmp, tsxCache))
} catch {}
process.env.TMPDIR = fileTmp
afterAll(() => {
  if (outerTmp === undefined) delete process.env.TMPDIR
  else process.env.TMPDIR = outerTmp
  let left: string[] = []
  try { left = readdirSync(fileTmp).filter(n => !/^tsx-[0-9]+$/.test(n)) } catch {}
  rmSync(fileTmp, { recursive: true, force: true })
  if (left.length > 0) throw new Error(`this test file left ${left.length} file(s) in its temporary directory (${left.slice(0, 5).join(', ')}): make them with tmpDir() (test/helpers/tmp.ts), which removes them after the file, or remove them`)
})

// Each file starts with the addon's choice undecided, as in a process of its own: the unit tier
// shares modules between files (isolate: false), and a file that ran with PETAL_NATIVE_SHA256=0
// left the choice at "off" for the next one (a clean-clone CI failed tmp-files-native.test.ts so).
resetNativeOpenssl()

// What the next file in this process runs with: a file that leaves the environment, the working
// directory or the umask changed fails here, at its own end, where a leak otherwise showed only
// as another file's failure in some order of the files (review42). Registered first, so checked
// after the file's own afterAll hooks (vi.unstubAllEnvs among them).
let before: ProcessState | undefined
beforeAll(() => { before = processState() })
afterAll(() => {
  if (before === undefined) return
  const after = processState()
  const keys = [...new Set([...Object.keys(before.env), ...Object.keys(after.env)])].filter(k => before?.env[k] !== after.env[k])
  const changed = [
    ...keys.map(k => `process.env.${k}`),
    ...(before.cwd === after.cwd ? [] : ['the working directory']),
    ...(before.umask === after.umask ? [] : ['the umask'])
  ]
  if (changed.length > 0) throw new Error(`this test file left ${changed.join(', ')} changed: restore it (in an afterEach or afterAll), as the next test file in this process runs with it`)
})

// Registered before the test file's own hooks, so it runs after them (afterAll hooks run in reverse).
afterAll(removeTmpDirs)

interface ProcessState { env: Record<string, string | undefined>, cwd: string, umask: number }

function processState (): ProcessState {
  const umask = process.umask()
  process.umask(umask)
  return { env: { ...process.env }, cwd: process.cwd(), umask }
}
