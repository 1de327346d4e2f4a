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

/**
 * entryOf for a child whose src modules find files beside themselves by import.meta.url (the query
 * sandbox's child.ts): a bundle in which each src module keeps its own import.meta
 * (entry-bundles.ts), or the source through tsx without a bundler. The child asks its own process's
 * bundler for such files' bundles (setTypeScriptBundler): sandbox-parent.ts is given child.ts's.
 */
export async function entryKeepingMeta (ts: string): Promise<string> {
  const bundler: unknown = Reflect.get(globalThis, Symbol.for('petal.test.entryBundlesKeepingMeta'))
  return typeof bundler === 'function' ? await (bundler as (url: string) => Promise<string>)(pathToFileURL(ts).href) : ts
}

/** node's options for a child that imports `entries` (srcEntry's): tsx's loader only for TypeScript source. */
export function loaderFor (...entries: string[]): string[] {
  return entries.some(e => e.endsWith('.ts')) ? ['--import', 'tsx'] : []
}
