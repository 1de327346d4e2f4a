// Empty files created ahead in tmp/ for a catch-up's range receives (TmpFilePool): created off the
// calling thread, each handed out once, only as many as were asked for, and none left behind.
import { describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { basename, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { cleanTmp, DataDir, TmpFilePool } from '../../../src/storage/index.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

const tmpNames = (dir: DataDir): string[] => { try { return readdirSync(dir.tmpDir).sort() } catch { return [] } }

describe('TmpFilePool', () => {
  it('creates nothing until told how many to keep, then keeps that many empty files of this process ready', async () => {
    const dir = new DataDir(tmpDir())
    const pool = new TmpFilePool(dir)
    // The first takes find nothing ready: the caller creates its own files.
    expect([pool.take(), pool.take(), pool.take()]).toEqual([undefined, undefined, undefined])
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(tmpNames(dir)).toEqual([])
    pool.keep(5)
    await waitFor(() => pool.size === 5)
    for (let i = 0; i < 3; i++) expect(pool.take()).toBeDefined()
    await waitFor(() => pool.size === 5) // refilled
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(tmpNames(dir)).toHaveLength(8) // five ready, three taken: no more
    for (const name of tmpNames(dir)) {
      expect(name.startsWith(`${process.pid}-`)).toBe(true) // cleanTmp's names: a crash leaves them to the next process's start
      expect(statSync(`${dir.tmpDir}/${name}`).size).toBe(0)
    }
    pool.keep(0) // no more blocks to come: takes are not refilled
    pool.take()
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(pool.size).toBe(4)
    await pool.close()
  })

  it('hands each file out once; the files taken stay the taker\'s when the pool closes, the others are removed', async () => {
    const dir = new DataDir(tmpDir())
    const pool = new TmpFilePool(dir)
    pool.keep(64)
    const taken: string[] = []
    while (taken.length < 200) {
      await waitFor(() => pool.size > 0)
      const p = pool.take()
      if (p !== undefined) taken.push(p)
    }
    expect(new Set(taken).size).toBe(taken.length)
    for (const p of taken) expect(statSync(p).size).toBe(0)
    await pool.close()
    expect(tmpNames(dir)).toEqual(taken.map(p => basename(p)).sort())
    expect(pool.take()).toBeUndefined()
  })

  it('closing waits for the creations in flight: no file of the pool appears after it', async () => {
    const dir = new DataDir(tmpDir())
    const pool = new TmpFilePool(dir)
    pool.keep(64) // the creations start now
    await pool.close()
    expect(tmpNames(dir)).toEqual([])
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(tmpNames(dir)).toEqual([])
  })

  it('takes nothing and throws nothing while tmp/ cannot be made; the callers create (and report) their own', async () => {
    const root = tmpDir()
    const dir = new DataDir(root)
    writeFileSync(dir.tmpDir, 'not a directory')
    const pool = new TmpFilePool(dir)
    pool.keep(8)
    for (let i = 0; i < 8; i++) expect(pool.take()).toBeUndefined()
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(pool.size).toBe(0)
    await pool.close()
    rmSync(dir.tmpDir)
    expect(existsSync(dir.tmpDir)).toBe(false)
  })

  // kill -9 of a process whose pool holds files: they are empty files of a process that is gone,
  // which the next writer's cleanTmp removes (recover() runs it on every writer's open).
  it('leaves, when killed -9, only files that cleanTmp removes', async () => {
    const dir = new DataDir(tmpDir())
    const src = pathToFileURL(srcEntry('storage', 'index.ts')).href
    const child = `
      const { DataDir, TmpFilePool } = await import(${JSON.stringify(src)})
      const pool = new TmpFilePool(new DataDir(${JSON.stringify(dir.root)}))
      pool.keep(16)
      const wait = () => pool.size === 16 ? process.kill(process.pid, 'SIGKILL') : setTimeout(wait, 5)
      wait()`
    const r = spawnSync(process.execPath, [...loaderFor(src), '--input-type=module', '-e', child], { encoding: 'utf8', timeout: 30_000 })
    expect(r.signal, r.stderr).toBe('SIGKILL')
    const left = tmpNames(dir)
    expect(left).toHaveLength(16)
    for (const name of left) expect(statSync(`${dir.tmpDir}/${name}`).size).toBe(0)
    expect(cleanTmp(dir)).toBe(16)
    expect(tmpNames(dir)).toEqual([])
  })

  it('names its files as this process\'s: cleanTmp passes over them while it runs (and removes them once it is gone)', async () => {
    const dir = new DataDir(tmpDir())
    const pool = new TmpFilePool(dir)
    pool.keep(4)
    await waitFor(() => pool.size === 4)
    expect(cleanTmp(dir)).toBe(0) // this process's own files are passed over while it runs
    expect(tmpNames(dir)).toHaveLength(4)
    await pool.close()
  })
})

describe('cleanTmp', () => {
  // Every write's recovery runs it: on 5ce8b8c its rmSync threw EISDIR there, and every
  // signimportblock, append or import of the directory failed with an internal error.
  it('leaves what it cannot remove (a directory) and removes the rest', () => {
    const dir = new DataDir(tmpDir())
    mkdirSync(dir.tmpDir)
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
    for (const d of [`${dead}-aaaaaa`, 'lost+found']) mkdirSync(join(dir.tmpDir, d))
    writeFileSync(join(dir.tmpDir, `${dead}-bbbbbb.db`), 'x')
    expect(cleanTmp(dir)).toBe(1)
    expect(tmpNames(dir)).toEqual([`${dead}-aaaaaa`, 'lost+found'])
  })
})
