// `petal verify --deep` of two builds on one chain, alternated (session 52, verify52): is a change
// of the rate a build's or the machine's minute? The core bench's figure (PETAL_BENCH_CORE=verify-deep)
// builds its own chain each run and times one build; on a loaded machine its wall rates move 2-3×
// between runs of the same build. Here both builds verify the same files, in turns (A B, B A, ...),
// each a CLI process as users run it, and each run's CPU (user + system, every thread: the two
// workers do the work) is taken with its wall time: CPU moves far less with the load than wall.
//
//   node --import tsx bench/verify-deep-pairs.ts --a /tmp/ci476 --b . [--pairs 8] [--blocks 40] [--mb 4]
//
// --a and --b are built checkouts (their bin/petal.js runs their dist/). The chain (genesis and
// --blocks blocks of --mb MiB of rows, the core bench's readings table) is made with this tree's code.
// Take /work/wt/.bench.lock.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createChain, signImport } from '../src/chain/index.js'
import { generateSigningKey } from '../src/crypto/index.js'
import { DEFAULT_CONSENSUS } from '../src/storage/index.js'
import { userFile } from './readings-file.js'
import { userEnv } from './user-env.js'

const arg = (name: string, dflt: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] ?? dflt : dflt }
const A = resolve(arg('a', '.'))
const B = resolve(arg('b', '.'))
const PAIRS = Number(arg('pairs', '8'))
const BLOCKS = Number(arg('blocks', '40'))
const MB = Number(arg('mb', '4'))

interface Run { wall: number, cpu: number }

/** One `petal verify --deep` of `dir` by the build in `checkout`: wall and CPU seconds (GNU time). */
function verifyDeep (checkout: string, dir: string): Run {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', process.execPath, join(checkout, 'bin', 'petal.js'), '--dir', dir, 'verify', '--deep'], { env: userEnv, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`verify --deep (${checkout}) exited ${r.status}: ${r.stderr}`)
  const last = r.stderr.trim().split('\n').at(-1) ?? ''
  const [wall, user, sys] = last.split(' ').map(Number)
  return { wall: wall ?? NaN, cpu: (user ?? NaN) + (sys ?? NaN) }
}

const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] ?? NaN }

const root = mkdtempSync(join(tmpdir(), 'petal-bench-deep-pairs-'))
try {
  const key = generateSigningKey()
  const dir = join(root, 'chain')
  const chain = await createChain(dir, { creator: 'bench', description: 'deep pairs', bootstrapPeers: [], consensus: { ...DEFAULT_CONSENSUS, maxBlockBytes: 256 * 1024 * 1024 } }, key)
  for (let i = 0; i < BLOCKS; i++) {
    const src = userFile(join(root, 'src.db'), MB)
    await signImport(chain, src, key)
    rmSync(src)
  }
  const files = Array.from({ length: chain.tip().height + 1 }, (_, h) => chain.dir.blockPath(h))
  chain.close()
  const mib = files.reduce((n, f) => n + statSync(f).size, 0) / 1048576
  verifyDeep(A, dir) // the files in the page cache, for both
  const runs: Record<'a' | 'b', Run[]> = { a: [], b: [] }
  for (let i = 0; i < PAIRS; i++) {
    for (const side of (i % 2 === 0 ? ['a', 'b'] : ['b', 'a']) as Array<'a' | 'b'>) {
      const load = (await import('node:os')).loadavg()[0]?.toFixed(1)
      const r = verifyDeep(side === 'a' ? A : B, dir)
      runs[side].push(r)
      process.stdout.write(`pair ${i + 1} ${side}: ${r.wall.toFixed(2)} s wall (${(mib / r.wall).toFixed(0)} MiB/s), ${r.cpu.toFixed(2)} s CPU, load ${load ?? '?'}\n`)
    }
  }
  for (const side of ['a', 'b'] as const) {
    const w = runs[side].map(r => r.wall)
    const c = runs[side].map(r => r.cpu)
    process.stdout.write(`verify-deep-pairs ${side} (${side === 'a' ? A : B}): ${files.length} blocks, ${mib.toFixed(0)} MiB; wall median ${median(w).toFixed(2)} s (${Math.min(...w).toFixed(2)}-${Math.max(...w).toFixed(2)}), CPU median ${median(c).toFixed(2)} s (${Math.min(...c).toFixed(2)}-${Math.max(...c).toFixed(2)}), ${PAIRS} runs\n`)
  }
} finally {
  rmSync(root, { recursive: true, force: true })
}
