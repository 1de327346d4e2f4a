/**
 * Progress of a long operation, in bytes of work: every phase that takes time (copying, checking,
 * hashing rows, hashing the file, receiving, syncing to disk) counts the bytes it has processed.
 * A file that is read by three passes is three times its size of work. `total` is the whole
 * operation's work as far as it is known; it may grow (a pull learns of more blocks), never
 * shrink below `done`. Lower modules only report; the CLI renders.
 */
export interface WorkProgress {
  /** What is being done now, in a few words ("hashing rows", "checking", "receiving"). */
  phase: string
  done: number
  total: number
  /** The current pass alone (e.g. the rows of one file being hashed), when it is part of a larger operation. */
  phaseDone?: number
  phaseTotal?: number
}

export type OnWorkProgress = (p: WorkProgress) => void

/**
 * Counts the bytes of work of an operation made of stages: a stage is one pass over `bytes` of
 * data; its progress is reported in bytes or as a fraction, and it counts in full once the next
 * stage begins (or finish() is called). Reports are not throttled: the renderer does that.
 */
export class WorkMeter {
  private base = 0
  private stageBytes = 0
  private inStage = 0
  private phase = ''

  constructor (private readonly report: OnWorkProgress | undefined, private total = 0) {}

  get done (): number { return this.base + this.inStage }

  /** The operation turned out to hold more (or less) work than first announced. */
  setTotal (total: number): void {
    this.total = total
    this.emit()
  }

  addTotal (bytes: number): void { this.setTotal(this.total + bytes) }

  /** Begin a pass of `bytes`; the previous stage counts as complete. */
  stage (phase: string, bytes: number): void {
    this.base += this.stageBytes
    this.stageBytes = Math.max(0, bytes)
    this.inStage = 0
    this.phase = phase
    this.emit()
  }

  /** Bytes processed so far in the current stage (monotonic, at most the stage's size). */
  at (bytes: number): void {
    const n = Math.min(this.stageBytes, Math.max(this.inStage, bytes))
    if (n === this.inStage) return
    this.inStage = n
    this.emit()
  }

  /** Add to the current stage's progress. */
  add (bytes: number): void { this.at(this.inStage + bytes) }

  /** Progress of the current stage as a fraction from 0 to 1. */
  fraction (f: number): void { this.at(Math.round(this.stageBytes * Math.min(1, Math.max(0, f)))) }

  /** The current stage is complete. */
  finish (): void {
    this.base += this.stageBytes
    this.stageBytes = 0
    this.inStage = 0
    this.emit()
  }

  private emit (): void {
    const done = this.done
    this.report?.({ phase: this.phase, done, total: Math.max(this.total, done), phaseDone: this.inStage, phaseTotal: this.stageBytes })
  }
}
