/**
 * The apply path: one ordered consumer per node reads the stream from the sequence after
 * the last one this node applied, and applies each record in order. The applied sequence
 * lives in the database itself (a reserved key-value key, {@link MARKER_KEY}):
 * - a key-value record is applied in **one** batch with the marker, so it is applied
 *   exactly once (a batch is one WAL frame: all or nothing);
 * - a collection record (create, drop, upsert, delete) is applied, then the marker is
 *   written. A crash between the two re-applies that one record at restart, which leaves
 *   the state unchanged: upserts and deletes set rows to given values, a create of an
 *   existing collection or a drop of a missing one is refused as a no-op, and the window is
 *   one record, so the state before the re-apply is exactly the state after the record.
 * @module
 */
import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import { KyroDBError, UnavailableError } from '../errors.js'
import type { ReplicationConfig } from './config.js'
import { decodeRecord, type ReplicatedRecord } from './codec.js'
import type { Link } from './connection.js'
import { ReplicationError } from './errors.js'
import { DelayWindow } from './status.js'

/** Reserved key-value key holding the applied-sequence marker (refused to user writes). */
export const MARKER_KEY = 0xffff_ffff_ffff_ffffn

/** The marker's value. */
export interface Marker {
  v: 1
  stream: string
  /** The stream's creation time as JetStream reports it: a recreated stream is another stream. */
  created: string
  seq: number
}

export function encodeMarker(m: Marker): string {
  return JSON.stringify(m)
}

export function decodeMarker(value: Buffer | string | undefined): Marker | null {
  if (value === undefined) return null
  try {
    const m = JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as Marker
    if (m.v === 1 && typeof m.stream === 'string' && typeof m.created === 'string' && Number.isSafeInteger(m.seq)) return m
  } catch {
    /* fall through */
  }
  throw new ReplicationError('foreign-data', `reserved key ${MARKER_KEY} holds something that is not a replication marker`)
}

/** What the database must do for the applier. */
export interface ApplyTarget {
  /** Apply a collection record (no marker). Resolves with the call's result. */
  applyCollection(r: Exclude<ReplicatedRecord, { kind: 'kv' }>): Promise<unknown>
  /** Apply a key-value batch together with the marker, atomically; resolves with the keys changed (marker excluded). */
  applyKv(r: Extract<ReplicatedRecord, { kind: 'kv' }>, marker: string): Promise<number>
  /** Write the marker alone. */
  writeMarker(marker: string): Promise<void>
}

/** Codes a record can be refused with on every node alike (input or state, not the machine). */
const DETERMINISTIC = new Set(['INVALID_ARGUMENT', 'DIMENSION_MISMATCH', 'INVALID_FILTER', 'NOT_FOUND', 'ALREADY_EXISTS'])

interface Waiter {
  resolve: (v: { seq: number; result: unknown }) => void
  reject: (e: unknown) => void
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A one-holder async lock (the applier holds it per record; a snapshot for its whole copy). */
export class Gate {
  #tail: Promise<void> = Promise.resolve()
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#tail
    let release!: () => void
    this.#tail = new Promise((r) => (release = r))
    await prev
    try {
      return await fn()
    } finally {
      release()
    }
  }
}

export class Applier {
  readonly gate = new Gate()
  appliedSeq: number
  created: string
  knownLastSeq = 0
  lastAppliedStreamMs = 0
  pending = 0
  appliedRecords = 0
  /** Consumers restarted by the stall watchdog. */
  restarts = 0
  /** Consumers restarted because a delivery skipped records the stream still holds. */
  gapRestarts = 0
  refusedRecords = 0
  error: KyroDBError | null = null
  readonly delays = new DelayWindow()
  readonly #waiters = new Map<string, Waiter>()
  readonly #cfg: ReplicationConfig
  readonly #target: ApplyTarget
  #messages: ConsumerMessages | null = null
  #stopped = false
  #running: Promise<void> | null = null
  #watchdog: NodeJS.Timeout | null = null
  /** When the consumer last made progress (started, or applied a record). */
  #progressAt = Date.now()

  constructor(cfg: ReplicationConfig, target: ApplyTarget, appliedSeq: number, created: string) {
    this.#cfg = cfg
    this.#target = target
    this.appliedSeq = appliedSeq
    this.created = created
    this.knownLastSeq = appliedSeq
  }

  /** Register interest in the apply of the record with message id `msgId`. */
  wait(msgId: string): Promise<{ seq: number; result: unknown }> {
    return new Promise((resolve, reject) => this.#waiters.set(msgId, { resolve, reject }))
  }

  forget(msgId: string): void {
    this.#waiters.delete(msgId)
  }

  /** Start consuming with `link` (call once; reconnects are the client's). */
  start(link: Link): void {
    this.#running ??= this.#run(link)
    // A consumer can stall after its server dies (the client's heartbeat reset is slow):
    // when nothing was applied for 3 s while the stream holds more, start a new one.
    this.#watchdog ??= setInterval(() => void this.#check(link), 1000)
    this.#watchdog.unref()
  }

  async #check(link: Link): Promise<void> {
    if (this.#stopped || this.error !== null || Date.now() - this.#progressAt < 3000) return
    try {
      const info = await link.jsm.streams.info(this.#cfg.stream)
      this.knownLastSeq = Math.max(this.knownLastSeq, info.state.last_seq)
      if (info.state.last_seq > this.appliedSeq && Date.now() - this.#progressAt >= 3000) {
        this.#progressAt = Date.now()
        this.restarts++
        await this.#messages?.close().catch(() => {})
      }
    } catch {
      /* unreachable: the client reconnects */
    }
  }

  async #run(link: Link): Promise<void> {
    while (!this.#stopped && this.error === null) {
      try {
        const consumer = await link.js.consumers.get(this.#cfg.stream, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: this.appliedSeq + 1,
        })
        const messages = await consumer.consume({ max_messages: 512 })
        this.#messages = messages
        this.#progressAt = Date.now()
        if (this.#stopped) await messages.close()
        for await (const m of messages) {
          if (this.#stopped) break
          await this.gate.hold(() => this.#applyOne(m, link))
          if (this.error !== null) break
        }
        await messages.close().catch(() => {})
      } catch (err) {
        if (this.#stopped) break
        if (err instanceof ReplicationError || (err instanceof KyroDBError && !DETERMINISTIC.has(err.code))) {
          this.#halt(err)
          break
        }
        await sleep(250) // stream unreachable for now: the client reconnects; try again
      }
    }
  }

  async #applyOne(m: JsMsg, link: Link): Promise<void> {
    const seq = m.seq
    this.pending = m.info.pending
    this.knownLastSeq = Math.max(this.knownLastSeq, seq + m.info.pending)
    if (seq <= this.appliedSeq) return // already applied (a redelivery)
    if (seq !== this.appliedSeq + 1) {
      // A consumer reset can skip what it had buffered: unless the stream really lost those
      // records (trimmed), start a new consumer from the next sequence to apply.
      const first = (await link.jsm.streams.info(this.#cfg.stream)).state.first_seq
      if (first <= this.appliedSeq + 1) {
        this.gapRestarts++
        throw new Error(`delivery skipped from ${this.appliedSeq + 1} to ${seq}; restarting the consumer`)
      }
      throw new ReplicationError(
        'needs-bootstrap',
        `stream ${this.#cfg.stream} starts at sequence ${first} but this node applied up to ${this.appliedSeq}: ` +
          'the records between were trimmed; restart this node with an empty directory to bootstrap it from the newest snapshot',
      )
    }
    const record = decodeRecord(m.data) // throws ReplicationError: nothing applied, applier halts
    const marker = encodeMarker({ v: 1, stream: this.#cfg.stream, created: this.created, seq })
    let result: unknown
    let refused: KyroDBError | null = null
    try {
      if (record.kind === 'kv') result = await this.#target.applyKv(record, marker)
      else {
        result = await this.#target.applyCollection(record)
      }
    } catch (err) {
      if (!(err instanceof KyroDBError) || !DETERMINISTIC.has(err.code)) throw err
      refused = err
    }
    if (record.kind !== 'kv' || refused !== null) await this.#target.writeMarker(marker)
    this.appliedSeq = seq
    this.#progressAt = Date.now()
    this.appliedRecords++
    if (refused !== null) this.refusedRecords++
    const storedMs = Number(m.timestampNanos / 1_000_000n)
    this.lastAppliedStreamMs = storedMs
    this.delays.add(Math.max(0, Date.now() - storedMs))
    const id = m.headers?.get('Nats-Msg-Id')
    const w = id ? this.#waiters.get(id) : undefined
    if (w && id) {
      this.#waiters.delete(id)
      if (refused !== null) w.reject(refused)
      else w.resolve({ seq, result })
    }
  }

  #halt(err: KyroDBError): void {
    this.error = err
    for (const [id, w] of this.#waiters) {
      w.reject(new UnavailableError(`applying stream ${this.#cfg.stream} stopped on this node: ${err.message}`, { cause: err }))
      this.#waiters.delete(id)
    }
  }

  /** Age of the oldest record not yet applied (approximation: the last applied one's age while behind). */
  lagMs(): number {
    if (this.knownLastSeq <= this.appliedSeq || this.lastAppliedStreamMs === 0) return 0
    return Math.max(0, Date.now() - this.lastAppliedStreamMs)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#watchdog) clearInterval(this.#watchdog)
    await this.#messages?.close().catch(() => {})
    await this.#running?.catch(() => {})
    for (const [id, w] of this.#waiters) {
      w.reject(new UnavailableError('the database was closed before the write was applied on this node'))
      this.#waiters.delete(id)
    }
  }
}
