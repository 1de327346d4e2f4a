import type { ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { SqlValue } from '../../block/index.js'
import { AbortError, childExited, Mutex, reviveError, nullLogger, trackChildProcess, typeScriptBundle, type Logger } from '../../util/index.js'
import { QueryError } from '../errors.js'
import type { ResultSummary } from '../format/formatters.js'
import type { DecryptRequest } from './confidential.js'
import type { ChildMessage, ExportPlan, ExportRequest, OutputFormat, ParentMessage, RunRequest } from './protocol.js'
import { forkSandbox, type ParentDeath } from './fork.js'
import { takePrestartedSandbox, type ForkedSandbox } from './prestart.js'
import type { SandboxChannel } from './channel.js'

export interface SandboxRun {
  mode: 'mirror' | 'per-block'
  sql: string
  format: OutputFormat
  /** Time the statement may run, in ms (0: no limit). Time spent waiting for the consumer is not counted. */
  timeoutMs: number
  maxRows?: number
  from?: number
  to?: number
  signal?: AbortSignal
  /** Result columns ('rows' format; per-block mode may announce new ones between blocks). */
  onColumns?: (columns: string[]) => void
  /** A chunk of formatted output (text formats). Awaited: output is streamed with backpressure. */
  onText?: (text: string) => void | Promise<void>
  /** A batch of raw rows ('rows' format). */
  onRows?: (rows: SqlValue[][]) => void | Promise<void>
  /** Private encryption keys whose columns to decrypt (undefined: decryption off). */
  decrypt?: DecryptRequest
  /** Mirror mode: export this table instead of running `sql`. */
  export?: ExportRequest
  /** An export's plan, before its first row. */
  onPlan?: (plan: ExportPlan) => void
}

const STARTUP_MS = 60_000
/** How long close() lets a process finish writing its code cache (child.ts) before it kills it. */
const CACHE_WRITE_MS = 5_000
const STDERR_TAIL = 4096

/** Where the child's entry is: the built .js, or the .ts source run through tsx (tests, benches). */
function childEntry (): { file: string, execArgv: string[] } {
  const here = import.meta.url
  if (!here.endsWith('.ts')) return { file: fileURLToPath(new URL('./child.js', here)), execArgv: [] }
  const bundled = typeScriptBundle(new URL('./child.ts', here).href)
  if (bundled !== undefined) return { file: bundled, execArgv: [] }
  const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href
  return { file: fileURLToPath(new URL('./child.ts', here)), execArgv: ['--import', tsx] }
}

function forkChildEntry (env: NodeJS.ProcessEnv | undefined, parentDeath: ParentDeath | undefined): ForkedSandbox {
  const { file, execArgv } = childEntry()
  return forkSandbox(file, execArgv, env, parentDeath)
}

/**
 * The parent side of the query sandbox: one child process that runs statements one at a time and
 * is kept warm between them. A statement that exceeds its time limit, or a caller that aborts,
 * gets the process killed (SIGKILL): a native sqlite3_step that never returns cannot be stopped
 * any other way in this build. The next run starts a fresh process.
 */
export class QuerySandbox {
  private child?: ChildProcess
  private channel?: SandboxChannel
  private ready?: Promise<void>
  private stderr = ''
  private readonly mutex = new Mutex()
  /** Every process this sandbox started that has not exited yet (one killed at a time limit is
   * still dying while the next one starts): close() waits for all of them. */
  private readonly started = new Set<ChildProcess>()
  /** Processes writing their code cache (after their first statement): settled once written or gone. */
  private readonly cacheWrites = new Map<ChildProcess, Promise<void>>()
  private readonly logger: Logger
  private readonly env: NodeJS.ProcessEnv | undefined
  private readonly parentDeath: ParentDeath | undefined

  /**
   * `env`: the sandbox process's environment (default: this process's). `parentDeath`: how the
   * sandbox learns that this process died (default: the kernel's signal where there is one; fork.ts).
   */
  constructor (private readonly dataDir: string, options: { logger?: Logger, env?: NodeJS.ProcessEnv, parentDeath?: ParentDeath } = {}) {
    this.logger = options.logger ?? nullLogger
    this.env = options.env
    this.parentDeath = options.parentDeath
  }

  /** Start the process now (it takes ~0.1 s), e.g. while the mirror syncs; returns it. */
  start (): ChildProcess {
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) return this.child
    // The CLI's router may have forked it already, while this command's code loaded.
    const prestarted = takePrestartedSandbox()
    const forked = prestarted ?? forkChildEntry(this.env, this.parentDeath)
    const { child, channel } = forked
    this.stderr = ''
    this.child = child
    this.channel = channel
    trackChildProcess(child)
    this.started.add(child)
    this.logger.debug('query sandbox process started', { pid: child.pid, prestarted: prestarted !== undefined })
    child.once('exit', (code, signal) => {
      this.started.delete(child)
      this.logger.debug('query sandbox process exited', { pid: child.pid, code, signal })
    })
    // 'error' (a failed kill or send on a dead channel) must never be unhandled: the 'exit' and
    // send callbacks report what happened to the statement.
    child.on('error', () => {})
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (s: string) => { this.stderr = (this.stderr + s).slice(-STDERR_TAIL) })
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { fail(new Error('it did not start in time')) }, STARTUP_MS)
      const onMessage = (m: ChildMessage): void => { if (m.type === 'ready') { cleanup(); resolve() } }
      const onExit = (): void => { fail(new Error(`it exited while starting${this.stderr === '' ? '' : ': ' + this.stderr.trim()}`)) }
      const onError = (err: Error): void => { fail(err) }
      const cleanup = (): void => { clearTimeout(timer); channel.off(onMessage); child.off('exit', onExit); child.off('error', onError) }
      const fail = (err: Error): void => {
        cleanup()
        child.kill('SIGKILL')
        reject(new QueryError('QUERY_SANDBOX_FAILED', `cannot start the query sandbox process: ${err.message}`, { hint: 'check that the installation is complete (`npm ci`)' }))
      }
      channel.on(onMessage)
      child.once('exit', onExit)
      child.once('error', onError)
      if (forked.ready) { cleanup(); resolve() }
    })
    this.ready.catch(() => {})
    this.noteCacheWrite(child, channel)
    this.idle(child, channel)
    return child
  }

  /** Run one statement; resolves with the summary once every chunk has been consumed. */
  async run (o: SandboxRun): Promise<ResultSummary> {
    return await this.mutex.run(async () => {
      if (o.signal?.aborted === true) throw new AbortError()
      const child = this.start()
      const { channel, ready } = this
      if (channel === undefined || ready === undefined) throw new Error('the sandbox has no channel')
      child.ref()
      channel.ref()
      try {
        return await this.exchange(child, channel, ready, o)
      } finally {
        if (this.child === child) this.idle(child, channel)
      }
    })
  }

  /** The sandbox process's id while it runs (for operators and tests). */
  get pid (): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined
  }

  /**
   * Stop the process; resolves once every process this sandbox started has exited and been reaped.
   * One writing its code cache (once per installation) is let finish first, within CACHE_WRITE_MS:
   * killed, it would start from the build's seed again every time.
   */
  async close (): Promise<void> {
    this.child = undefined
    const writes = [...this.cacheWrites.values()]
    if (writes.length > 0) await within(Promise.all(writes), CACHE_WRITE_MS)
    const all = [...this.started]
    for (const c of all) c.kill('SIGKILL')
    await Promise.all(all.map(childExited))
  }

  /** Note when `child` says it writes its code cache ('caching'), until it says it is written ('cached') or exits. */
  private noteCacheWrite (child: ChildProcess, channel: SandboxChannel): void {
    const onCaching = (m: ChildMessage): void => {
      if (m.type !== 'caching') return
      channel.off(onCaching)
      this.cacheWrites.set(child, new Promise<void>(resolve => {
        const end = (): void => { channel.off(onCached); child.off('exit', end); this.cacheWrites.delete(child); resolve() }
        const onCached = (c: ChildMessage): void => { if (c.type === 'cached') end() }
        channel.on(onCached)
        child.once('exit', end)
      }))
    }
    channel.on(onCaching)
    child.once('exit', () => { channel.off(onCaching) })
  }

  /** Between runs a warm sandbox must not keep its parent alive. */
  private idle (child: ChildProcess, channel: SandboxChannel): void {
    child.unref()
    channel.unref()
  }

  /**
   * Send `o` to the process and take its answer. The statement goes at once, before the process
   * says it is ready (a fresh one is still loading): it reads it as soon as it can, with no round
   * trip through this process (docs/performance/query.md, "Session 40: petal query"). The time limit
   * starts when it is ready; until then a failure is the start's (`ready` rejects).
   */
  private async exchange (child: ChildProcess, channel: SandboxChannel, ready: Promise<void>, o: SandboxRun): Promise<ResultSummary> {
    return await new Promise<ResultSummary>((resolve, reject) => {
      let settled = false
      let started = false
      let queue = Promise.resolve()
      // The time budget runs while the child works and stops while the consumer takes a chunk.
      let remaining = o.timeoutMs > 0 ? o.timeoutMs : Infinity
      let since = performance.now()
      let timer: NodeJS.Timeout | undefined
      const arm = (): void => { if (remaining !== Infinity) timer = setTimeout(onTimeout, Math.max(0, remaining)) }
      const pause = (): void => { clearTimeout(timer); remaining -= performance.now() - since }
      const resume = (): void => { since = performance.now(); arm() }
      /** Stop listening; false when the run was already settled. */
      const settle = (): boolean => {
        if (settled) return false
        settled = true
        clearTimeout(timer)
        channel.off(onMessage)
        child.off('exit', onExit)
        o.signal?.removeEventListener('abort', onAbort)
        return true
      }
      const finish = (err: unknown): void => { if (settle()) reject(err) }
      const succeed = (summary: ResultSummary): void => { if (settle()) resolve(summary) }
      const kill = (err: unknown): void => {
        if (this.child === child) this.child = undefined
        child.kill('SIGKILL')
        finish(err)
      }
      const onTimeout = (): void => {
        kill(new QueryError('QUERY_TIMEOUT', `the statement ran longer than the time limit of ${formatSeconds(o.timeoutMs)} and was stopped`, {
          hint: 'narrow it (WHERE, LIMIT, fewer blocks), or raise --timeout', details: { timeoutMs: o.timeoutMs }
        }))
      }
      const onAbort = (): void => { kill(new AbortError()) }
      // The child may die between our check and the send; report it instead of throwing.
      // Before it is ready, its exit is reported as a failed start (`ready`).
      const sendFailed = (err: Error | null): void => {
        if (err !== null && started) kill(new QueryError('QUERY_SANDBOX_FAILED', `the query sandbox process went away: ${err.message}`, { hint: 'run the query again' }))
      }
      const onExit = (code: number | null, signal: string | null): void => {
        if (this.child === child) this.child = undefined
        if (!started) return
        if (channel.broken !== undefined) {
          finish(new QueryError('QUERY_SANDBOX_FAILED', `the query sandbox process sent what is not its protocol (${channel.broken.message}) and was stopped`, { hint: 'run the query again' }))
          return
        }
        finish(new QueryError('QUERY_SANDBOX_FAILED', `the query sandbox process died (${signal ?? `exit ${String(code)}`})${this.stderr === '' ? '' : ': ' + this.stderr.trim().slice(-500)}`, {
          hint: 'the statement may need more memory than is available; narrow it'
        }))
      }
      const consume = async (m: ChildMessage): Promise<void> => {
        if (m.type === 'columns') { o.onColumns?.(m.columns); return }
        if (m.type === 'plan') { o.onPlan?.(m.plan); return }
        if (m.type === 'done') { succeed(m.summary); return }
        if (m.type === 'error') { finish(reviveError(m.error)); return }
        if (m.type !== 'text' && m.type !== 'rows') return
        pause()
        try {
          if (m.type === 'text') await o.onText?.(m.text)
          else await o.onRows?.(m.rows)
        } finally {
          if (!settled) resume()
        }
        if (!settled && channel.connected) channel.send({ type: 'ack' } satisfies ParentMessage, sendFailed)
      }
      const onMessage = (m: ChildMessage): void => {
        queue = queue.then(async () => { if (!settled) await consume(m) }).catch(err => { kill(err) })
      }
      channel.on(onMessage)
      child.once('exit', onExit)
      o.signal?.addEventListener('abort', onAbort, { once: true })
      const req: RunRequest = { type: 'run', mode: o.mode, sql: o.sql, dataDir: this.dataDir, format: o.format, maxRows: o.maxRows, from: o.from, to: o.to, decrypt: o.decrypt, export: o.export }
      channel.send(req, sendFailed)
      ready.then(() => {
        if (settled) return
        started = true
        resume()
      }, err => { finish(err) })
    })
  }
}

/** Wait for `p`, at most `ms` (a timer that keeps the process alive meanwhile). */
async function within (p: Promise<unknown>, ms: number): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = setTimeout(resolve, ms)
    void p.finally(() => { clearTimeout(timer); resolve() })
  })
}

function formatSeconds (ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(3).replace(/0+$/, '')} s`
}
