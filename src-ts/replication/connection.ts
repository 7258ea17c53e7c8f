/**
 * The NATS connection of a replicated database and the stream it follows: connect with a
 * bounded first wait (then keep reconnecting forever), create the stream or check that an
 * existing one is usable.
 * @module
 */
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream'
import type { ReplicationConfig } from './config.js'
import { ReplicationError } from './errors.js'

/** Deduplication window of the stream (JetStream's `Nats-Msg-Id`): a retry within it is stored once. */
export const DUPLICATE_WINDOW_MS = 120_000

type NatsConnection = Awaited<ReturnType<typeof connect>>

/** A live link to NATS: connection, JetStream client and manager. */
export interface Link {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Start connecting. `first` resolves with the link once connected, or `null` after
 * `waitMs` (attempts go on every 250 ms until `stopped()`; `later` resolves when one
 * succeeds). Once connected, the client reconnects by itself, forever.
 */
export function startConnect(
  cfg: ReplicationConfig,
  waitMs: number,
  stopped: () => boolean = () => false,
): { first: Promise<Link | null>; later: Promise<Link> } {
  const later = (async (): Promise<Link> => {
    for (;;) {
      if (stopped()) throw new Error('closed')
      try {
        const nc = await connect({
          servers: cfg.servers,
          name: `kyrodb-${cfg.node}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          reconnectJitter: 100,
          pingInterval: 2000,
          maxPingOut: 2,
          timeout: Math.min(cfg.timeoutMs, 2000),
        })
        if (stopped()) {
          await nc.close()
          throw new Error('closed')
        }
        const jsm = await jetstreamManager(nc, { timeout: Math.min(cfg.timeoutMs, 5000), checkAPI: false })
        return { nc, js: jetstream(nc, { timeout: Math.min(cfg.timeoutMs, 5000) }), jsm }
      } catch (err) {
        if (stopped()) throw err
        await sleep(250)
      }
    }
  })()
  let timer: NodeJS.Timeout | undefined
  const first = Promise.race([later, new Promise<null>((r) => (timer = setTimeout(() => r(null), waitMs)))]).finally(() => clearTimeout(timer))
  later.catch(() => {}) // reported through `first` / the caller's retry
  return { first, later }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string }
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(String(e?.message))
}

/**
 * The stream's info, creating the stream if it does not exist.
 * @throws ReplicationError `stream-config` when an existing stream does not fit
 */
export async function ensureStream(link: Link, cfg: ReplicationConfig, deadline: number): Promise<StreamInfo> {
  let lastErr: unknown
  while (Date.now() < deadline) {
    try {
      let info: StreamInfo
      try {
        info = await link.jsm.streams.info(cfg.stream)
      } catch (err) {
        if (!isNotFound(err)) throw err
        info = await link.jsm.streams.add({
          name: cfg.stream,
          subjects: [cfg.subject],
          num_replicas: cfg.replicas,
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.Old,
          duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
          max_msgs: -1,
          max_bytes: -1,
          max_age: 0,
        })
      }
      checkStream(info, cfg)
      return info
    } catch (err) {
      if (err instanceof ReplicationError) throw err
      lastErr = err
      await sleep(250)
    }
  }
  throw lastErr ?? new Error('timed out')
}

/** Whether an existing stream can carry this node's records. @throws ReplicationError `stream-config` */
export function checkStream(info: StreamInfo, cfg: ReplicationConfig): void {
  const c = info.config
  const problems: string[] = []
  if (!(c.subjects ?? []).includes(cfg.subject)) problems.push(`its subjects ${JSON.stringify(c.subjects ?? [])} do not include ${cfg.subject}`)
  if (c.num_replicas !== cfg.replicas) problems.push(`it has ${c.num_replicas} replicas, this node is configured for ${cfg.replicas}`)
  if (c.retention !== RetentionPolicy.Limits) problems.push(`its retention is '${c.retention}', not 'limits' (every node must read every record)`)
  if ((c.max_msgs ?? -1) > 0 || (c.max_bytes ?? -1) > 0 || (c.max_age ?? 0) > 0) {
    problems.push('it has limits (max_msgs, max_bytes or max_age) that could drop records no snapshot covers')
  }
  if (problems.length > 0) {
    throw new ReplicationError('stream-config', `stream ${cfg.stream} cannot be used: ${problems.join('; ')}`)
  }
}
