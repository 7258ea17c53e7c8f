/**
 * Options of replicated databases (`open(path, { replication })`), checked and defaulted.
 * @module
 */
import { ReplicationError } from './errors.js'

/**
 * When a replicated write resolves:
 * - `'read-your-writes'` (default): JetStream stored it on a quorum of its replicas *and*
 *   this node applied it, so a read on this node right after sees it;
 * - `'stored'`: as soon as JetStream stored it; this node applies it shortly after.
 */
export type Consistency = 'read-your-writes' | 'stored'

/** `replication` option of {@link open}. */
export interface ReplicationOptions {
  /** NATS server URLs (`nats://host:port`), or one string of comma-separated URLs. */
  servers: string | readonly string[]
  /** JetStream stream name (`^[A-Za-z0-9_-]{1,64}$`); default `'KYRODB'`. */
  stream?: string
  /** This node's name (`^[A-Za-z0-9_-]{1,64}$`); unique among the nodes of a stream. */
  node: string
  /** See {@link Consistency}; default `'read-your-writes'`. */
  consistency?: Consistency
  /** Replicas of the stream and the snapshot store when this node creates them (1..5); default 3. */
  replicas?: number
  /**
   * Bounded wait of a write (publish retries with the same message id, then the local
   * apply) before it fails with `UNAVAILABLE`; also the connect wait of `open`. Default 5000 ms.
   */
  timeoutMs?: number
  /** Publish a snapshot every this many milliseconds (0 = only on demand); default 0. */
  snapshotIntervalMs?: number
  /** Snapshots kept in the object store; the stream is trimmed below the oldest; default 2. */
  keepSnapshots?: number
}

/** Resolved, checked options. @internal */
export interface ReplicationConfig {
  servers: string[]
  stream: string
  node: string
  consistency: Consistency
  replicas: number
  timeoutMs: number
  snapshotIntervalMs: number
  keepSnapshots: number
  /** Subject the stream captures; writes are published to it. */
  subject: string
  /** Object store bucket holding snapshots. */
  bucket: string
}

/** {@link Replication.status}. */
export interface ReplicationStatus {
  node: string
  stream: string
  consistency: Consistency
  /** Whether the NATS connection is up now. */
  connected: boolean
  /** Stream sequence of the last record applied to this node (recorded in the database). */
  appliedSeq: number
  /** Last stream sequence known to this node (from deliveries, publishes and stream info). */
  streamLastSeq: number
  /** `streamLastSeq − appliedSeq`. */
  lagMessages: number
  /** Age of the oldest record not yet applied here, in milliseconds (0 when caught up). */
  lagMs: number
  /** From stored time to applied here, over the last 4096 records applied: median and 99th percentile, ms. */
  applyDelayMs: { p50: number; p99: number }
  /** Records applied since open; of them, records that were no-ops by a deterministic refusal (e.g. upsert into a missing collection). */
  appliedRecords: number
  refusedRecords: number
  /** Batches the applied records came in (records / batches: the mean batch; about one WAL write and fsync each). */
  appliedBatches: number
  /** Writes this node published since open. */
  published: number
  /** Consumers replaced since open (a stall after a server died, or a delivery that skipped records the stream holds); each resumes after the applied sequence. */
  consumerRestarts: number
  /** Why applying stopped (a record this build cannot read, a trimmed stream, a disk error); `null` while it runs. */
  error: { code: string; reason?: string; message: string } | null
  /** The stream as JetStream last reported it (`null` while unreachable). */
  streamState: { messages: number; bytes: number; firstSeq: number; lastSeq: number; replicas: number; leader: string | null; created: string } | null
  /** Newest snapshot in the object store (`null`: none, or unreachable). */
  snapshot: { seq: number; bytes: number; at: string } | null
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/

function count(name: string, v: unknown, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ReplicationError('config', `replication.${name} must be an integer in ${min}..${max}, got ${String(v)}`)
  }
  return v
}

/** Check `replication` options. @throws ReplicationError reason `'config'` */
export function resolveConfig(options: unknown): ReplicationConfig {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ReplicationError('config', "replication must be an object like { servers: 'nats://127.0.0.1:4222', node: 'a' }")
  }
  const o = options as ReplicationOptions
  const known = new Set(['servers', 'stream', 'node', 'consistency', 'replicas', 'timeoutMs', 'snapshotIntervalMs', 'keepSnapshots'])
  for (const k of Object.keys(o)) if (!known.has(k)) throw new ReplicationError('config', `replication.${k} is not an option`)
  const list = typeof o.servers === 'string' ? o.servers.split(',') : o.servers
  if (!Array.isArray(list) || list.length === 0) {
    throw new ReplicationError('config', 'replication.servers must be a non-empty list of NATS URLs (or one comma-separated string)')
  }
  const servers = list.map((s: unknown) => {
    if (typeof s !== 'string') throw new ReplicationError('config', 'replication.servers entries must be strings')
    const t = s.trim()
    let u: URL
    try {
      u = new URL(t.includes('://') ? t : `nats://${t}`)
    } catch {
      throw new ReplicationError('config', `replication.servers: ${JSON.stringify(s)} is not a URL`)
    }
    if (!['nats:', 'tls:', 'ws:', 'wss:'].includes(u.protocol) || u.hostname === '') {
      throw new ReplicationError('config', `replication.servers: ${JSON.stringify(s)} is not a nats://host:port URL`)
    }
    return t
  })
  const stream = o.stream ?? 'KYRODB'
  if (typeof stream !== 'string' || !NAME.test(stream)) {
    throw new ReplicationError('config', `replication.stream must match ${NAME.source}, got ${JSON.stringify(stream)}`)
  }
  if (typeof o.node !== 'string' || !NAME.test(o.node)) {
    throw new ReplicationError('config', `replication.node must match ${NAME.source}, got ${JSON.stringify(o.node)}`)
  }
  const consistency = o.consistency ?? 'read-your-writes'
  if (consistency !== 'read-your-writes' && consistency !== 'stored') {
    throw new ReplicationError('config', `replication.consistency must be 'read-your-writes' or 'stored', got ${JSON.stringify(consistency)}`)
  }
  return {
    servers,
    stream,
    node: o.node,
    consistency,
    replicas: count('replicas', o.replicas, 1, 5, 3),
    timeoutMs: count('timeoutMs', o.timeoutMs, 1, 3_600_000, 5000),
    snapshotIntervalMs: count('snapshotIntervalMs', o.snapshotIntervalMs, 0, 2_147_483_647, 0),
    keepSnapshots: count('keepSnapshots', o.keepSnapshots, 1, 100, 2),
    subject: `kyrodb.${stream}.w`,
    bucket: `${stream}_snapshots`,
  }
}
