import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, closeSync, constants, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { pathToFileURL } from 'node:url'
import { writeOutputFile } from '../../../src/util/index.js'

// A rename onto a path that is not a regular file replaces the node itself: as root, `prove -o
// /dev/null` turned /dev/null into a regular file. A FIFO stands in for the device here (a test
// that got it wrong must not break the machine it runs on).
describe('writeOutputFile', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'petal-out-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('writes a new file and replaces a regular one', async () => {
    const f = join(dir, 'proof.json')
    await writeOutputFile(f, 'one\n')
    expect(readFileSync(f, 'utf8')).toBe('one\n')
    await writeOutputFile(f, 'two\n')
    expect(readFileSync(f, 'utf8')).toBe('two\n')
  })

  it('keeps the permissions of the file it replaces, directly or through a symlink (review30)', async () => {
    // A proof (query --prove holds the rows' values) written over a file the user had made
    // private came back world-readable (0644): the replacement was made with the default mode.
    const f = join(dir, 'private.json')
    writeFileSync(f, 'old\n')
    chmodSync(f, 0o600)
    await writeOutputFile(f, 'new\n')
    expect(readFileSync(f, 'utf8')).toBe('new\n')
    expect((statSync(f).mode & 0o777).toString(8)).toBe('600')
    const target = join(dir, 'target.json')
    writeFileSync(target, 'old\n')
    chmodSync(target, 0o640)
    symlinkSync('target.json', join(dir, 'link.json'))
    await writeOutputFile(join(dir, 'link.json'), 'new\n')
    expect(readFileSync(target, 'utf8')).toBe('new\n')
    expect((statSync(target).mode & 0o777).toString(8)).toBe('640')
    // A new file: the usual mode (0644 less the umask).
    await writeOutputFile(join(dir, 'new.json'), 'x')
    expect(statSync(join(dir, 'new.json')).mode & 0o777).toBe(0o644 & ~process.umask())
  })

  it('writes a file with other hard links in place: every name sees the new content (mend31)', async () => {
    // A rename gave the name a new inode: the other name kept the old proof, and the two names that
    // were one file became two (a shell's `>`, Vim's backupcopy=auto, keep them one).
    const f = join(dir, 'proof.json')
    writeFileSync(f, 'old\n')
    const other = join(dir, 'also.json')
    linkSync(f, other)
    const ino = statSync(f).ino
    await writeOutputFile(f, 'new\n')
    expect(readFileSync(other, 'utf8')).toBe('new\n')
    expect(statSync(f).ino).toBe(ino)
    expect(statSync(f).nlink).toBe(2)
    // Through a symlink to one of the names, the same.
    symlinkSync('also.json', join(dir, 'link.json'))
    await writeOutputFile(join(dir, 'link.json'), 'newer\n')
    expect(readFileSync(f, 'utf8')).toBe('newer\n')
    expect(statSync(other).ino).toBe(ino)
  })

  it.skipIf(process.getuid?.() !== 0)('as root, keeps the owner and group of the file it replaces, still atomically (mend31; skipped unless the test runs as root)', async () => {
    // The replacement was root's: a proof written by root (sudo, a service's maintenance job) over
    // a user's file took it from the user, who could then no longer change or remove it.
    const f = join(dir, 'users.json')
    writeFileSync(f, 'old\n')
    chownSync(f, 1234, 5678)
    chmodSync(f, 0o660) // the group's write bit too, whatever the umask
    const ino = statSync(f).ino
    await writeOutputFile(f, 'new\n')
    const st = statSync(f)
    expect(readFileSync(f, 'utf8')).toBe('new\n')
    expect([st.uid, st.gid, (st.mode & 0o777).toString(8)]).toEqual([1234, 5678, '660'])
    expect(st.ino).not.toBe(ino) // root can make the new file the user's: replaced by a rename
  })

  it.skipIf(process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0)('as another user, writes in place a file it cannot recreate with the same owner or in a directory it cannot write; keeps a group it belongs to (mend31; needs root and setpriv to become that user)', async () => {
    // A group-writable file of someone else's: a rename made it the writer's. In a directory the
    // writer may not create files in, the temporary name failed (EACCES) where `>` writes.
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    const as = (file: string, text: string): ReturnType<typeof spawnSync> => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--groups=65533', process.execPath, ...loaderFor(url), '--input-type=module', '-e',
      `const { writeOutputFile } = await import(${JSON.stringify(url)}); await writeOutputFile(${JSON.stringify(file)}, ${JSON.stringify(text)})`], { encoding: 'utf8', env: { ...process.env, HOME: dir } })
    chmodSync(dir, 0o777)
    const open = join(dir, 'open')
    const closed = join(dir, 'closed')
    mkdirSync(open, { mode: 0o777 })
    chmodSync(open, 0o777)
    mkdirSync(closed, { mode: 0o755 })
    for (const [d, name] of [[open, 'root-owned in a writable directory'], [closed, 'in a directory it cannot write']] as const) {
      const f = join(d, 'shared.json')
      writeFileSync(f, 'old\n')
      chmodSync(f, 0o666)
      const ino = statSync(f).ino
      const r = as(f, 'new\n')
      expect(r.status, `${name}: ${String(r.stderr)}`).toBe(0)
      const st = statSync(f)
      expect(readFileSync(f, 'utf8'), name).toBe('new\n')
      expect([st.uid, st.gid, st.ino], name).toEqual([0, 0, ino])
    }
    // Its own file of a group it belongs to (not its first group): recreated with that group, by a rename.
    const g = join(open, 'group.json')
    writeFileSync(g, 'old\n')
    chownSync(g, 65534, 65533)
    chmodSync(g, 0o660)
    const ino = statSync(g).ino
    const r = as(g, 'new\n')
    expect(r.status, String(r.stderr)).toBe(0)
    const st = statSync(g)
    expect(readFileSync(g, 'utf8')).toBe('new\n')
    expect([st.uid, st.gid, (st.mode & 0o777).toString(8)]).toEqual([65534, 65533, '660'])
    expect(st.ino).not.toBe(ino)
  })

  it('writes /dev/stdout, /dev/stderr and /dev/fd/N to the descriptor as it is open, not over the file behind it (review30)', async () => {
    // `petal checkpoint -o /dev/stdout >> all.txt`: the path led (through /proc/self/fd/1) to
    // all.txt, which was replaced by a rename: what it held before was lost, and so was everything
    // the command printed after (to the old file, unlinked). A shell takes these names as the
    // descriptor itself (bash's redirections do): appended here, the file kept.
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    for (const [name, fd] of [['/dev/stdout', 1], ['/dev/stderr', 2], ['/dev/fd/1', 1], ['/proc/self/fd/2', 2]] as const) {
      const log = join(dir, `all-${fd}.txt`)
      writeFileSync(log, 'before\n')
      const ino = statSync(log).ino
      const out = openSync(log, 'a')
      const stdio: Array<'ignore' | number> = ['ignore', 'ignore', 'ignore']
      stdio[fd] = out
      const script = `const { writeOutputFile } = await import(${JSON.stringify(url)}); await writeOutputFile(${JSON.stringify(name)}, 'proof\\n'); process.${fd === 1 ? 'stdout' : 'stderr'}.write('after\\n')`
      const r = spawnSync(process.execPath, [...loaderFor(url), '--input-type=module', '-e', script], { stdio })
      closeSync(out)
      expect(r.status, name).toBe(0)
      expect(readFileSync(log, 'utf8'), name).toBe('before\nproof\nafter\n')
      expect(statSync(log).ino, name).toBe(ino)
    }
    // Stdout a socket (a Node parent's 'pipe'), non-blocking once Node's stream is made: a proof
    // larger than the socket takes at once arrives whole, before what is printed after.
    const big = 'x'.repeat(3 << 20)
    const script = `process.stdout; const { writeOutputFile } = await import(${JSON.stringify(url)}); await writeOutputFile('/dev/stdout', 'x'.repeat(${big.length})); process.stdout.write('after')`
    const r = spawnSync(process.execPath, [...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 8 << 20 })
    expect(r.status).toBe(0)
    expect(r.stdout.toString() === big + 'after').toBe(true)
  })

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('waits for a slow reader of a pipe in the event loop, not in a loop of its own or in the kernel (mend31)', async () => {
    // /dev/fd/N a pipe opened non-blocking: each EAGAIN slept 5 ms in Atomics.wait, 190 wake-ups a
    // second while the reader stalled. A FIFO named as such was written by a blocking
    // writeFileSync. Either way the event loop (Ctrl-C's handler) did not run until the reader had
    // taken every byte. The child's timer counts the loop's turns during the write.
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    const size = 3 << 20
    for (const named of ['/dev/fd/N, non-blocking', 'the FIFO by its name']) {
      const fifo = join(dir, `slow-${named.length}`)
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
      const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
      const reader = new Socket({ fd: readFd, readable: true, writable: false })
      reader.pause()
      const target = named.startsWith('/dev/fd/')
        ? `'/dev/fd/' + openSync(${JSON.stringify(fifo)}, constants.O_WRONLY | constants.O_NONBLOCK)`
        : JSON.stringify(fifo)
      const script = `import { openSync, constants } from 'node:fs'
        const { writeOutputFile } = await import(${JSON.stringify(url)})
        let turns = 0
        const timer = setInterval(() => { if (++turns === 3) process.stderr.write('turned\\n') }, 5)
        await writeOutputFile(${target}, 'x'.repeat(${size}))
        clearInterval(timer)
        process.stderr.write('turns ' + turns + '\\n')`
      const child = spawn(process.execPath, [...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] })
      let said = ''
      const exited = new Promise<number | null>(resolve => child.on('close', resolve))
      // The reader starts once the writer's loop has turned while it waits (capped: the old code never turned).
      await new Promise<void>(resolve => {
        const cap = setTimeout(resolve, 30_000)
        child.stderr.on('data', (d: Buffer) => { said += d.toString(); if (said.includes('turned')) { clearTimeout(cap); resolve() } })
      })
      // Then it reads slowly: one chunk, a pause, the next.
      let got = 0
      reader.on('data', (c: Buffer) => { got += c.length; reader.pause(); setTimeout(() => reader.resume(), 1) })
      const ended = new Promise<void>(resolve => reader.on('end', resolve))
      reader.resume()
      expect(await exited, `${named}: ${said}`).toBe(0)
      await ended
      expect(got, named).toBe(size)
      expect(said, named).toContain('turned')
    }
  })

  it.skipIf(process.platform !== 'linux' || spawnSync('mkfifo', ['--version']).status !== 0)('waits for a stalled reader of a non-blocking pipe without a timer: the pipe opened anew and written through a libuv stream (mend32)', async () => {
    // /dev/fd/N of a pipe opened non-blocking: each EAGAIN was retried on a timer (1 ms doubling
    // to 100 ms, up to 10 wake-ups a second while the reader stalled). The child counts the
    // timers the writer sets (setTimeout called from output-file) during a 3 MiB write whose
    // reader starts only once the writer's loop has turned three times.
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    const size = 3 << 20
    const fifo = join(dir, 'stalled')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    const reader = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false })
    reader.pause()
    const script = `import { openSync, constants } from 'node:fs'
      const { writeOutputFile } = await import(${JSON.stringify(url)})
      const fd = openSync(${JSON.stringify(fifo)}, constants.O_WRONLY | constants.O_NONBLOCK)
      const set = globalThis.setTimeout
      let timers = 0
      globalThis.setTimeout = (...a) => { if (/output-file/.test(new Error().stack)) timers++; return set(...a) }
      let turns = 0
      const tick = setInterval(() => { if (++turns === 3) process.stderr.write('turned\\n') }, 5)
      await writeOutputFile('/dev/fd/' + fd, 'x'.repeat(${size}))
      clearInterval(tick)
      process.stderr.write('timers ' + timers + '\\n')`
    const child = spawn(process.execPath, [...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] })
    let said = ''
    const exited = new Promise<number | null>(resolve => child.on('close', resolve))
    await new Promise<void>(resolve => {
      child.stderr.on('data', (d: Buffer) => { said += d.toString(); if (said.includes('turned')) resolve() })
      child.on('close', () => { resolve() })
    })
    let got = 0
    reader.on('data', (c: Buffer) => { got += c.length })
    const ended = new Promise<void>(resolve => reader.on('end', resolve))
    reader.resume()
    expect(await exited, said).toBe(0)
    await ended
    expect(got).toBe(size)
    expect(said).toContain('turned')
    expect(said).toContain('timers 0')
  })

  it.skipIf(process.platform !== 'linux')('refuses /dev/fd/N and /proc/self/fd/N for a descriptor of the process\'s own, takes one it was given (review31)', async () => {
    // `checkpoint --sign -o /dev/fd/18` without a descriptor 18 given wrote the note over
    // chain.db's header (SQLite had it open as 18); /dev/fd/7 and /dev/fd/12 were libuv's wake-up
    // pipes (SIGSEGV). Here: a file the process opened read-write (as SQLite opens its databases),
    // a pipe of libuv's (both ends in the process), an event descriptor and a closed one are
    // refused and left as they were; a file given as a shell's `3>> FILE` gives it and a pipe
    // given by the parent are written.
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    const own = join(dir, 'own.db')
    writeFileSync(own, 'database\n')
    const script = `const { openSync, closeSync, readdirSync, readFileSync, readlinkSync } = await import('node:fs'); const { writeOutputFile } = await import(${JSON.stringify(url)});
      const fd = openSync(${JSON.stringify(own)}, 'r+')
      const links = readdirSync('/proc/self/fd').map(n => { try { return [n, readlinkSync('/proc/self/fd/' + n)] } catch { return [n, ''] } })
      const writeEnd = n => (parseInt(/^flags:\\s*([0-7]+)$/m.exec(readFileSync('/proc/self/fdinfo/' + n, 'latin1'))[1], 8) & 3) === 1
      const pipe = links.find(([n, l]) => l.startsWith('pipe:') && writeEnd(n) && links.some(([m, k]) => m !== n && k === l))?.[0]
      const anon = links.find(([, l]) => l.startsWith('anon_inode:'))?.[0]
      for (const name of ['/dev/fd/' + fd, '/proc/self/fd/' + fd, '/dev//fd/' + fd, '/proc/thread-self/fd/' + fd, '/proc/' + process.pid + '/fd/' + fd, '/dev/fd/' + pipe, '/dev/fd/' + anon, '/dev/fd/999']) {
        try { await writeOutputFile(name, 'proof\\n'); console.log('wrote ' + name) } catch (err) { console.log(err.code + ' ' + name) }
      }
      closeSync(fd)
      await writeOutputFile('/dev/fd/3', 'given\\n')
      await writeOutputFile('/proc/self/fd/4', 'piped\\n')`
    const log = join(dir, 'given.txt')
    writeFileSync(log, 'before\n')
    const given = openSync(log, 'a')
    const r = spawnSync(process.execPath, [...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit', given, 'pipe'] })
    closeSync(given)
    expect(r.status).toBe(0)
    expect(r.stdout.toString().trim().split('\n').map(l => l.split(' ')[0])).toEqual(Array(8).fill('EBADF'))
    expect(readFileSync(own, 'utf8')).toBe('database\n')
    expect(readFileSync(log, 'utf8')).toBe('before\ngiven\n')
    expect(String(r.output[4])).toBe('piped\n')
  })

  it.skipIf(process.platform !== 'linux')('takes a descriptor given as a copy of stdout (`3>&1`): the same end of a pipe twice is not a pipe the process reads itself (review32)', () => {
    // `petal checkpoint -o /dev/fd/3 3>&1 | cat` was refused: "descriptor 3 (pipe:[…]) was not
    // given to this command but opened by the process itself", as fd 1 holds the same pipe.
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    const script = `const { writeOutputFile } = await import(${JSON.stringify(url)}); await writeOutputFile('/dev/fd/3', 'through 3\\n')`
    // A pipe to cat (a child's 'pipe' stdio is a socket pair, not a pipe).
    const r = spawnSync('sh', ['-c', '"$@" 3>&1 | cat', 'sh', process.execPath, ...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    expect({ status: r.status, stderr: r.stderr.toString() }).toEqual({ status: 0, stderr: '' })
    expect(r.stdout.toString()).toBe('through 3\n')
  })

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('writes through a FIFO, which stays a FIFO', async () => {
    const fifo = join(dir, 'pipe')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] })
    const chunks: Buffer[] = []
    reader.stdout.on('data', (c: Buffer) => chunks.push(c))
    const closed = new Promise<number | null>(resolve => reader.on('close', resolve))
    try {
      await writeOutputFile(fifo, 'through the pipe\n')
      expect(await closed).toBe(0)
    } finally {
      reader.kill() // a rename over the FIFO would leave cat waiting for a writer forever
    }
    expect(Buffer.concat(chunks).toString()).toBe('through the pipe\n')
    expect(lstatSync(fifo).isFIFO()).toBe(true)
  })

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('a FIFO without a reader, or whose reader stalls, leaves no thread behind once the wait is stopped: the process ends (review32)', () => {
    // The FIFO was opened and written on the thread pool: stopped (Ctrl-C), the command said
    // "interrupted" and then never ended, not even on a second Ctrl-C: at exit libuv joins its
    // threads, and one sat in open(2) waiting for a reader, or in write(2) for a stalled one.
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    for (const reader of [false, true]) {
      const fifo = join(dir, `fifo-${String(reader)}`)
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
      const readFd = reader ? openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK) : undefined
      const script = `const { writeOutputFile } = await import(${JSON.stringify(url)})
        const stop = new AbortController()
        let turns = 0
        const timer = setInterval(() => { if (++turns === 3) stop.abort() }, 5)
        try { await writeOutputFile(${JSON.stringify(fifo)}, 'x'.repeat(${3 << 20}), { signal: stop.signal }); console.log('wrote') } catch (err) { console.log(err.name) }
        clearInterval(timer)`
      try {
        // Capped: the old process never ended, and is then ended by a signal.
        const r = spawnSync(process.execPath, [...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 30_000 })
        expect({ reader, signal: r.signal, status: r.status, said: r.stdout.toString().trim() }).toEqual({ reader, signal: null, status: 0, said: 'AbortError' })
      } finally {
        if (readFd !== undefined) closeSync(readFd)
      }
      expect(lstatSync(fifo).isFIFO()).toBe(true)
    }
  })

  it('puts back what a file written in place held when the write fails (EFBIG here, ENOSPC alike) (review32)', () => {
    // A file with another hard link is truncated and written: a write that failed left it short,
    // the old content lost and the new not written, in both names. A file-size limit (ulimit -f,
    // whose SIGXFSZ Node ignores) makes the write fail without filling a disk.
    const f = join(dir, 'linked.note')
    writeFileSync(f, 'old content\n')
    linkSync(f, join(dir, 'other-name'))
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    const script = `const { writeOutputFile } = await import(${JSON.stringify(url)})
      try { await writeOutputFile(${JSON.stringify(f)}, 'x'.repeat(64 << 10)); console.log('wrote') } catch (err) { console.log(err.code) }`
    const r = spawnSync('sh', ['-c', 'ulimit -f 16 && exec "$@"', 'sh', process.execPath, ...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    expect(r.stdout.toString().trim()).toBe('EFBIG')
    expect(readFileSync(f, 'utf8')).toBe('old content\n')
    expect(readFileSync(join(dir, 'other-name'), 'utf8')).toBe('old content\n')
  })

  it('replaces the file a symlink points at, not the link', async () => {
    const target = join(dir, 'real.json')
    writeFileSync(target, 'old\n')
    const link = join(dir, 'link.json')
    symlinkSync('real.json', link)
    await writeOutputFile(link, 'new\n')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe('real.json')
    expect(readFileSync(target, 'utf8')).toBe('new\n')
  })

  // A link's target climbing `..` out of a linked directory (`sub/../real.json`, `sub` a link to
  // other/a/b): the kernel's file is other/a/real.json; node:fs's realpathSync reads the `..`
  // lexically and named out/real.json, which was replaced instead, a file nobody named (review54b).
  it('replaces the file the kernel opens through a link whose target climbs `..` out of a linked directory', async () => {
    mkdirSync(join(dir, 'other', 'a', 'b'), { recursive: true })
    mkdirSync(join(dir, 'out'))
    writeFileSync(join(dir, 'other', 'a', 'real.json'), 'old\n')
    writeFileSync(join(dir, 'out', 'real.json'), 'not named\n')
    symlinkSync(join(dir, 'other', 'a', 'b'), join(dir, 'out', 'sub'))
    const link = join(dir, 'out', 'link.json')
    symlinkSync('sub/../real.json', link)
    await writeOutputFile(link, 'new\n')
    expect(readFileSync(link, 'utf8')).toBe('new\n')
    expect(readFileSync(join(dir, 'other', 'a', 'real.json'), 'utf8')).toBe('new\n')
    expect(readFileSync(join(dir, 'out', 'real.json'), 'utf8')).toBe('not named\n')
  })

  it('creates the target of a dangling symlink, as `>` does', async () => {
    const link = join(dir, 'link.json')
    symlinkSync('made.json', link)
    await writeOutputFile(link, 'made\n')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readFileSync(join(dir, 'made.json'), 'utf8')).toBe('made\n')
  })

  it('refuses a directory and leaves it as it was', async () => {
    const d = join(dir, 'out')
    mkdirSync(d)
    await expect(writeOutputFile(d, 'x')).rejects.toThrow(/EISDIR/)
    expect(lstatSync(d).isDirectory()).toBe(true)
  })
})
