// Setup file (vitest.config.ts), run before each test file, also where test files share a process
// (the unit tier runs without isolation): per-file hooks live here, not at the top level of a
// helper module, which runs once per process there.
import { afterAll } from 'vitest'
import { resetNativeOpenssl } from '../../src/crypto/openssl-native.js'
import { removeTmpDirs } from './tmp.js'

// Each file starts with the addon's choice undecided, as in a process of its own: the unit tier
// shares modules between files (isolate: false), and a file that ran with PETAL_NATIVE_SHA256=0
// left the choice at "off" for the next one (a clean-clone CI failed tmp-files-native.test.ts so).
resetNativeOpenssl()

// Registered before the test file's own hooks, so it runs after them (afterAll hooks run in reverse).
afterAll(removeTmpDirs)
