import { labelText, MetricsRegistry, type Counter, type Histogram } from './metrics.js'

/** Where the scrape-time gauges read from; each is optional (`petal serve` has no network or ingest). */
export interface MetricSources {
  tipHeight?: () => number
  peers?: () => number
  /** Rows and bytes waiting to be sealed: one read of pending.db's summary a scrape (both gauges). */
  pending?: () => { rows: number, bytes: number }
  eventClients?: () => number
  queriesRunning?: () => number
}

/**
 * Petal's metrics (GET /metrics). The node feeds block imports and rejections; the API server
 * feeds HTTP, query and seal figures; gauges are read when scraped.
 */
export class PetalMetrics {
  readonly registry = new MetricsRegistry()
  readonly blocksImported: Counter
  readonly blocksRejected: Counter
  readonly sealLatency: Histogram
  readonly sealedRows: Counter
  readonly queries: Counter
  readonly queryDuration: Histogram
  readonly queryBytes: Counter
  readonly httpRequests: Counter
  readonly httpDuration: Histogram
  private sources: MetricSources = {}
  /** The scrape's read of `sources.pending`, shared by its two gauges (render). */
  private scraped: { rows: number, bytes: number } | undefined

  constructor () {
    const r = this.registry
    r.gauge('petal_tip_height', 'Height of the canonical tip.', () => this.sources.tipHeight?.())
    r.gauge('petal_peers', 'Connected peers.', () => this.sources.peers?.())
    this.blocksImported = r.counter('petal_blocks_imported_total', 'Blocks stored, from peers or made here.')
    this.blocksRejected = r.counter('petal_blocks_rejected_total', 'Blocks refused by validation, by error code.')
    r.gauge('petal_pending_rows', 'Rows acknowledged and waiting to be sealed.', () => this.pendingNow()?.rows)
    r.gauge('petal_pending_bytes', 'Bytes of rows waiting to be sealed.', () => this.pendingNow()?.bytes)
    this.sealLatency = r.histogram('petal_seal_latency_seconds', 'Time from a row\'s acknowledgement to its block becoming canonical.', [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300])
    this.sealedRows = r.counter('petal_sealed_rows_total', 'Rows sealed into blocks by this node.')
    this.queries = r.counter('petal_queries_total', 'SQL statements run through the API, by outcome (ok or the error code).')
    this.queryDuration = r.histogram('petal_query_duration_seconds', 'Time to run a statement and stream its answer.')
    this.queryBytes = r.counter('petal_query_response_bytes_total', 'Bytes of query answers sent.')
    r.gauge('petal_queries_running', 'Statements running or waiting for a sandbox.', () => this.sources.queriesRunning?.())
    r.gauge('petal_event_clients', 'Open GET /events streams.', () => this.sources.eventClients?.())
    this.httpRequests = r.counter('petal_http_requests_total', 'HTTP requests by route, method and status.')
    this.httpDuration = r.histogram('petal_http_request_duration_seconds', 'HTTP request time by route, to the last byte sent.')
    r.gauge('process_resident_memory_bytes', 'Resident memory of this process.', () => process.memoryUsage.rss())
  }

  /** Rendered labels of the HTTP series, by route, method and status (a handful of each). */
  private readonly httpKeys = new Map<string, { requests: string, duration: string }>()

  /** One HTTP request answered: `seconds` from its arrival to the last byte sent. */
  observeRequest (route: string, method: string, status: number, seconds: number): void {
    const id = `${route} ${method} ${status}`
    let k = this.httpKeys.get(id)
    if (k === undefined) {
      k = { requests: labelText({ route, method, status: String(status) }), duration: labelText({ route }) }
      if (this.httpKeys.size < 10_000) this.httpKeys.set(id, k)
    }
    this.httpRequests.incKey(k.requests)
    this.httpDuration.observeKey(seconds, k.duration)
  }

  /** Attach the gauges' sources (merged with any attached before). */
  attach (sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources }
  }

  /**
   * The scrape's text. pending.db's summary (Ingest.stats: status's, with the claimed batches) is
   * read once for both pending gauges: each read its own, two summaries a scrape (session 54's left).
   */
  render (): string {
    this.scraped = undefined
    try {
      return this.registry.render()
    } finally {
      this.scraped = undefined
    }
  }

  private pendingNow (): { rows: number, bytes: number } | undefined {
    this.scraped ??= this.sources.pending?.()
    return this.scraped
  }
}
