// Setup file (vitest.config.ts), run before each test file, also where test files share a process
// (the unit tier runs without isolation): per-file hooks live here, not at the top level of a
// helper module, which runs once per process there.
import { afterAll } from 'vitest'
import { removeTmpDirs } from './tmp.js'

// Registered before the test file's own hooks, so it runs after them (afterAll hooks run in reverse).
afterAll(removeTmpDirs)
