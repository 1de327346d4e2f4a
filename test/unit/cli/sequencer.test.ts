import { describe, expect, it } from 'vitest'
import config from '../../../vitest.config.js'
import LongestFirstSequencer, { longestFirst, readFileCpu, type Sortable } from '../../helpers/sequencer.js'

// vitest starts the longest files first (test/helpers/sequencer.ts), by test/file-cpu.json.
const f = (project: string, file: string, size = 100, groupOrder = 0): Sortable => ({ project, groupOrder, file, size })
const order = (files: Sortable[], cpu: Record<string, number>): string[] => longestFirst(files, cpu).map(s => `${s.project} ${s.file}`)

describe('the longest test files first (test/helpers/sequencer.ts)', () => {
  it('orders each project longest first, projects in vitest\'s order', () => {
    const files = [f('unit', 'u-short'), f('slow', 's-short'), f('unit', 'u-long'), f('slow', 's-long'), f('slow', 's-mid')]
    expect(order(files, { 'u-short': 0.4, 's-short': 1, 'u-long': 30, 's-long': 40, 's-mid': 5 }))
      .toEqual(['slow s-long', 'slow s-mid', 'slow s-short', 'unit u-long', 'unit u-short'])
  })

  it('starts files the list does not know first, largest first, and ignores files it knows that are gone', () => {
    const files = [f('unit', 'known', 10), f('unit', 'new-small', 50), f('unit', 'new-large', 900)]
    expect(order(files, { known: 60, removed: 99 })).toEqual(['unit new-large', 'unit new-small', 'unit known'])
  })

  it('keeps a lower sequence.groupOrder first whatever the times', () => {
    expect(order([f('a', 'late', 1, 1), f('b', 'early', 1, 0)], { late: 99, early: 1 })).toEqual(['b early', 'a late'])
  })

  it('is the sequencer of the suite, and its list names files as vitest\'s root does', () => {
    expect(config.test?.sequence?.sequencer).toBe(LongestFirstSequencer)
    const names = Object.keys(readFileCpu())
    expect(names.length).toBeGreaterThan(0)
    for (const name of names) expect(name).toMatch(/^test\/(unit|integration|e2e|browser)\/[\w./-]+\.test\.ts$/)
  })
})
