import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

const SRC = resolve(import.meta.dirname, '..', '..', '..', 'src')

/** Every module reachable from `file` through static, non-type imports: [Petal files, packages]. */
function reachable (file: string): { files: Set<string>, packages: Set<string> } {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (f: string): void => {
    if (files.has(f)) return
    files.add(f)
    const text = readFileSync(f, 'utf8')
    // `import … from 'x'` and `export … from 'x'`, but not `import type` / `export type`.
    for (const m of text.matchAll(/^(?:import|export)(?!\s+type\b)[^'"]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
      const spec = m[1] ?? m[2] ?? ''
      if (spec.startsWith('.')) visit(resolve(dirname(f), spec.replace(/\.js$/, '.ts')))
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] ?? spec)
    }
  }
  visit(file)
  return { files, packages }
}

describe('module boundaries of the HTTP API', () => {
  it('petal serve and the api module load no network code and no libp2p', () => {
    for (const entry of [join(SRC, 'cli', 'commands', 'serve.ts'), join(SRC, 'api', 'server.ts'), join(SRC, 'api', 'index.ts')]) {
      const { files, packages } = reachable(entry)
      // node/state-file.ts is the documented exception (docs/architecture.md): it reads node-state.json
      // only, and loads the node's error class (node/errors.ts), nothing else of the node; and
      // node/take-lock.ts (run.ts's `--init` takes node.lock to make a chain), which loads those two.
      const network = [...files].filter(f => /\/src\/(network|sync|node)\//.test(f) && !/\/src\/node\/(state-file|errors|take-lock)\.ts$/.test(f))
      expect(network, entry).toEqual([])
      expect([...packages].filter(p => p.includes('libp2p') || p === '@multiformats'), entry).toEqual([])
    }
  })

  it('the walker sees through re-exports (it finds libp2p from the node module)', () => {
    expect([...reachable(join(SRC, 'node', 'index.ts')).packages]).toContain('libp2p')
  })
})
