/**
 * The dashboard's live figures: once a second, the counters `/metrics` already exports
 * (the search latency histogram, vectors written, the WAL and maintenance counters, each
 * collection's `indexing` flag) are read and turned into one {@link LiveSample} of rates
 * over that second; the last {@link WINDOW_MS} of samples are kept in a ring. The page
 * polls `GET /v1/dashboard/live?since=<t>` for the samples after the last one it has.
 *
 * Reading costs a few native calls a second, timer-driven, whether or not a page is open:
 * nothing is added to the search or write paths (`benches/RESULTS.md` § server-dashboard
 * measures that).
 * @module
 */
import type { Database } from '../../database.js'
import type { ServerMetrics } from '../metrics.js'

/** Time between samples. */
export const INTERVAL_MS = 1000
/** How far back samples are kept. */
export const WINDOW_MS = 15 * 60 * 1000

/** One second of the server's life. Rates are per second over the interval before `t`. */
export interface LiveSample {
  /** End of the interval, ms since the epoch. */
  t: number
  /** Searches answered (single searches and batches, as `/metrics` counts them). */
  searches: number
  /** Median search latency in ms over the interval (`null`: no search), interpolated in the histogram's buckets. */
  p50: number | null
  /** 99th percentile search latency in ms (`null`: no search). */
  p99: number | null
  /** Vectors upserted or deleted through the API. */
  vectorWrites: number
  /** Key-value writes applied. */
  kvWrites: number
  /** Write-ahead log frames (write batches). */
  walFrames: number
  /** fsyncs of the write-ahead log. */
  fsyncs: number
  /** Frames per group commit over the interval (`null`: no commit). */
  groupSize: number | null
  /** Background work seen in the interval: a build or merge running or finished, a key-value flush or merge. */
  building: boolean
  merging: boolean
  kvMaintenance: boolean
  /** A maintenance job started from the dashboard ran during the interval. */
  job: boolean
  /** Resident set size of the process, bytes. */
  rss: number
  /** Bytes the engine holds in native memory. */
  nativeBytes: number
  /** Query-cache lookups per second by result: answered exactly from the cache, or missed. */
  cacheExact: number
  cacheNear: number
  cacheMiss: number
}

interface Counters {
  at: number
  buckets: number[]
  bounds: number[]
  vectorWrites: number
  kvAppends: number
  walFrames: number
  walFsyncs: number
  walGroups: number
  segmentBuilds: number
  merges: number
  kvFlushes: number
  kvCompactions: number
  cacheHits: number
  cacheNearHits: number
  cacheMisses: number
}

/**
 * The `q` quantile from bucket counts of one interval (`counts[i]` observations at most
 * `bounds[i]` seconds, the last bucket unbounded), interpolated linearly inside the bucket
 * as Prometheus' `histogram_quantile` does; in ms.
 */
export function quantileMs(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = q * total
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!
    if (seen + n >= rank && n > 0) {
      const lo = i === 0 ? 0 : bounds[i - 1]!
      // Past the last bound: report the last bound (as histogram_quantile does).
      if (i >= bounds.length) return bounds[bounds.length - 1]! * 1000
      const hi = bounds[i]!
      return (lo + ((hi - lo) * (rank - seen)) / n) * 1000
    }
    seen += n
  }
  return bounds[bounds.length - 1]! * 1000
}

/** Samples the figures every {@link INTERVAL_MS} into a ring of {@link WINDOW_MS}. */
export class LiveFigures {
  readonly #db: Database
  readonly #metrics: ServerMetrics
  readonly #jobRunning: () => boolean
  readonly #samples: LiveSample[] = []
  #last: Counters | null = null
  #timer: NodeJS.Timeout | null = null
  #jobSeen = false

  constructor(db: Database, metrics: ServerMetrics, jobRunning: () => boolean) {
    this.#db = db
    this.#metrics = metrics
    this.#jobRunning = jobRunning
  }

  start(): void {
    if (this.#timer !== null) return
    void this.#sample()
    this.#timer = setInterval(() => void this.#sample(), INTERVAL_MS)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** Note that a job ran, so the sample that covers it shows it even when it was shorter than the interval. */
  jobSeen(): void {
    this.#jobSeen = true
  }

  /** Samples with `t > since`, oldest first. */
  since(since: number): LiveSample[] {
    let i = this.#samples.length
    while (i > 0 && this.#samples[i - 1]!.t > since) i--
    return this.#samples.slice(i)
  }

  async #counters(): Promise<Counters | null> {
    if (this.#db.closed) return null
    const histogram = await this.#metrics.searches.get()
    const byBound = new Map<number, number>()
    for (const v of histogram.values) {
      if (v.metricName !== 'kyrodb_search_duration_seconds_bucket') continue
      const bound = (v.labels as { le?: string | number }).le
      const le = bound === '+Inf' ? Infinity : Number(bound)
      byBound.set(le, (byBound.get(le) ?? 0) + v.value)
    }
    const bounds = [...byBound.keys()].sort((a, b) => a - b)
    // Cumulative counts per bound → counts per bucket.
    const buckets = bounds.map((b, i) => byBound.get(b)! - (i === 0 ? 0 : byBound.get(bounds[i - 1]!)!))
    const writes = await this.#metrics.vectorWrites.get()
    const d = this.#db.stats()
    const kv = this.#db.kv.stats()
    return {
      at: Date.now(),
      buckets,
      bounds: bounds.filter((b) => Number.isFinite(b)),
      vectorWrites: writes.values.reduce((a, v) => a + v.value, 0),
      kvAppends: kv.appends,
      walFrames: d.walFrames,
      walFsyncs: d.walFsyncs,
      walGroups: d.walGroups,
      segmentBuilds: d.segmentBuilds,
      merges: d.merges,
      kvFlushes: kv.flushes,
      kvCompactions: kv.compactions,
      cacheHits: d.cache.hits,
      cacheNearHits: d.cache.nearHits,
      cacheMisses: d.cache.misses,
    }
  }

  #indexingNow(): boolean {
    try {
      return this.#db.listCollections().some((c) => {
        try {
          return this.#db.collection(c.name).stats().indexing
        } catch {
          return false // dropped meanwhile
        }
      })
    } catch {
      return false
    }
  }

  async #sample(): Promise<void> {
    let now: Counters | null
    try {
      now = await this.#counters()
    } catch {
      return // closing: no more samples
    }
    if (now === null) return
    const prev = this.#last
    this.#last = now
    if (prev === null) return
    const secs = Math.max(1e-3, (now.at - prev.at) / 1000)
    const rate = (a: number, b: number) => (a - b) / secs
    const interval = now.buckets.map((n, i) => n - (prev.buckets[i] ?? 0))
    const searches = interval.reduce((a, b) => a + b, 0)
    const groups = now.walGroups - prev.walGroups
    const indexing = this.#indexingNow()
    const job = this.#jobSeen || this.#jobRunning()
    this.#jobSeen = false
    this.#samples.push({
      t: now.at,
      searches: searches / secs,
      p50: quantileMs(now.bounds, interval, 0.5),
      p99: quantileMs(now.bounds, interval, 0.99),
      vectorWrites: rate(now.vectorWrites, prev.vectorWrites),
      kvWrites: rate(now.kvAppends, prev.kvAppends),
      walFrames: rate(now.walFrames, prev.walFrames),
      fsyncs: rate(now.walFsyncs, prev.walFsyncs),
      groupSize: groups > 0 ? (now.walFrames - prev.walFrames) / groups : null,
      building: indexing || now.segmentBuilds > prev.segmentBuilds,
      merging: now.merges > prev.merges,
      kvMaintenance: now.kvFlushes > prev.kvFlushes || now.kvCompactions > prev.kvCompactions,
      job,
      rss: process.memoryUsage.rss(),
      nativeBytes: this.#db.closed ? 0 : this.#db.stats().nativeMemoryBytes,
      cacheExact: rate(now.cacheHits, prev.cacheHits),
      cacheNear: rate(now.cacheNearHits, prev.cacheNearHits),
      cacheMiss: rate(now.cacheMisses, prev.cacheMisses),
    })
    const oldest = now.at - WINDOW_MS
    let drop = 0
    while (drop < this.#samples.length && this.#samples[drop]!.t < oldest) drop++
    if (drop > 0) this.#samples.splice(0, drop)
  }
}
