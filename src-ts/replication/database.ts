/**
 * Replicated databases: `open(path, { replication })` returns a {@link Database} whose
 * writes go through a NATS JetStream stream and are applied by every node in order, and
 * whose reads stay local. `db.replication` ({@link Replication}) reports status and
 * publishes snapshots.
 * @module
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { Collection, type Metadata } from '../collection.js'
import { Database, openWith, type CreateCollectionOptions, type Durability, type GroupOutcome, type GroupWrite, type OpenOptions } from '../database.js'
import { callAsync, ClosedError, InvalidArgumentError, KyroDBError, NotFoundError, AlreadyExistsError, UnavailableError } from '../errors.js'
import { toNativeIds, toNativeNames, type IdList } from '../ids.js'
import { encodeWrites, KeyValueStore, type Key, type KvWrite, type RangeOptions } from '../kv.js'
import type { NativeCollection, NativeDatabase, NativeGroupOp, NativeKv } from '../native.js'
import { toFlatBatch, type VectorBatch } from '../vectors.js'
import { Applier, decodeMarker, MARKER_KEY, type Applied, type ApplyTarget, type Sequenced } from './applier.js'
import { encodeRecord, type ReplicatedRecord } from './codec.js'
import { resolveConfig, type ReplicationConfig, type ReplicationStatus } from './config.js'
import { ensureStream, startConnect, type Link } from './connection.js'
import { ReplicationError } from './errors.js'
import { newMsgId, publishRecord } from './publisher.js'
import { listSnapshots, restoreLatest, snapshotStore, uploadSnapshot } from './snapshot.js'

const NAME = /^[A-Za-z0-9_-]{1,64}$/
const TAGS_ARE_REPLICATIONS = 'tags are set by replication in a replicated database (each record is tagged with its stream sequence)'
/** Refusals that depend only on the record and the state (as in the applier). */
const DETERMINISTIC_CODES = new Set(['INVALID_ARGUMENT', 'DIMENSION_MISMATCH', 'INVALID_FILTER', 'NOT_FOUND', 'ALREADY_EXISTS'])
const MAX_METADATA_BYTES = 64 * 1024

/** Replication state and controls of a replicated database (`db.replication`). */
export interface Replication {
  /** This node's name. */
  readonly node: string
  /** The stream it follows. */
  readonly stream: string
  /** Applied sequence, lag, stream state, newest snapshot. */
  status(): Promise<ReplicationStatus>
  /**
   * Snapshot this node's database (between two applied records) into the stream's object
   * store, delete snapshots beyond `keepSnapshots` and trim the stream below the oldest kept.
   * @throws UnavailableError when NATS is unreachable
   */
  publishSnapshot(): Promise<{ seq: number; bytes: number; files: number; trimmedBelow: number; ms: number }>
  /** The stream sequence this node has applied up to (recorded in the database). */
  readonly appliedSeq: number
  /** Resolves once this node has applied up to `seq` (or rejects with `UNAVAILABLE` after `timeoutMs`). */
  waitForSeq(seq: number, timeoutMs?: number): Promise<void>
}

/** Shared state of one replicated database: link, applier, write path. */
class Core {
  link: Link | null = null
  streamInfo: Awaited<ReturnType<typeof ensureStream>> | null = null
  published = 0
  closed = false
  db!: ReplicatedDatabase
  snapshotCache: { at: number; value: ReplicationStatus['snapshot'] } = { at: 0, value: null }
  snapshotting: Promise<unknown> | null = null
  timer: NodeJS.Timeout | null = null

  constructor(
    readonly cfg: ReplicationConfig,
    readonly applier: Applier,
  ) {}

  /** Publish a record; resolve per the consistency with the local apply's result (or `predicted`). */
  async write<T>(record: ReplicatedRecord, predicted: T, forceApply = false): Promise<T> {
    if (this.closed || this.db.closed) throw new ClosedError('the database is closed')
    if (this.applier.error !== null) {
      throw new UnavailableError(`applying stream ${this.cfg.stream} stopped on this node: ${this.applier.error.message}`, {
        cause: this.applier.error,
      })
    }
    const data = encodeRecord(record)
    const max = this.link?.nc.info?.max_payload
    if (max !== undefined && data.length > max) {
      throw new InvalidArgumentError(`the write is ${data.length} bytes as a record, over the NATS max_payload of ${max}; split it`)
    }
    const msgId = newMsgId(this.cfg.node)
    const deadline = Date.now() + this.cfg.timeoutMs
    const applied = this.cfg.consistency === 'read-your-writes' || forceApply ? this.applier.wait(msgId) : null
    applied?.catch(() => {})
    let seq: number
    try {
      seq = (await publishRecord(() => this.link, this.cfg, data, msgId, deadline)).seq
    } catch (err) {
      this.applier.forget(msgId)
      throw err
    }
    this.published++
    this.applier.knownLastSeq = Math.max(this.applier.knownLastSeq, seq)
    if (applied === null) return predicted
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new UnavailableError(
              `the write was stored in stream ${this.cfg.stream} at sequence ${seq} (it will be applied everywhere) ` +
                `but this node had not applied it within ${this.cfg.timeoutMs} ms (applied up to ${this.applier.appliedSeq})`,
            ),
          ),
        Math.max(0, deadline - Date.now()),
      )
    })
    try {
      return (await Promise.race([applied, timeout])).result as T
    } finally {
      clearTimeout(timer)
      this.applier.forget(msgId)
    }
  }

  async status(): Promise<ReplicationStatus> {
    const a = this.applier
    let streamState: ReplicationStatus['streamState'] = null
    if (this.link !== null && !this.link.nc.isClosed()) {
      try {
        const info = await Promise.race([
          this.link.jsm.streams.info(this.cfg.stream),
          new Promise<null>((r) => setTimeout(() => r(null), 1000).unref()),
        ])
        if (info !== null) {
          streamState = {
            messages: info.state.messages,
            bytes: info.state.bytes,
            firstSeq: info.state.first_seq,
            lastSeq: info.state.last_seq,
            replicas: info.config.num_replicas,
            leader: info.cluster?.leader ?? null,
            created: info.created,
          }
          a.knownLastSeq = Math.max(a.knownLastSeq, info.state.last_seq)
        }
      } catch {
        /* unreachable now */
      }
      if (Date.now() - this.snapshotCache.at > 10_000) {
        this.snapshotCache.at = Date.now()
        try {
          const s = (await listSnapshots(await snapshotStore(this.link, this.cfg)))[0]
          this.snapshotCache.value = s ? { seq: s.seq, bytes: s.files.reduce((n, f) => n + f.bytes, 0), at: s.at } : null
        } catch {
          /* keep the last */
        }
      }
    }
    const err = a.error
    return {
      node: this.cfg.node,
      stream: this.cfg.stream,
      consistency: this.cfg.consistency,
      connected: this.link !== null && !this.link.nc.isClosed() && this.link.nc.protocol?.connected === true,
      appliedSeq: a.appliedSeq,
      streamLastSeq: Math.max(a.knownLastSeq, a.appliedSeq),
      lagMessages: Math.max(0, a.knownLastSeq - a.appliedSeq),
      lagMs: a.lagMs(),
      applyDelayMs: a.delays.quantiles(),
      appliedRecords: a.appliedRecords,
      appliedBatches: a.appliedBatches,
      refusedRecords: a.refusedRecords,
      published: this.published,
      consumerRestarts: a.restarts + a.gapRestarts,
      error: err === null ? null : { code: err.code, reason: err instanceof ReplicationError ? err.reason : undefined, message: err.message },
      streamState,
      snapshot: this.snapshotCache.value,
    }
  }

  async publishSnapshot(): Promise<{ seq: number; bytes: number; files: number; trimmedBelow: number; ms: number }> {
    const link = this.link
    if (link === null) throw new UnavailableError('not connected to NATS: cannot publish a snapshot')
    if (this.db.path === null) throw new InvalidArgumentError('an in-memory database has no snapshot')
    const t0 = Date.now()
    const tmp = await mkdtemp(`${this.db.path}.snapshot-`)
    try {
      let seq = 0
      // Between two records: the copy holds exactly the records up to its marker.
      await this.applier.gate.hold(async () => {
        await this.db.snapshot(`${tmp}/db`)
        seq = this.applier.appliedSeq
      })
      const index = await uploadSnapshot(link, this.cfg, `${tmp}/db`, seq, this.applier.created).catch((err: unknown) => {
        throw err instanceof KyroDBError ? err : new UnavailableError(`snapshot upload to ${this.cfg.bucket} failed: ${String((err as Error)?.message ?? err)}`, { cause: err })
      })
      this.snapshotCache = { at: Date.now(), value: { seq, bytes: index.bytes, at: index.at } }
      return { seq, bytes: index.bytes, files: index.files.length, trimmedBelow: index.trimmedBelow, ms: Date.now() - t0 }
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }
}

function checkName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidArgumentError('collection name must be a string')
  if (!NAME.test(name)) throw new InvalidArgumentError(`collection name must match ${NAME.source}, got ${JSON.stringify(name)}`)
  return name
}

function serializeMetadata(metadata: unknown, count: number): (string | null)[] | undefined {
  if (metadata === undefined || metadata === null) return undefined
  if (!Array.isArray(metadata)) throw new InvalidArgumentError('metadata must be an array with one entry (object or undefined) per id')
  if (metadata.length !== count) throw new InvalidArgumentError(`got ${count} ids but ${metadata.length} metadata entries`)
  return metadata.map((m: unknown, i) => {
    if (m === undefined || m === null) return null
    if (typeof m !== 'object' || Array.isArray(m)) throw new InvalidArgumentError(`metadata[${i}] must be a plain object`)
    let s: string
    try {
      s = JSON.stringify(m)
    } catch (err) {
      throw new InvalidArgumentError(`metadata[${i}] cannot be stored as JSON: ${(err as Error).message}`, { cause: err })
    }
    if (Buffer.byteLength(s) > MAX_METADATA_BYTES) throw new InvalidArgumentError(`metadata[${i}] is over 64 KiB as JSON`)
    return s
  })
}

/** A collection of a replicated database: writes go through the stream, reads are local. */
class ReplicatedCollection extends Collection {
  readonly #core: Core

  constructor(nativeCollection: NativeCollection, core: Core) {
    super(nativeCollection)
    this.#core = core
  }

  #exists(): void {
    this.count() // NOT_FOUND once dropped, CLOSED once closed
  }

  override async upsert(ids: IdList, vectors: VectorBatch, metadata?: readonly (Metadata | undefined | null)[]): Promise<number> {
    this.#exists()
    const dim = this.dimension
    const keys = this.idType === 'string' ? toNativeNames(ids) : toNativeIds(ids)
    const flat = toFlatBatch(vectors, dim)
    const meta = serializeMetadata(metadata, keys.length)
    const seen = new Set<string | bigint>()
    for (const k of keys) {
      if (seen.has(k)) throw new InvalidArgumentError(`id ${String(k)} appears twice in the batch`)
      seen.add(k)
    }
    for (let i = 0; i < flat.length; i++) {
      if (!Number.isFinite(flat[i])) throw new InvalidArgumentError(`vector ${Math.floor(i / dim)} holds a NaN or infinite component`)
    }
    if (this.metric === 'cosine') {
      for (let r = 0; r < keys.length; r++) {
        let any = false
        for (let j = r * dim; j < (r + 1) * dim && !any; j++) any = flat[j] !== 0
        if (!any) throw new InvalidArgumentError(`vector ${r} is all zeros, which has no direction under cosine`)
      }
    }
    const record: ReplicatedRecord = {
      kind: 'upsert',
      collection: this.name,
      ids: Array.isArray(keys) ? keys : (keys as BigUint64Array),
      dimension: dim,
      vectors: flat,
      metadata: meta,
    }
    return this.#core.write(record, keys.length)
  }

  override async delete(ids: IdList): Promise<number> {
    this.#exists()
    const keys = this.idType === 'string' ? toNativeNames(ids) : toNativeIds(ids)
    const present = (await this.getMany(ids)).filter((x) => x !== null).length
    return this.#core.write({ kind: 'delete', collection: this.name, ids: keys as BigUint64Array | string[] }, present)
  }

}

const MARKER_BIG = MARKER_KEY

function isMarker(k: Key): boolean {
  return typeof k === 'bigint' ? k === MARKER_BIG : false
}

/** The key-value store of a replicated database: writes through the stream, reads local; hides the marker key. */
class ReplicatedKeyValueStore extends KeyValueStore {
  readonly #n: NativeKv
  readonly #core: Core

  constructor(nativeKv: NativeKv, core: Core) {
    super(nativeKv)
    this.#n = nativeKv
    this.#core = core
  }

  override async batch(writes: readonly KvWrite[]): Promise<number> {
    if (!Array.isArray(writes)) throw new InvalidArgumentError('batch takes an array of writes')
    const [keys, kinds, ends, values] = encodeWrites(writes)
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === MARKER_KEY) throw new InvalidArgumentError(`key ${MARKER_KEY} is reserved by replication (the applied-sequence marker)`)
    }
    return this.#core.write({ kind: 'kv', keys, kinds, ends, values }, writes.length)
  }

  override async count(): Promise<number> {
    const n = await super.count()
    return (await super.has(MARKER_KEY)) ? n - 1 : n
  }

  override async *range(options: RangeOptions = {}): AsyncGenerator<[Key, Buffer | string]> {
    for await (const e of super.range(options)) if (!isMarker(e[0])) yield e
  }

  /** @internal Write the identity marker unless there is one (its own WAL frame). */
  async ensureMarker(marker: string): Promise<void> {
    if (await super.has(MARKER_KEY)) return
    const m = Buffer.from(marker, 'utf8')
    await callAsync(() => this.#n.write(new BigUint64Array([MARKER_KEY]), new Uint8Array([2]), new Uint32Array([m.length]), m))
  }

  /** @internal */
  async readMarker(): Promise<ReturnType<typeof decodeMarker>> {
    return decodeMarker(await super.get(MARKER_KEY))
  }

  /** @internal Count including the marker. */
  async rawCount(): Promise<number> {
    return super.count()
  }
}

/** A database opened with `replication` (see {@link open}). */
class ReplicatedDatabase extends Database {
  readonly #core: Core
  readonly #handle: Replication

  constructor(nativeDb: NativeDatabase, path: string | null, maxUnindexedRows: number | undefined, durability: Durability, core: Core) {
    super(nativeDb, path, maxUnindexedRows, durability, (k) => new ReplicatedKeyValueStore(k, core))
    this.#core = core
    core.db = this
    this.#handle = {
      node: core.cfg.node,
      stream: core.cfg.stream,
      status: () => core.status(),
      publishSnapshot: async () => {
        core.snapshotting ??= core.publishSnapshot().finally(() => (core.snapshotting = null))
        return core.snapshotting as ReturnType<Replication['publishSnapshot']>
      },
      get appliedSeq() {
        return core.applier.appliedSeq
      },
      waitForSeq: async (seq, timeoutMs = core.cfg.timeoutMs) => {
        const end = Date.now() + timeoutMs
        while (core.applier.appliedSeq < seq) {
          if (core.applier.error) throw new UnavailableError(core.applier.error.message, { cause: core.applier.error })
          if (Date.now() > end) throw new UnavailableError(`applied up to ${core.applier.appliedSeq}, not ${seq}, after ${timeoutMs} ms`)
          await new Promise((r) => setTimeout(r, 5))
        }
      },
    }
  }

  protected override newCollection(nativeCollection: NativeCollection): Collection {
    return new ReplicatedCollection(nativeCollection, this.#core)
  }

  override get replication(): Replication {
    return this.#handle
  }

  override async createCollection(name: string, options: CreateCollectionOptions): Promise<Collection> {
    checkName(name)
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object like { dimension: 384 }')
    if (options.tag !== undefined) throw new InvalidArgumentError(TAGS_ARE_REPLICATIONS)
    const { dimension, metric = 'cosine', index = {}, idType = 'u64' } = options
    if (idType !== 'u64' && idType !== 'string') throw new InvalidArgumentError(`idType must be 'u64' or 'string', got ${String(idType)}`)
    if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1 || dimension > 16384) {
      throw new InvalidArgumentError(`dimension must be an integer in 1..16384, got ${String(dimension)}`)
    }
    if (metric !== 'l2' && metric !== 'cosine' && metric !== 'ip') throw new InvalidArgumentError("metric must be 'l2', 'cosine' or 'ip'")
    if (index !== false && (typeof index !== 'object' || index === null)) {
      throw new InvalidArgumentError('index must be false or an object like { m: 16, efConstruction: 200 }')
    }
    if (this.listCollections().some((c) => c.name === name)) throw new AlreadyExistsError(`collection ${name} already exists`)
    await this.#core.write({ kind: 'create', collection: name, options: { dimension, metric, index, idType } }, undefined, true)
    return this.collection(name)
  }

  override async dropCollection(name: string, options: { tag?: bigint } = {}): Promise<void> {
    checkName(name)
    if (options?.tag !== undefined) throw new InvalidArgumentError(TAGS_ARE_REPLICATIONS)
    if (!this.listCollections().some((c) => c.name === name)) throw new NotFoundError(`collection ${name} does not exist`)
    await this.#core.write({ kind: 'drop', collection: name }, undefined)
  }

  /** Writes of a replicated database go through the stream: a local write group would bypass it. */
  override async writeGroup(_writes: readonly GroupWrite[]): Promise<GroupOutcome[]> {
    throw new InvalidArgumentError('writeGroup writes to this node alone; a replicated database takes writes through its collections and kv')
  }

  /** @internal Apply upsert, delete and key-value records as one write group, each tagged with its sequence. */
  async applyGroup(records: Sequenced[]): Promise<Applied[]> {
    const ops: NativeGroupOp[] = records.map(({ seq, record: r }) => {
      const tag = BigInt(seq)
      switch (r.kind) {
        case 'kv':
          return { kind: 'kv', keys: r.keys, kinds: r.kinds, ends: r.ends, values: Buffer.from(r.values.buffer, r.values.byteOffset, r.values.byteLength), tag }
        case 'upsert':
        case 'delete': {
          const ids = Array.isArray(r.ids) ? { names: r.ids } : { ids: r.ids as BigUint64Array }
          if (r.kind === 'delete') return { kind: 'delete', collection: r.collection, ...ids, tag }
          return { kind: 'upsert', collection: r.collection, ...ids, vectors: r.vectors, metadata: r.metadata, tag }
        }
        default:
          throw new InvalidArgumentError(`a ${r.kind} record cannot be part of a write group`)
      }
    })
    const out = await this.writeGroupNative(ops)
    return out.map((o) => (o.ok ? { ok: true, result: o.changed } : { ok: false, error: o.error }))
  }

  /** @internal Apply a create or drop tagged with its sequence; a refusal records the tag alone. */
  async applyCollection(r: Extract<ReplicatedRecord, { kind: 'create' | 'drop' }>, seq: number): Promise<Applied> {
    const tag = BigInt(seq)
    try {
      if (r.kind === 'create') await super.createCollection(r.collection, { ...(r.options as CreateCollectionOptions), tag })
      else await super.dropCollection(r.collection, { tag })
      return { ok: true, result: undefined }
    } catch (err) {
      if (!(err instanceof KyroDBError) || !DETERMINISTIC_CODES.has(err.code)) return { ok: false, error: err }
      const [t] = await this.writeGroupNative([{ kind: 'tag', tag }])
      return t?.ok ? { ok: false, error: err } : { ok: false, error: t?.error ?? err }
    }
  }

  /** @internal Close the local database only (the replication state carries on: open-time bootstrap). */
  async closeLocal(): Promise<void> {
    await super.close()
  }

  override async close(): Promise<void> {
    const c = this.#core
    if (!c.closed) {
      c.closed = true
      if (c.timer) clearInterval(c.timer)
      // Bounded: closing the local database must not wait on an unreachable server.
      await bounded('snapshot', c.snapshotting?.catch(() => {}), 60_000)
      await bounded('applier', c.applier.stop(), 5000)
      await bounded('nats', c.link?.nc.close().catch(() => {}), 5000)
    }
    await super.close()
  }
}

async function bounded(step: string, p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (p === undefined) return
  let timer: NodeJS.Timeout | undefined
  const done = await Promise.race([p.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))])
  clearTimeout(timer)
  if (!done) process.emitWarning(`kyrodb replication: close step '${step}' did not finish within ${ms} ms; closing anyway`)
}

function target(db: () => ReplicatedDatabase): ApplyTarget {
  return {
    applyGroup: (records) => db().applyGroup(records),
    applyCollection: (r, seq) => db().applyCollection(r, seq),
    ensureMarker: (m) => (db().kv as ReplicatedKeyValueStore).ensureMarker(m),
  }
}

/** `open(path, { replication })`. @internal */
export async function openReplicated(path: string | null, options: OpenOptions): Promise<Database> {
  const cfg = resolveConfig(options.replication)
  if (path === null) throw new ReplicationError('config', 'a replicated database needs a directory (path)')
  const { replication: _, ...local } = options
  let stopped = false
  let core: Core | undefined
  const conn = startConnect(cfg, cfg.timeoutMs, () => stopped || core?.closed === true)
  let link = await conn.first
  let info: Core['streamInfo'] = null
  try {
    if (link !== null) {
      try {
        info = await ensureStream(link, cfg, Date.now() + cfg.timeoutMs)
      } catch (err) {
        if (err instanceof ReplicationError) throw err
        info = null // JetStream not answering yet: carry on locally, retry in the background
      }
    }
    // A new or wiped node starts from the newest snapshot, if there is one.
    if (link !== null && info !== null && !existsSync(`${path}/MANIFEST`)) await restoreLatest(link, cfg, path)
  } catch (err) {
    stopped = true
    await link?.nc.close().catch(() => {})
    throw err
  }
  let db!: ReplicatedDatabase
  const applier = new Applier(cfg, target(() => db), 0, info?.created ?? '')
  core = new Core(cfg, applier)
  const theCore = core
  try {
    db = await openWith(path, local, (n, p, max, d) => new ReplicatedDatabase(n, p, max, d, theCore))
  } catch (err) {
    stopped = true
    await link?.nc.close().catch(() => {})
    throw err
  }
  const check = async (created: string | null): Promise<void> => {
    const kv = db.kv as ReplicatedKeyValueStore
    const marker = await kv.readMarker()
    if (marker === null) {
      if (db.listCollections().length > 0 || (await kv.rawCount()) > 0) {
        throw new ReplicationError('foreign-data', `${path} holds data that was not written through stream ${cfg.stream}; open it without replication, or use an empty directory`)
      }
      return
    }
    if (marker.stream !== cfg.stream || (created !== null && marker.created !== '' && marker.created !== created)) {
      throw new ReplicationError(
        'foreign-data',
        `${path} belongs to stream ${marker.stream} created ${marker.created}, not ${cfg.stream}${created ? ` created ${created}` : ''}: nothing applied`,
      )
    }
    // Exact: every record is tagged with its sequence in the same WAL frame (or manifest
    // write) as its change. `marker.seq` is the applied sequence of directories written
    // before tags existed.
    const applied = Math.max(marker.seq, Number(db.lastTag() ?? 0n))
    applier.appliedSeq = applied
    applier.knownLastSeq = Math.max(applier.knownLastSeq, applied)
    applier.created = marker.created || (created ?? '')
  }
  try {
    await check(info?.created ?? null)
    // Down longer than the stream keeps records (trimmed below the oldest snapshot kept):
    // nothing in this directory is lost by replacing it (every write went through the
    // stream), so restore the newest snapshot in its place and continue from there.
    if (link !== null && info !== null && info.state.first_seq > applier.appliedSeq + 1) {
      const behind = applier.appliedSeq
      await db.closeLocal()
      const restored = await restoreLatest(link, cfg, path)
      if (restored === null || restored.seq + 1 < info.state.first_seq) {
        throw new ReplicationError(
          'needs-bootstrap',
          `stream ${cfg.stream} starts at sequence ${info.state.first_seq} but ${path} applied up to ${behind} and no snapshot covers the gap`,
        )
      }
      db = await openWith(path, local, (n, p, max, d) => new ReplicatedDatabase(n, p, max, d, theCore))
      await check(info.created)
      process.emitWarning(
        `kyrodb replication: ${path} had applied stream ${cfg.stream} up to ${behind}, below its first sequence ${info.state.first_seq}; ` +
          `replaced it with snapshot ${restored.seq}`,
      )
    }
  } catch (err) {
    stopped = true
    if (!db.closed) await db.close().catch(() => {})
    await link?.nc.close().catch(() => {})
    throw err
  }
  if (link !== null && info !== null) {
    core.link = link
    core.streamInfo = info
    applier.created ||= info.created
    applier.start(link)
  } else {
    // Unreachable at open: reads work, writes fail with UNAVAILABLE; keep trying.
    void (async () => {
      link ??= await conn.later
      for (;;) {
        if (core.closed) return void (await link.nc.close().catch(() => {}))
        core.link = link
        try {
          const i = await ensureStream(link, cfg, Date.now() + cfg.timeoutMs)
          await check(i.created)
          core.streamInfo = i
          applier.created ||= i.created
          applier.start(link)
          return
        } catch (err) {
          if (err instanceof KyroDBError) {
            applier.error = err
            return
          }
        }
      }
    })().catch(() => {})
  }
  if (cfg.snapshotIntervalMs > 0) {
    core.timer = setInterval(() => void db.replication.publishSnapshot().catch(() => {}), cfg.snapshotIntervalMs)
    core.timer.unref()
  }
  return db
}
