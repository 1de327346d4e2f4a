export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]
const LEVELS: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export function isLogLevel (v: string): v is LogLevel {
  return LOG_LEVELS.some(l => l === v)
}

export type LogContext = Record<string, unknown>

/**
 * Structured logger: `log.info('imported block', { height, hash })`. Never log peer-supplied text
 * at info or above. Modules receive a child logger tagged with their name.
 */
export interface Logger {
  error: (message: string, context?: LogContext) => void
  warn: (message: string, context?: LogContext) => void
  info: (message: string, context?: LogContext) => void
  debug: (message: string, context?: LogContext) => void
  child: (module: string) => Logger
}

export interface LogRecord { level: LogLevel, module: string, message: string, context?: LogContext, time: number }
export type LogSink = (record: LogRecord) => void

export function createLogger (sink: LogSink, level: LogLevel = 'info', module = 'petal'): Logger {
  const max = LEVELS[level]
  const emit = (l: LogLevel) => (message: string, context?: LogContext) => {
    if (LEVELS[l] <= max) sink({ level: l, module, message, context, time: Date.now() })
  }
  return {
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    child: (name: string) => createLogger(sink, level, `${module}:${name}`)
  }
}

export const nullLogger: Logger = createLogger(() => {}, 'error')

/** Render a record as one human line: `12:00:00 INFO  chain  imported block height=3 hash=ab12…`. */
export function formatLogRecord (r: LogRecord): string {
  const time = new Date(r.time).toISOString().slice(11, 19)
  const ctx = r.context === undefined
    ? ''
    : ' ' + Object.entries(r.context).map(([k, v]) => `${k}=${formatValue(v)}`).join(' ')
  return `${time} ${r.level.toUpperCase().padEnd(5)} ${r.module.padEnd(14)} ${r.message}${ctx}`
}

function formatValue (v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message)
  if (typeof v === 'string') return /^[\w.:/@+-]*$/.test(v) ? v : JSON.stringify(v)
  if (typeof v === 'bigint') return v.toString()
  return JSON.stringify(v) ?? String(v)
}
