// vitest's file order: the longest files first, by the CPU each took in the last measured run
// (test/file-cpu.json, written by scripts/suite-order.ts from a PETAL_TEST_CPU_LOG log). vitest's
// own order in a clean clone (no results cache) is by file size, so a long file of few bytes could
// start near the end and run on one core while the other sat idle. Projects keep vitest's order
// (slow, then unit: a fork is started again where the project changes); within each, files the list
// does not know (new since it was written) go first, largest first as vitest would, then the
// known ones longest first. A file removed since is simply not asked for.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

export const FILE_CPU = join(import.meta.dirname, '..', 'file-cpu.json')

export interface Sortable {
  /** The vitest project's name. */
  project: string
  groupOrder: number
  /** The path relative to the repository, as file-cpu.json names it. */
  file: string
  /** Its size in bytes, for files the list does not know. */
  size: number
}

/** Test files in the order to start them (see above); `cpu`: seconds of CPU by file. */
export function longestFirst<T extends Sortable> (files: readonly T[], cpu: Readonly<Record<string, number>>): T[] {
  const name = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0
  return [...files].sort((a, b) => {
    if (a.groupOrder !== b.groupOrder) return a.groupOrder - b.groupOrder
    if (a.project !== b.project) return name(a.project, b.project)
    const ca = cpu[a.file]
    const cb = cpu[b.file]
    if (ca === undefined || cb === undefined) {
      if (ca !== undefined) return 1
      if (cb !== undefined) return -1
      return b.size - a.size || name(a.file, b.file)
    }
    return cb - ca || name(a.file, b.file)
  })
}

export function readFileCpu (file = FILE_CPU): Record<string, number> {
  if (!existsSync(file)) return {}
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>
}

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort (files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root
    const cpu = readFileCpu()
    const sortable = files.map(spec => ({
      spec,
      project: spec.project.name,
      groupOrder: spec.project.config.sequence.groupOrder,
      file: relative(root, spec.moduleId),
      size: existsSync(spec.moduleId) ? statSync(spec.moduleId).size : 0
    }))
    return longestFirst(sortable, cpu).map(s => s.spec)
  }
}
