/**
 * The apply path: one ordered consumer per node reads the stream from the sequence after
 * the last one this node applied, and applies the records in order, **each exactly once**:
 * every record is applied with its stream sequence as the engine's tag
 * (`Database.lastTag`), logged in the same WAL frame as the write (for a create or drop of
 * a collection, the same manifest write), so after any crash a record is applied if and
 * only if its sequence is at most `lastTag()`, and applying resumes right after it.
 * A record refused on every node alike is applied as its tag alone.
 *
 * Records already delivered are applied in **batches** (up to {@link MAX_BATCH} records and
 * {@link MAX_BATCH_BYTES} bytes): consecutive collection upserts/deletes and key-value
 * records go to the engine as one `writeGroup`, one WAL write and one fsync for the lot
 * (a delete or string-id upsert starts a new WAL group inside it, so that it is checked
 * against what the records before it did); a create or drop is applied alone.
 *
 * The reserved key-value key {@link MARKER_KEY} holds the node's identity (stream name and
 * creation time), written once; its `seq` is the applied sequence of directories written
 * before tags existed (the applied sequence is the larger of the two).
 * @module
 */
import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import { InternalError, KyroDBError, UnavailableError } from '../errors.js'
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

/** Most records applied in one batch. */
export const MAX_BATCH = 256
/** Most record bytes applied in one batch (after the first record). */
export const MAX_BATCH_BYTES = 16 << 20

/** A record with its stream sequence (its tag). */
export interface Sequenced {
  seq: number
  record: ReplicatedRecord
}

/** The outcome of one record: the call's result, or its error. */
export type Applied = { ok: true; result: unknown } | { ok: false; error: unknown }

/** What the database must do for the applier. */
export interface ApplyTarget {
  /**
   * Apply upsert, delete and key-value records in order, each tagged with its sequence, as
   * one engine write group. One outcome per record; after a failure that is not a refusal,
   * the records after it are not applied.
   */
  applyGroup(records: Sequenced[]): Promise<Applied[]>
  /** Apply a create or drop tagged with its sequence; a refusal records the tag alone. */
  applyCollection(r: Extract<ReplicatedRecord, { kind: 'create' | 'drop' }>, seq: number): Promise<Applied>
  /** Write the identity marker unless there is one. */
  ensureMarker(marker: string): Promise<void>
}

/** Codes a record can be refused with on every node alike (input or state, not the machine). */
const DETERMINISTIC = new Set(['INVALID_ARGUMENT', 'DIMENSION_MISMATCH', 'INVALID_FILTER', 'NOT_FOUND', 'ALREADY_EXISTS'])

interface Waiter {
  resolve: (v: { seq: number; result: unknown }) => void
  reject: (e: unknown) => void
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A one-holder async lock (the applier holds it per batch; a snapshot for its whole copy). */
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
  /** Batches applied (records / batches = the mean batch). */
  appliedBatches = 0
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
        await this.#target.ensureMarker(encodeMarker({ v: 1, stream: this.#cfg.stream, created: this.created, seq: this.appliedSeq }))
        const consumer = await link.js.consumers.get(this.#cfg.stream, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: this.appliedSeq + 1,
        })
        const messages = await consumer.consume({ max_messages: 512 })
        this.#messages = messages
        this.#progressAt = Date.now()
        if (this.#stopped) {
          // Stopped while the consumer was being created: its close() can wait for the first
          // pull to be set up (seen: 5 s and more), which nothing here needs.
          void messages.close().catch(() => {})
          break
        }
        try {
          await this.#drain(messages, link)
        } finally {
          await messages.close().catch(() => {})
        }
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

  /**
   * Read the consumer into a buffer on one side; on the other, apply everything buffered
   * (up to a batch) whenever the previous batch is done. Under load batches grow by
   * themselves: what arrives while one batch is being made durable forms the next.
   */
  async #drain(messages: ConsumerMessages, link: Link): Promise<void> {
    const buffer: JsMsg[] = []
    // What each side waits for: the applier for messages, the reader for room.
    const waits: { ended: boolean; closing: boolean; bytes: number; failure: unknown; wake: (() => void) | null; room: (() => void) | null } = {
      ended: false,
      bytes: 0,
      closing: false,
      failure: null,
      wake: null,
      room: null,
    }
    const signal = (which: 'wake' | 'room'): void => {
      const f = waits[which]
      waits[which] = null
      f?.()
    }
    const pump = (async () => {
      try {
        for await (const m of messages) {
          buffer.push(m)
          waits.bytes += m.data.length
          signal('wake')
          if (waits.closing) break
          // Bounded: at most four batches' worth of messages or bytes wait here.
          while ((buffer.length >= 4 * MAX_BATCH || waits.bytes >= 4 * MAX_BATCH_BYTES) && !this.#stopped && !waits.closing) {
            await new Promise<void>((r) => (waits.room = r))
          }
        }
      } catch (err) {
        waits.failure = err
      } finally {
        waits.ended = true
        signal('wake')
      }
    })()
    try {
      while (!this.#stopped && this.error === null) {
        if (buffer.length === 0) {
          if (waits.ended) break
          await new Promise<void>((r) => (waits.wake = r))
          continue
        }
        let bytes = 0
        let n = 0
        while (n < buffer.length && n < MAX_BATCH && (n === 0 || bytes + buffer[n]!.data.length <= MAX_BATCH_BYTES)) {
          bytes += buffer[n]!.data.length
          n++
        }
        const batch = buffer.splice(0, n)
        waits.bytes -= bytes
        signal('room')
        await this.gate.hold(() => this.#applyBatch(batch, link))
      }
    } finally {
      // The reader must not wait for room nobody will make (a restart after a gap).
      waits.closing = true
      signal('room')
      await messages.close().catch(() => {})
      await pump
    }
    if (waits.failure !== null && !this.#stopped) throw waits.failure
  }

  /** Apply a batch of delivered messages in order (see the module comment). */
  async #applyBatch(batch: JsMsg[], link: Link): Promise<void> {
    const last = batch[batch.length - 1]!
    this.pending = last.info.pending
    this.knownLastSeq = Math.max(this.knownLastSeq, last.seq + last.info.pending)
    // The contiguous run after the applied sequence, decoded; the first problem after it.
    const run: { m: JsMsg; record: ReplicatedRecord }[] = []
    let problem: (() => Promise<never>) | null = null
    let next = this.appliedSeq + 1
    for (const m of batch) {
      if (m.seq < next) continue // already applied (a redelivery)
      if (m.seq !== next) {
        const expected = next
        problem = () => this.#gap(expected, m.seq, link)
        break
      }
      try {
        run.push({ m, record: decodeRecord(m.data) })
      } catch (err) {
        problem = () => Promise.reject(err) // ReplicationError: nothing of it applied, the applier halts
        break
      }
      next++
    }
    let i = 0
    while (i < run.length) {
      const r = run[i]!.record
      if (r.kind === 'create' || r.kind === 'drop') {
        const out = await this.#target.applyCollection(r, run[i]!.m.seq)
        this.#settle([run[i]!.m], [out])
        i++
        continue
      }
      let j = i
      while (j < run.length && run[j]!.record.kind !== 'create' && run[j]!.record.kind !== 'drop') j++
      const part = run.slice(i, j)
      const out = await this.#target.applyGroup(part.map((x) => ({ seq: x.m.seq, record: x.record })))
      this.#settle(
        part.map((x) => x.m),
        out,
      )
      i = j
    }
    this.appliedBatches++
    if (problem !== null) await problem()
  }

  /** Record the outcomes of applied messages, in order; throws at the first failure. */
  #settle(msgs: JsMsg[], outcomes: Applied[]): void {
    for (let k = 0; k < msgs.length; k++) {
      const m = msgs[k]!
      const o = outcomes[k]
      let refused: KyroDBError | null = null
      if (o === undefined) throw new InternalError(`no outcome for stream record ${m.seq}`)
      if (!o.ok) {
        if (!(o.error instanceof KyroDBError) || !DETERMINISTIC.has(o.error.code)) throw o.error
        refused = o.error
      }
      this.appliedSeq = m.seq
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
        else w.resolve({ seq: m.seq, result: (o as { result: unknown }).result })
      }
    }
  }

  /** A delivery skipped from `expected` to `got`. */
  async #gap(expected: number, got: number, link: Link): Promise<never> {
    // A consumer reset can skip what it had buffered: unless the stream really lost those
    // records (trimmed), start a new consumer from the next sequence to apply.
    const first = (await link.jsm.streams.info(this.#cfg.stream)).state.first_seq
    if (first <= expected) {
      this.gapRestarts++
      throw new Error(`delivery skipped from ${expected} to ${got}; restarting the consumer`)
    }
    throw new ReplicationError(
      'needs-bootstrap',
      `stream ${this.#cfg.stream} starts at sequence ${first} but this node applied up to ${this.appliedSeq}: ` +
        'the records between were trimmed; reopen this node: it then replaces its directory with the newest snapshot',
    )
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
