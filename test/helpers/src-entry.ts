import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { typeScriptBundle } from '../../src/util/index.js'

/**
 * The file a child process imports `src/<parts>` by (a module's index.ts): the suite's esbuild
 * bundle of it (test/helpers/entry-bundles.ts, made once per test process), or the source itself,
 * through tsx, without a bundler. Through tsx each child compiled the module's graph again:
 * ~0.5–1 s of CPU a child (docs/performance/suite.md, "Session 49: test health and suite time (health49)").
 */
export function srcEntry (...parts: string[]): string {
  return entryOf(join(import.meta.dirname, '..', '..', 'src', ...parts))
}

/** srcEntry of any TypeScript file (a test helper that gathers what a child imports: namespace-entry.ts). */
export function entryOf (ts: string): string {
  return typeScriptBundle(pathToFileURL(ts).href) ?? ts
}

/** node's options for a child that imports `entries` (srcEntry's): tsx's loader only for TypeScript source. */
export function loaderFor (...entries: string[]): string[] {
  return entries.some(e => e.endsWith('.ts')) ? ['--import', 'tsx'] : []
}
