/**
 * Prometheus metrics (`GET /metrics`): the process (memory, CPU, event loop) and HTTP
 * figures from `prom-client`, and the engine's own counters read at scrape time from
 * {@link Database.stats}, {@link KeyValueStore.stats} and each collection's stats — so a
 * scrape costs a few native calls and the hot paths carry no extra bookkeeping.
 * @module
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client'
import type { Database } from '../database.js'

type MetricType = 'counter' | 'gauge' | 'histogram'
interface Sample {
  value: number
  labels?: Record<string, string | number>
  metricName?: string
}

/**
 * A metric whose values are read from the engine when scraped (prom-client's collector
 * interface: `name`, `help`, `type`, `get()`).
 */
class EngineMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly read: () => Sample[],
  ) {}

  get(): { name: string; help: string; type: MetricType; values: Sample[]; aggregator: 'sum' } {
    return { name: this.name, help: this.help, type: this.type, values: this.read(), aggregator: 'sum' }
  }

  reset(): void {}
}

/**
 * A latency histogram with fixed label sets, cheap enough for every request: one map
 * lookup, a scan of 16 bounds and three increments (prom-client's labelled observe
 * validates and hashes the labels on each call, which cost ~3% of a key lookup's CPU).
 */
class RequestHistogram {
  readonly type = 'histogram'
  readonly #series = new Map<string, { labels: Record<string, string>; counts: Float64Array; sum: number; n: number }>()

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`
    let s = this.#series.get(key)
    if (s === undefined) {
      s = { labels: { method, route, status: String(status) }, counts: new Float64Array(this.bounds.length + 1), sum: 0, n: 0 }
      this.#series.set(key, s)
    }
    let b = 0
    while (b < this.bounds.length && seconds > this.bounds[b]!) b++
    s.counts[b]!++
    s.sum += seconds
    s.n++
  }

  get(): { name: string; help: string; type: 'histogram'; values: Sample[]; aggregator: 'sum' } {
    const values: Sample[] = []
    for (const s of this.#series.values()) {
      let cumulative = 0
      for (let b = 0; b <= this.bounds.length; b++) {
        cumulative += s.counts[b]!
        const le = b === this.bounds.length ? '+Inf' : String(this.bounds[b])
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: cumulative })
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum })
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.n })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' }
  }

  reset(): void {}
}

/** Seconds buckets of the latency histograms: 50 µs to 10 s. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]

/** The registry and the figures routes record. */
export class ServerMetrics {
  readonly registry = new Registry()
  /** Request latency by route pattern, method and status. */
  readonly requests: RequestHistogram
  /** Search latency by kind (`single`, `batch`). */
  readonly searches: Histogram<'kind'>
  /** Vectors written and deleted through the API. */
  readonly vectorWrites: Counter<'op'>
  /** Forget the engine figures read by the last scrape. */
  readonly #freshen: () => void

  constructor(db: Database) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.requests = new RequestHistogram(
      'kyrodb_http_request_duration_seconds',
      'HTTP request latency, from the first byte read to the last byte written.',
      LATENCY_BUCKETS,
    )
    this.registry.registerMetric(this.requests as never)
    this.searches = new Histogram({
      name: 'kyrodb_search_duration_seconds',
      help: 'Vector search latency inside the engine (batch: the whole batch).',
      labelNames: ['kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.vectorWrites = new Counter({
      name: 'kyrodb_vectors_written_total',
      help: 'Vectors upserted or deleted through the API.',
      labelNames: ['op'],
      registers,
    })
    const engine = engineMetrics(db)
    this.#freshen = engine.freshen
    for (const m of engine.metrics) this.registry.registerMetric(m as never)
  }

  /** The text exposition of every metric, with the engine figures read afresh. */
  async scrape(): Promise<string> {
    this.#freshen()
    return this.registry.metrics()
  }
}

function engineMetrics(db: Database): { metrics: EngineMetric[]; freshen: () => void } {
  // The engine's figures are read once per scrape (on first use) and shared by every
  // metric; `freshen`, at the start of each scrape, drops the previous scrape's copy.
  type Figures = {
    kv: ReturnType<Database['kv']['stats']>
    db: ReturnType<Database['stats']>
    collections: { labels: { collection: string }; c: ReturnType<ReturnType<Database['collection']>['stats']> }[]
  }
  let cache: Figures | null = null
  const stats = (): Figures => {
    if (cache !== null) return cache
    const collections: Figures['collections'] = []
    for (const { name } of db.listCollections()) {
      try {
        collections.push({ labels: { collection: name }, c: db.collection(name).stats() })
      } catch {
        // dropped between the listing and now
      }
    }
    cache = { kv: db.kv.stats(), db: db.stats(), collections }
    return cache
  }
  const closedSafe = (f: () => Sample[]) => (): Sample[] => (db.closed ? [] : f())
  const one = (name: string, help: string, type: MetricType, f: () => number) =>
    new EngineMetric(name, help, type, closedSafe(() => [{ value: f() }]))
  const kv = () => stats().kv
  const d = () => stats().db
  const collections = () => (db.closed ? [] : stats().collections)
  const freshen = () => {
    cache = null
  }
  const metrics = [
    one('kyrodb_appends_total', 'Key-value writes (puts and deletes) applied.', 'counter', () => kv().appends),
    one('kyrodb_rmi_reads_total', 'Key-value point lookups served (through the learned index when on).', 'counter', () => kv().lookups),
    new EngineMetric(
      'kyrodb_kv_lookups_total',
      'Key-value point lookups by result: hit (a value was found) or miss.',
      'counter',
      closedSafe(() => [
        { value: kv().hits, labels: { result: 'hit' } },
        { value: kv().lookups - kv().hits, labels: { result: 'miss' } },
      ]),
    ),
    new EngineMetric(
      'kyrodb_rmi_probe_length',
      'Keys examined by each search inside a sorted run (the learned-index window).',
      'histogram',
      closedSafe(() => {
        const s = kv()
        const out: Sample[] = []
        let cumulative = 0
        s.probeHistogram.forEach((n, b) => {
          cumulative += n
          const le = b === s.probeHistogram.length - 1 ? '+Inf' : String(2 ** b)
          out.push({ metricName: 'kyrodb_rmi_probe_length_bucket', labels: { le }, value: cumulative })
        })
        out.push({ metricName: 'kyrodb_rmi_probe_length_sum', value: s.probeKeys })
        out.push({ metricName: 'kyrodb_rmi_probe_length_count', value: s.runProbes })
        return out
      }),
    ),
    one('kyrodb_rmi_mispredictions_total', 'Lookups whose key was outside the predicted window (must stay 0).', 'counter', () => kv().mispredictions),
    one('kyrodb_rmi_rebuilds_total', 'Learned-index builds.', 'counter', () => kv().indexBuilds),
    one('kyrodb_rmi_rebuild_seconds_total', 'Time spent building learned indexes.', 'counter', () => kv().indexBuildNs / 1e9),
    one('kyrodb_rmi_last_rebuild_seconds', 'Duration of the last learned-index build.', 'gauge', () => kv().lastIndexBuildNs / 1e9),
    one('kyrodb_rmi_index_bytes', 'Bytes of the learned indexes.', 'gauge', () => kv().indexBytes),
    one('kyrodb_kv_keys', 'Live key-value keys.', 'gauge', () => kv().keys),
    one('kyrodb_kv_runs', 'Sorted runs of the key-value store.', 'gauge', () => kv().runs),
    one('kyrodb_kv_memtable_entries', 'Key-value entries not yet in a run.', 'gauge', () => kv().memtableEntries),
    one('kyrodb_kv_flushes_total', 'Key-value memtables written out as runs.', 'counter', () => kv().flushes),
    one('kyrodb_kv_compactions_total', 'Merges of key-value runs.', 'counter', () => kv().compactions),
    one('kyrodb_wal_frames_total', 'Write-ahead log frames (write batches) appended.', 'counter', () => d().walFrames),
    one('kyrodb_wal_bytes_total', 'Bytes appended to the write-ahead log.', 'counter', () => d().walBytes),
    one('kyrodb_wal_fsyncs_total', 'fsyncs of the write-ahead log.', 'counter', () => d().walFsyncs),
    one('kyrodb_wal_group_commits_total', 'Group commits (writers sharing one write and fsync).', 'counter', () => d().walGroups),
    one('kyrodb_wal_disk_bytes', 'Bytes of write-ahead log files on disk (what a restart replays).', 'gauge', () => d().walDiskBytes),
    one('kyrodb_wal_files', 'Write-ahead log files on disk.', 'gauge', () => d().walFiles),
    one('kyrodb_segment_builds_total', 'Hot tiers written out as vector segments.', 'counter', () => d().segmentBuilds),
    one('kyrodb_compactions_total', 'Merges of vector segments (background, compact, buildIndex).', 'counter', () => d().merges),
    one('kyrodb_recovery_seconds', 'How long opening the database (recovery) took.', 'gauge', () => d().recoveryMs / 1e3),
    one('kyrodb_native_memory_bytes', 'Bytes the engine holds in native memory (mapped files not counted).', 'gauge', () => d().nativeMemoryBytes),
    new EngineMetric('kyrodb_query_cache_lookups_total', 'Searches that looked in the query cache, by result (exact: an exact repeat answered from it; near: a near repeat answered from it; miss: computed).', 'counter', () => [
      { value: d().cache.hits, labels: { result: 'exact' } },
      { value: d().cache.nearHits, labels: { result: 'near' } },
      { value: d().cache.misses, labels: { result: 'miss' } },
    ]),
    one('kyrodb_query_cache_invalidations_total', 'Cached answers found stale on lookup and dropped.', 'counter', () => d().cache.invalidations),
    one('kyrodb_query_cache_evictions_total', 'Cached answers evicted for room.', 'counter', () => d().cache.evictions),
    one('kyrodb_query_cache_bytes', 'Bytes held by the query cache.', 'gauge', () => d().cache.bytes),
    one('kyrodb_query_cache_entries', 'Answers in the query cache.', 'gauge', () => d().cache.entries),
    one('kyrodb_query_cache_model_age_seconds', 'Learned admission: age of the model in force (0 with tinylfu admission).', 'gauge', () => d().cache.modelAgeUs / 1e6),
    one('kyrodb_query_cache_last_retrain_seconds', 'Learned admission: how long the last retrain of the model took.', 'gauge', () => d().cache.lastRetrainUs / 1e6),
    one('kyrodb_query_cache_retrains_total', 'Learned admission: retrains of the model completed.', 'counter', () => d().cache.retrains),
    new EngineMetric('kyrodb_vectors', 'Live vectors per collection.', 'gauge', () =>
      collections().map((r) => ({ value: r.c.count, labels: r.labels })),
    ),
    new EngineMetric('kyrodb_hot_rows', 'Vectors in the hot tier (not yet in a segment) per collection.', 'gauge', () =>
      collections().map((r) => ({ value: r.c.hotRows, labels: r.labels })),
    ),
    new EngineMetric('kyrodb_segments', 'Immutable segments per collection.', 'gauge', () =>
      collections().map((r) => ({ value: r.c.segments.length, labels: r.labels })),
    ),
    new EngineMetric('kyrodb_write_stalls_total', 'Upserts that waited for indexing (the unindexed backlog was at maxUnindexedRows).', 'counter', () =>
      collections().map((r) => ({ value: r.c.writeStalls, labels: r.labels })),
    ),
    new EngineMetric('kyrodb_write_stall_seconds_total', 'Time upserts waited for indexing.', 'counter', () =>
      collections().map((r) => ({ value: r.c.stallMs / 1e3, labels: r.labels })),
    ),
    new EngineMetric('kyrodb_indexed_rows_total', 'Rows built from the hot tier into graph segments (its rate is the indexing rate).', 'counter', () =>
      collections().map((r) => ({ value: r.c.indexedRows, labels: r.labels })),
    ),
  ]
  return { metrics, freshen }
}
