// `node --import tsx scripts/suite-order.ts LOG`: writes test/file-cpu.json, the CPU seconds of each
// test file in the run that `PETAL_TEST_CPU_LOG=LOG vitest run` logged (scripts/suite-cpu.ts), from
// which vitest starts the longest files first (test/helpers/sequencer.ts). Files the log does not
// name keep their old figure; files that no longer exist are dropped. Run it from the repository
// root after a full run, as the suite grows: a stale list only starts new files first.
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FILE_CPU, readFileCpu } from '../test/helpers/sequencer.js'
import { cpuOfFiles } from './suite-cpu.js'

const [logPath] = process.argv.slice(2)
if (logPath === undefined) throw new Error('usage: suite-order.ts LOG')
const root = join(import.meta.dirname, '..')
// The log names files where that run's clone was (the lead's clean clone): kept from test/ on.
const inRepo = (f: string): string => /(?:^|\/)(test\/.*)$/.exec(f)?.[1] ?? f
const measured = [...cpuOfFiles(logPath, root).perFile].map(([f, c]) => [inRepo(f), Math.round(c * 10) / 10] as const)
const cpu = { ...readFileCpu(), ...Object.fromEntries(measured) }
const kept = Object.entries(cpu).filter(([f]) => existsSync(join(root, f))).sort(([a], [b]) => a < b ? -1 : 1)
writeFileSync(FILE_CPU, JSON.stringify(Object.fromEntries(kept), null, 1) + '\n')
process.stdout.write(`${FILE_CPU}: ${kept.length} files, ${kept.reduce((s, [, c]) => s + c, 0).toFixed(0)} s of CPU\n`)
