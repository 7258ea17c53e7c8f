/**
 * Replication figures: the apply-delay window (stored → applied on this node) and the
 * Prometheus lines `/metrics` adds.
 * @module
 */
import type { ReplicationStatus } from './config.js'

/** The last `size` apply delays (ms), for p50/p99. */
export class DelayWindow {
  readonly #ring: Float64Array
  #n = 0
  constructor(size = 4096) {
    this.#ring = new Float64Array(size)
  }
  add(ms: number): void {
    this.#ring[this.#n % this.#ring.length] = ms
    this.#n++
  }
  quantiles(): { p50: number; p99: number } {
    const n = Math.min(this.#n, this.#ring.length)
    if (n === 0) return { p50: 0, p99: 0 }
    const s = Array.from(this.#ring.subarray(0, n)).sort((a, b) => a - b)
    const q = (p: number): number => Math.round(s[Math.min(n - 1, Math.floor(p * n))]! * 100) / 100
    return { p50: q(0.5), p99: q(0.99) }
  }
}

/** Prometheus text lines of a status (gauges and counters, labelled with stream and node). */
export function prometheusLines(s: ReplicationStatus): string {
  const l = `{stream="${s.stream}",node="${s.node}"}`
  const rows: [string, string, string, number][] = [
    ['kyrodb_replication_connected', 'gauge', 'Whether the NATS connection is up (1) or not (0).', s.connected ? 1 : 0],
    ['kyrodb_replication_applied_seq', 'gauge', 'Stream sequence of the last record applied to this node.', s.appliedSeq],
    ['kyrodb_replication_stream_last_seq', 'gauge', 'Last stream sequence known to this node.', s.streamLastSeq],
    ['kyrodb_replication_lag_messages', 'gauge', 'Records in the stream not yet applied here.', s.lagMessages],
    ['kyrodb_replication_lag_ms', 'gauge', 'Age of the oldest record not yet applied here, in milliseconds.', s.lagMs],
    ['kyrodb_replication_apply_delay_p50_ms', 'gauge', 'Median stored-to-applied delay over the last 4096 records, ms.', s.applyDelayMs.p50],
    ['kyrodb_replication_apply_delay_p99_ms', 'gauge', '99th percentile stored-to-applied delay over the last 4096 records, ms.', s.applyDelayMs.p99],
    ['kyrodb_replication_applied_records_total', 'counter', 'Records applied since open.', s.appliedRecords],
    ['kyrodb_replication_applied_batches_total', 'counter', 'Batches the records were applied in since open.', s.appliedBatches],
    ['kyrodb_replication_refused_records_total', 'counter', 'Records applied as no-ops by a deterministic refusal since open.', s.refusedRecords],
    ['kyrodb_replication_published_total', 'counter', 'Writes this node published since open.', s.published],
    ['kyrodb_replication_halted', 'gauge', 'Whether applying stopped on an error (1) or runs (0).', s.error === null ? 0 : 1],
  ]
  return rows.map(([name, type, help, v]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${l} ${v}\n`).join('')
}
