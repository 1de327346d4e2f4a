import { existsSync, statSync } from 'node:fs'
import type { Command } from 'commander'
import { ChainError, IMPORT_PASSES, discardLoaded, importBatch, importBlock, loadBlock, type ImportResult, type LoadedBlock } from '../../chain/index.js'
import { BlockError } from '../../block/index.js'
import { sha256File } from '../../crypto/index.js'
import type { OnWorkProgress } from '../../util/index.js'
import { checkDataFile, DataDir, readSeal, sealPathOf } from '../../storage/index.js'
import type { CliContext } from '../context.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { short, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { readInputFile } from '../input.js'
import { addWaitOption, lockOptions } from '../write-lock.js'
import { openChain } from '../hashing.js'
import { shellWord } from '../../util/index.js'

// `import --from`: blocks loaded ahead of placement, and the most placed in one group.
const LOAD_AHEAD = 4
const GROUP_BLOCKS = 64
const GROUP_BYTES = 256 * 1024 * 1024

function describe (r: ImportResult): string {
  const b = r.block
  if (r.status === 'reorg' && r.reorg !== undefined) return `height ${b.height} ${short(b.hash)}: reorg (depth ${r.reorg.depth}, from height ${r.reorg.forkHeight})`
  if (r.reorgRefused !== undefined) return `height ${b.height} ${short(b.hash)}: side branch (a reorg of depth ${r.reorgRefused.depth} exceeds max_reorg_depth ${r.reorgRefused.maxDepth})`
  return `height ${b.height} ${short(b.hash)}: ${r.status}`
}

async function importDir (ctx: CliContext, from: string, wait: number | undefined): Promise<void> {
  const chain = openChain(ctx)
  const src = new DataDir(from)
  if (!existsSync(src.blockPath(0))) throw new UsageError(`${from} is not a Petal data directory (no genesis block)`, `--from takes a data directory, the one that holds 0000/block_00000000.db`)
  // Another chain's blocks would each fail as PARENT_UNKNOWN: say what is wrong instead.
  checkDataFile(src.blockPath(0), 'genesis block file')
  const theirs = await sha256File(src.blockPath(0), { signal: ctx.signal })
  if (theirs !== chain.chainId) {
    throw new ChainError('GENESIS_MISMATCH', `${from} holds another chain (genesis ${theirs}); this data directory holds chain ${chain.chainId}`, {
      hint: `import --from takes a data directory of the same chain; to work with the other chain, give its directory with --dir (e.g. \`petal --dir ${shellWord(from)} status\`)`,
      details: { theirs, ours: chain.chainId }
    })
  }
  let last = 0
  while (existsSync(src.blockPath(last + 1))) last++
  const paths = Array.from({ length: last }, (_, i) => src.blockPath(i + 1))
  const progress = overallProgress(ctx, paths)
  const counts: Record<string, number> = {}
  // Blocks load (copy, hash, check) a few ahead of placement, and are placed in groups: one
  // journal, one round of fsyncs and one index transaction per group (docs/performance.md).
  const loads: Array<Promise<LoadedBlock>> = []
  const load = (i: number): void => {
    const path = paths[i]
    if (path === undefined) return
    const p = (async () => await loadBlock(chain, path, readSeal(path), { signal: ctx.signal, onProgress: progress.next(path) }))()
    p.catch(() => {}) // observed when its turn comes
    loads.push(p)
  }
  try {
    for (let i = 0; i < Math.min(LOAD_AHEAD, paths.length); i++) load(i)
    for (let next = 0; next < paths.length;) {
      const group: LoadedBlock[] = []
      let bytes = 0
      let refused: { error: unknown } | undefined
      while (next + group.length < paths.length && group.length < GROUP_BLOCKS && bytes < GROUP_BYTES) {
        let b: LoadedBlock
        try {
          b = await (loads[next + group.length] as Promise<LoadedBlock>)
        } catch (error) {
          // The blocks before it are imported; it and the rest are not.
          refused = { error }
          break
        }
        group.push(b)
        bytes += b.candidate.file.size
        load(next + group.length + LOAD_AHEAD - 1)
      }
      const r = await importBatch(chain, group, lockOptions(ctx, wait))
      for (const x of r.results) {
        counts[x.status] = (counts[x.status] ?? 0) + 1
        if (x.status === 'reorg' || x.reorgRefused !== undefined) ctx.out.note(describe(x))
      }
      if (r.failure !== undefined) throw r.failure.error
      if (refused !== undefined) throw refused.error
      next += group.length
    }
  } finally {
    // Loads still running when a block failed: wait for them and delete their copies.
    await Promise.all(loads.map(async p => { await p.then(discardLoaded, () => {}) }))
  }
  progress.end()
  const tip = chain.tip()
  ctx.out.result({ imported: counts, tip: { height: tip.height, hash: tip.hash } }, () =>
    `${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ') || 'nothing to import'}; tip is now height ${tip.height} ${tip.hash}`)
  // After the result: the blocks are committed whatever becomes of the mirror's update.
  await syncMirrorAfterImport(ctx, chain, { bytes: progress.bytes, progress: true })
}

/**
 * One progress display over several block imports: the total is every file's size times the
 * passes an import makes over it, and each import's own progress is added to what came before.
 */
function overallProgress (ctx: CliContext, files: string[]): { bytes: number, next: (file: string) => OnWorkProgress, end: () => void } {
  const size = (f: string): number => { try { return statSync(f).size } catch { return 0 } }
  const bytes = files.reduce((n, f) => n + size(f), 0)
  const total = bytes * IMPORT_PASSES
  const bar = ctx.progress('import')
  // Several files may be in progress at once (import --from loads ahead): the sum of each one's work.
  let done = 0
  return {
    bytes,
    next: file => {
      const own = size(file) * IMPORT_PASSES
      let mine = 0
      return p => {
        const d = Math.min(p.done, own)
        if (d <= mine) return
        done += d - mine
        mine = d
        bar.update({ ...p, done, total: Math.max(total, done) })
      }
    },
    end: () => { bar.end() }
  }
}

/**
 * The seal of block file `f` from the file beside it: FILE.sig for FILE.db (Daisy's pair), else
 * FILE.sig after the whole name (the seal was looked for in `f` itself). A missing `f` is said
 * as such, not as a missing seal.
 */
async function sealBeside (ctx: CliContext, f: string): Promise<string> {
  const sealFile = f.endsWith('.db') ? sealPathOf(f) : `${f}.sig`
  if (existsSync(sealFile)) return (await readInputFile(sealFile, 'seal file', ctx.signal, 1024)).toString('utf8').trim()
  if (!existsSync(f)) throw new BlockError('FILE_NOT_FOUND', `no such file: ${f}`, { hint: 'check the path' })
  throw new UsageError(`no seal for ${f}`, `put its seal in ${sealFile} or pass --seal`)
}

export function register (program: Command, action: Action): void {
  addWaitOption(program.command('import [files...]')).description('import signed block files (each with its .sig), or every block of another data directory with --from')
    .option('--from <dir>', 'import the canonical blocks of another Petal data directory of the same chain')
    .option('--seal <hex>', 'the seal of a single block file given without its .sig')
    .action(action(async (ctx, files: string[], o: { from?: string, seal?: string, wait?: number }) => {
      if (o.from !== undefined) {
        if (files.length > 0) throw new UsageError('give either block files or --from, not both', 'run `petal import FILE…` and `petal import --from DIR` one after the other')
        await importDir(ctx, o.from, o.wait)
        return
      }
      if (files.length === 0) throw new UsageError('nothing to import', 'give block files (block_XXXXXXXX.db with their .sig) or --from DIR')
      if (o.seal !== undefined && files.length > 1) throw new UsageError('--seal applies to a single block file', 'import the files one at a time, each with its --seal, or put each seal in FILE.sig beside the block')
      const chain = openChain(ctx)
      const progress = overallProgress(ctx, files)
      for (const f of files) {
        const seal = o.seal ?? await sealBeside(ctx, f)
        const r = await importBlock(chain, f, seal, { ...lockOptions(ctx, o.wait), onProgress: progress.next(f) })
        ctx.out.result({ file: f, status: r.status, height: r.block.height, hash: r.block.hash, reorg: r.reorg === undefined ? undefined : { depth: r.reorg.depth, fork_height: r.reorg.forkHeight, orphaned: r.reorg.orphaned.map(b => b.hash) }, reorg_refused: r.reorgRefused }, () => describe(r))
      }
      progress.end()
      await syncMirrorAfterImport(ctx, chain, { bytes: progress.bytes })
    }))
}
