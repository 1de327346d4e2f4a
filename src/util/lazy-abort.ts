/**
 * A command's abort (Ctrl-C, SIGTERM, a failed write of stdout) whose AbortController is made only
 * when something needs one: Node's AbortController loads internal/abort_controller and compiles
 * its functions (~2 M instructions of a 100-row `signimportblock`; docs/performance/import.md, "Session
 * 43: the 100-row import"), while a local write only reads `aborted` at its checks.
 *
 * `signal` is the real AbortSignal (made at first ask). `probe` stands for it where the reader is
 * Petal's own code (a write's lock options): its `aborted`, `reason` and `throwIfAborted` read
 * the real signal if one was made and are "not aborted" otherwise (an abort always makes it), and
 * anything that listens (`addEventListener`, `onabort`) makes the real signal and listens there.
 * So an abort before or during the command is seen by both alike. Not for Node's or a package's
 * APIs that need a real AbortSignal's internals (`AbortSignal.any`, `events.setMaxListeners`).
 */
export class LazyAbort {
  private controller: AbortController | undefined
  /** Stands for `signal` (see above); typed as one for the options that carry it. */
  readonly probe: AbortSignal = new AbortProbe(() => this.controller?.signal, () => this.signal) as unknown as AbortSignal

  /** The real signal, made now if it was not. */
  get signal (): AbortSignal { return (this.controller ??= new AbortController()).signal }

  /** Abort (once: a second call changes nothing, as AbortController's). */
  abort (reason?: unknown): void { (this.controller ??= new AbortController()).abort(reason) }
}

/** The part of AbortSignal that Petal's code reads, without an AbortSignal until one is needed. */
class AbortProbe {
  constructor (private readonly made: () => AbortSignal | undefined, private readonly make: () => AbortSignal) {}
  get aborted (): boolean { return this.made()?.aborted === true }
  get reason (): unknown { return this.made()?.reason }
  throwIfAborted (): void { this.made()?.throwIfAborted() }
  get onabort (): AbortSignal['onabort'] { return this.made()?.onabort ?? null }
  set onabort (f: AbortSignal['onabort']) { this.make().onabort = f }
  addEventListener (...a: Parameters<AbortSignal['addEventListener']>): void { this.make().addEventListener(...a) }
  removeEventListener (...a: Parameters<AbortSignal['removeEventListener']>): void { this.made()?.removeEventListener(...a) }
  dispatchEvent (e: Event): boolean { return this.make().dispatchEvent(e) }
}
