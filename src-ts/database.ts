/**
 * {@link Database} and {@link open}: the entry point.
 * @module
 */
import { checkUnindexedCap, Collection, type Metadata, type Metric } from './collection.js'
import { toNativeIds, toNativeNames, type IdList, type IdType } from './ids.js'
import { call, callAsync, fromNative, InvalidArgumentError, type KyroDBError } from './errors.js'
import { encodeWrites, KeyValueStore, type KvWrite } from './kv.js'
import { native, type NativeCollection, type NativeDatabase, type NativeGroupOp, type NativeKv } from './native.js'
import { toFlatBatch, type VectorBatch } from './vectors.js'
import { progressOption, withProgress, type ProgressCallback } from './progress.js'
import type { ReplicationOptions } from './replication/config.js'
import type { Replication } from './replication/database.js'

/**
 * When an acknowledged write is on stable storage:
 * - `'full'` (default): every acknowledged write has been fsynced (writers waiting at the
 *   same time share one fsync);
 * - `'normal'`: fsync at most every `syncIntervalMs`; a machine crash or power loss can
 *   lose the writes of the last interval (a killed process loses nothing);
 * - `'none'`: never fsync — for tests and benchmarks.
 */
export type Durability = 'full' | 'normal' | 'none'

/** Options of {@link open}. */
export interface OpenOptions {
  /** Durability mode; default `'full'`. */
  durability?: Durability
  /** fsync interval of the `'normal'` mode in milliseconds; default 100. */
  syncIntervalMs?: number
  /**
   * Open a damaged directory by dropping what is damaged (the WAL from the first bad frame
   * on, unreadable segments) instead of failing with `CORRUPTION`;
   * {@link Database.recoveryReport} lists what was dropped. Default `false`.
   */
  salvage?: boolean
  /** Key-value memtable size (bytes) that triggers writing it out as a sorted run; default 64 MiB. */
  kvMemtableBytes?: number
  /**
   * Key-value writes after which the memtable is written out as a run with a freshly built
   * learned index (the original server's `--rmi-rebuild-appends`); default 1,000,000.
   */
  rmiRebuildAppends?: number
  /**
   * Cap on each indexed collection's unindexed backlog: recent writes not yet built into a
   * graph segment, which every search scans exactly. An upsert that would take a
   * collection past it waits until background builds catch up, so search latency stays
   * bounded whatever the write rate (`collection.stats()` reports `writeStalls` and
   * `stallMs`). Default: twice the collection's `autoBuildRows` (10,000 rows by default).
   * `0` removes the cap: for bulk loads, write everything, then call
   * {@link Collection.buildIndex}. Applies to every collection handle of this database;
   * {@link Collection.setMaxUnindexedRows} changes one collection.
   */
  maxUnindexedRows?: number
  /**
   * The query-result cache: repeated searches (same query, `k`, `ef`, filter and
   * options) are answered from memory, never with a stale answer (each cached answer is
   * checked against the writes since it was computed). `queryBytes` bounds its memory,
   * shared by every collection; default 4 MiB, `0` turns it off. Per search:
   * {@link SearchOptions.cache}.
   */
  cache?: CacheOptions
  /**
   * Follow a NATS JetStream stream: writes are published to the stream and applied by
   * every node in order; reads stay local. See {@link ReplicationOptions} and
   * `docs/ARCHITECTURE.md` § Replication. Needs a `path`.
   */
  replication?: ReplicationOptions
}

/** Options of the query-result cache ({@link OpenOptions.cache}). */
export interface CacheOptions {
  /** Byte budget, every byte counted (keys, answers, bookkeeping); default 4 MiB, `0`: off. */
  queryBytes?: number
  /**
   * Near repeats (off by default): a search whose query lies within this distance of a
   * cached search's (same `k`, `ef`, filter and options) is answered from that search's
   * candidates — cached searches then keep up to `2k` of them — but only when the triangle
   * inequality proves no other row could be in the answer; otherwise it is computed. The
   * distance is the collection's metric: squared Euclidean for `l2`, `1 − cos` for
   * `cosine`; `ip` collections never get near answers. A near answer is exactly what an
   * exact search over the rows the cached search found would return (for a graph search:
   * as good as that search was). `0`: off.
   */
  nearDistance?: number
  /**
   * Which answers the cache keeps when it is full: `'s3fifo'` (default: S3-FIFO's
   * queues — new answers wait in a small queue and stay only if asked for again there),
   * `'tinylfu'` (LRU; a new answer displaces the least recently used one only if asked
   * for more often, by a count-min sketch) or `'learned'` (LRU with a small logistic
   * model deciding that, over frequencies at two time scales, idle time and recent
   * evictions, retrained in the background on the cache's own access log: the best of the
   * three when popularity drifts, worse than `'s3fifo'` otherwise; see
   * `benches/RESULTS.md` § query-cache policies). Their state comes out of `queryBytes`.
   */
  admission?: 's3fifo' | 'tinylfu' | 'learned'
}

/** Counters and size of the query-result cache since open ({@link DatabaseStats.cache}). */
export interface QueryCacheStats {
  /** Searches answered from the cache by an exact repeat. */
  hits: number
  /** Searches answered from the cache by a near repeat ({@link CacheOptions.nearDistance}). */
  nearHits: number
  /** Searches computed (not cached, or found stale). */
  misses: number
  /** Cached answers found stale on lookup (a write since could change them) and dropped. */
  invalidations: number
  /** Cached answers evicted for room. */
  evictions: number
  /** Answers kept out by admission (`tinylfu`, `learned`: judged less worth keeping than what they would evict; `s3fifo` admits every answer to its small queue). */
  rejections: number
  /** Cached answers now. */
  entries: number
  /** Bytes held now (at most `capacityBytes`). */
  bytes: number
  /** The byte budget. */
  capacityBytes: number
  /** The policy in force ({@link CacheOptions.admission}). */
  admission: 's3fifo' | 'tinylfu' | 'learned'
  /** Learned admission: microseconds since the model in force was made (0 otherwise). */
  modelAgeUs: number
  /** Learned admission: how long the last retrain took, microseconds (0: none yet). */
  lastRetrainUs: number
  /** Learned admission: retrains completed. */
  retrains: number
}

/** Options of long operations. */
export interface ProgressOptions {
  /** Called from time to time with `(done, total)` rows. */
  onProgress?: ProgressCallback
}


/** Graph index settings of a collection. */
export interface IndexOptions {
  /** Neighbours per node (`2·m` on the bottom layer), `2..64`; default 16. */
  m?: number
  /** Beam width while building, `1..10000`; default 200. */
  efConstruction?: number
  /** Recent writes that trigger a background build into a graph segment; default 5,000. */
  autoBuildRows?: number
}

/** Options of {@link Database.createCollection}. */
export interface CreateCollectionOptions {
  /** Components per vector, `1..16384`. */
  dimension: number
  /** Distance metric; default `'cosine'`. */
  metric?: Metric
  /**
   * Graph (HNSW) index settings, or `false` for an exact-only collection that is always
   * searched by brute force. Default: an index with default settings.
   */
  index?: IndexOptions | false
  /**
   * What ids are: `'u64'` (default) for unsigned 64-bit integers, or `'string'` for
   * strings of 1 to 512 UTF-8 bytes (returned as given). Fixed at creation; ids of the
   * other type are `INVALID_ARGUMENT`.
   */
  idType?: IdType
  /**
   * A tag (any `u64`) recorded in the same manifest write that creates the collection:
   * see {@link Database.lastTag}. Durable databases only.
   */
  tag?: bigint
}

/**
 * One write of {@link Database.writeGroup}. `tag` (any `u64`) is logged in the same WAL
 * frame as the write (see {@link Database.lastTag}).
 */
export type GroupWrite =
  | {
      kind: 'upsert'
      collection: string
      ids: IdList
      vectors: VectorBatch
      metadata?: readonly (Metadata | undefined | null)[]
      tag?: bigint
    }
  | { kind: 'delete'; collection: string; ids: IdList; tag?: bigint }
  | { kind: 'kv'; writes: readonly KvWrite[]; tag?: bigint }
  | { kind: 'tag'; tag: bigint }

/** The outcome of one {@link GroupWrite}: what the single call resolves with, or its error. */
export type GroupOutcome = { ok: true; changed: number } | { ok: false; error: KyroDBError }

const U64_MAX = 0xffff_ffff_ffff_ffffn

function checkTag(tag: unknown, what = 'tag'): bigint | undefined {
  if (tag === undefined) return undefined
  if (typeof tag !== 'bigint' || tag < 0n || tag > U64_MAX) throw new InvalidArgumentError(`${what} must be a bigint in 0..2^64-1`)
  return tag
}

function metadataJson(metadata: unknown, i: number): (string | null)[] | undefined {
  if (metadata === undefined || metadata === null) return undefined
  if (!Array.isArray(metadata)) throw new InvalidArgumentError(`writes[${i}].metadata must be an array`)
  return metadata.map((m: unknown) => (m === undefined || m === null ? null : JSON.stringify(m)))
}

function optionalCount(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}

/** Figures since open, from {@link Database.stats} (zero in memory). */
export interface DatabaseStats {
  /** Write-ahead log frames (one per write batch) appended. */
  walFrames: number
  /** Bytes appended to the write-ahead log. */
  walBytes: number
  /** Group commits (writers sharing one write and one fsync). */
  walGroups: number
  /** fsyncs of the write-ahead log. */
  walFsyncs: number
  /** Bytes of write-ahead log files on disk now (what a reopen would scan). */
  walDiskBytes: number
  /** Write-ahead log files on disk now. */
  walFiles: number
  /** Hot tiers written out as vector segments. */
  segmentBuilds: number
  /** Merges of vector segments. */
  merges: number
  /** Milliseconds `open` took (recovery included). */
  recoveryMs: number
  /**
   * Bytes the database holds in native memory now: hot tiers, segments built in memory,
   * metadata field indexes, id maps, key-value memtables. Memory-mapped files are not
   * counted (the page cache holds them).
   */
  nativeMemoryBytes: number
  /**
   * Of {@link DatabaseStats.nativeMemoryBytes}, what was last reported to V8 as external
   * memory (so its garbage collector sees the pressure); updated after writes, builds,
   * flushes and open, in steps of 256 KiB, and returned to zero at close.
   */
  reportedExternalBytes: number
  /** The query-result cache's counters and size. */
  cache: QueryCacheStats
}

/** A row of {@link Database.listCollections}. */
export interface CollectionInfo {
  /** Name. */
  name: string
  /** Components per vector. */
  dimension: number
  /** Distance metric. */
  metric: Metric
  /** Vectors stored. */
  count: number
  /** What the ids are. */
  idType: IdType
}

/**
 * An open KyroDB database. Close it with {@link Database.close}, or let
 * `await using db = await open(...)` close it.
 */
export class Database {
  readonly #native: NativeDatabase
  readonly #path: string | null
  readonly #maxUnindexedRows: number | undefined
  readonly #durability: Durability
  /** The key-value store (`u64` keys, bytes or string values). */
  readonly kv: KeyValueStore

  /** @internal */
  constructor(
    nativeDb: NativeDatabase,
    path: string | null,
    maxUnindexedRows?: number,
    durability: Durability = 'full',
    kvStore: (nativeKv: NativeKv) => KeyValueStore = (k) => new KeyValueStore(k),
  ) {
    this.#native = nativeDb
    this.#path = path
    this.#maxUnindexedRows = maxUnindexedRows
    this.#durability = durability
    this.kv = kvStore(nativeDb.kv())
  }

  /** The collection handle class (replicated databases use their own). @internal */
  protected newCollection(nativeCollection: NativeCollection): Collection {
    return new Collection(nativeCollection)
  }

  /** Replication state and controls when opened with `replication`, else `null`. */
  get replication(): Replication | null {
    return null
  }

  #handle(nativeCollection: NativeCollection): Collection {
    const c = this.newCollection(nativeCollection)
    if (this.#maxUnindexedRows !== undefined) c.setMaxUnindexedRows(this.#maxUnindexedRows)
    return c
  }

  /** The directory the database was opened at, or `null` for an in-memory database. */
  get path(): string | null {
    return this.#path
  }

  /** The durability mode it was opened with (see {@link OpenOptions.durability}). */
  get durability(): Durability {
    return this.#durability
  }

  /** Whether {@link Database.close} has been called. */
  get closed(): boolean {
    return this.#native.closed
  }

  /**
   * Create an empty collection. Names match `^[A-Za-z0-9_-]{1,64}$`.
   * @throws AlreadyExistsError when the name is taken
   */
  async createCollection(name: string, options: CreateCollectionOptions): Promise<Collection> {
    if (typeof name !== 'string') throw new InvalidArgumentError('collection name must be a string')
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object like { dimension: 384 }')
    const { dimension, metric = 'cosine', index = {}, idType = 'u64' } = options
    if (idType !== 'u64' && idType !== 'string') throw new InvalidArgumentError(`idType must be 'u64' or 'string', got ${String(idType)}`)
    if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1 || dimension > 0xffffffff) {
      throw new InvalidArgumentError(`dimension must be an integer in 1..16384, got ${String(dimension)}`)
    }
    if (typeof metric !== 'string') throw new InvalidArgumentError("metric must be 'l2', 'cosine' or 'ip'")
    if (index !== false && (typeof index !== 'object' || index === null)) {
      throw new InvalidArgumentError('index must be false or an object like { m: 16, efConstruction: 200 }')
    }
    const nativeIndex =
      index === false
        ? null
        : {
            m: optionalCount('index.m', index.m),
            efConstruction: optionalCount('index.efConstruction', index.efConstruction),
            autoBuildRows: optionalCount('index.autoBuildRows', index.autoBuildRows),
          }
    const tag = checkTag(options.tag, 'options.tag')
    return this.#handle(call(() => this.#native.createCollection(name, dimension, metric, nativeIndex, idType, tag)))
  }

  /**
   * An existing collection.
   * @throws NotFoundError when there is none by that name
   */
  collection(name: string): Collection {
    if (typeof name !== 'string') throw new InvalidArgumentError('collection name must be a string')
    return this.#handle(call(() => this.#native.collection(name)))
  }

  /** Every collection, sorted by name. */
  listCollections(): CollectionInfo[] {
    return call(() => this.#native.listCollections()).map((c) => ({ ...c, metric: c.metric as Metric, idType: c.idType as IdType }))
  }

  /**
   * Delete a collection and everything in it. Existing handles to it throw `NOT_FOUND`.
   * @throws NotFoundError when there is none by that name
   */
  async dropCollection(name: string, options: { tag?: bigint } = {}): Promise<void> {
    if (typeof name !== 'string') throw new InvalidArgumentError('collection name must be a string')
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object')
    const tag = checkTag(options.tag, 'options.tag')
    call(() => this.#native.dropCollection(name, tag))
  }

  /**
   * The tag of the last tagged write applied ({@link Database.writeGroup}, or a tagged
   * {@link Database.createCollection} / {@link Database.dropCollection}), or `null` if no
   * write was ever tagged. A tag is logged in the same WAL frame (or manifest write) as its
   * write, so after a crash a write is present exactly when `lastTag()` returns its tag or
   * a later one: a writer that tags each write with its position in a log of its own
   * (replicas use the stream sequence) resumes after `lastTag()` and applies every entry
   * exactly once.
   */
  lastTag(): bigint | null {
    return call(() => this.#native.lastTag()) ?? null
  }

  /**
   * Apply several writes in order, logged in as few WAL groups as possible (one write and
   * one fsync per group instead of one per write), each optionally tagged. Each write is
   * checked as its own call would be, against the state after the writes before it; a
   * write refused by its checks (`INVALID_ARGUMENT`, `DIMENSION_MISMATCH`, `NOT_FOUND`,
   * `ALREADY_EXISTS`) changes nothing, but its tag is still logged. Any other failure ends
   * the group: the writes after it fail too, so the writes applied are a prefix.
   * Resolves with one outcome per write.
   */
  async writeGroup(writes: readonly GroupWrite[]): Promise<GroupOutcome[]> {
    if (!Array.isArray(writes)) throw new InvalidArgumentError('writeGroup takes an array of writes')
    const ops: NativeGroupOp[] = writes.map((w: GroupWrite, i) => {
      if (typeof w !== 'object' || w === null) throw new InvalidArgumentError(`writes[${i}] must be an object`)
      const tag = checkTag(w.tag, `writes[${i}].tag`)
      switch (w.kind) {
        case 'tag':
          if (tag === undefined) throw new InvalidArgumentError(`writes[${i}] of kind 'tag' needs a tag`)
          return { kind: 'tag', tag }
        case 'kv': {
          const [keys, kinds, ends, values] = encodeWrites(w.writes)
          return { kind: 'kv', keys, kinds, ends, values, tag }
        }
        case 'upsert':
        case 'delete': {
          if (typeof w.collection !== 'string') throw new InvalidArgumentError(`writes[${i}].collection must be a string`)
          // An unknown collection is that write's NOT_FOUND (its tag is still logged).
          const info = this.listCollections().find((c) => c.name === w.collection)
          const named = info?.idType === 'string'
          const ids = named ? { names: toNativeNames(w.ids) } : { ids: toNativeIds(w.ids) }
          if (w.kind === 'delete') return { kind: 'delete', collection: w.collection, ...ids, tag }
          const vectors = info === undefined ? new Float32Array(0) : toFlatBatch(w.vectors, info.dimension)
          return { kind: 'upsert', collection: w.collection, ...ids, vectors, metadata: metadataJson(w.metadata, i), tag }
        }
        default:
          throw new InvalidArgumentError(`writes[${i}].kind must be 'upsert', 'delete', 'kv' or 'tag'`)
      }
    })
    return this.writeGroupNative(ops)
  }

  /** {@link Database.writeGroup} of writes already in the binding's form. @internal */
  protected async writeGroupNative(ops: NativeGroupOp[]): Promise<GroupOutcome[]> {
    const out = await callAsync(() => this.#native.writeGroup(ops))
    return out.map((r) =>
      r.error === undefined || r.error === null ? { ok: true, changed: r.changed ?? 0 } : { ok: false, error: fromNative(new Error(r.error)) },
    )
  }

  /** Write-ahead log and maintenance figures since open. */
  stats(): DatabaseStats {
    return call(() => this.#native.stats())
  }

  /**
   * What recovery had to cut or drop when this database was opened: a torn last WAL frame
   * (an interrupted write that was never acknowledged) or, with `salvage`, damaged data.
   * Empty after a clean shutdown.
   */
  get recoveryReport(): string[] {
    return this.#native.recoveryReport
  }

  /**
   * Move every write so far into segment files (recent writes become a segment, deletions
   * become bitmaps) and delete the write-ahead log files no longer needed, so that the
   * next open replays nothing. Resolves when that is durable. A no-op in memory.
   */
  async flush(options: ProgressOptions = {}): Promise<void> {
    const onProgress = progressOption(options)
    await withProgress(onProgress, (cb) => callAsync(() => this.#native.flush(cb)))
  }

  /**
   * Merge each collection's segments into one, dropping deleted rows and rebuilding the
   * graph, then flush. Reads and writes continue meanwhile.
   */
  async compact(options: ProgressOptions = {}): Promise<void> {
    const onProgress = progressOption(options)
    await withProgress(onProgress, (cb) => callAsync(() => this.#native.compact(cb)))
  }

  /**
   * Check now what `open` left to check on first use: the stored vectors of large
   * segments (at least 64 MiB; everything else is checked at open). A background thread
   * checks them anyway after open; this resolves once all are checked, or rejects with
   * `CORRUPTION` naming the file and offset of the damage (and every read that needs the
   * damaged segment then fails with that error too).
   */
  async verify(): Promise<void> {
    await callAsync(() => this.#native.verify())
  }

  /**
   * Flush, then write a consistent copy of the database into `dest` (a new or empty
   * directory) that can be opened as a database of its own — a backup. Segment files
   * are hard-linked when `dest` is on the same file system.
   */
  async snapshot(dest: string, options: ProgressOptions = {}): Promise<void> {
    if (typeof dest !== 'string' || dest.length === 0 || dest.includes('\0')) {
      throw new InvalidArgumentError('dest must be a non-empty path without NUL characters')
    }
    const onProgress = progressOption(options)
    await withProgress(onProgress, (cb) => callAsync(() => this.#native.snapshot(dest, cb)))
  }

  /**
   * Close the database: pending writes are synced, background builds stop, and the
   * directory lock is released — on a worker thread, so the event loop keeps running
   * meanwhile; the promise resolves once all of it is done. Every call on it or its
   * collections made after `close()` was called throws `CLOSED`. Idempotent: every call
   * resolves only once the close is complete.
   */
  async close(): Promise<void> {
    await callAsync(() => this.#native.closeAsync())
  }

  /** Closes the database (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * Open a database. With a `path`, the directory is created if needed and holds the
 * database's files (write-ahead log, segments, manifest); opening it again recovers
 * every acknowledged write, even after the process was killed. Without a path the
 * database lives in memory only.
 *
 * One handle per directory: a second `open` of the same directory (in this process or
 * another) fails with `LOCKED` until the first is closed.
 * @throws LockedError, CorruptionError, IoError
 */
export async function open(path?: string | null, options: OpenOptions = {}): Promise<Database> {
  if (path !== undefined && path !== null && (typeof path !== 'string' || path.length === 0 || path.includes('\0'))) {
    throw new InvalidArgumentError('path must be a non-empty string without NUL characters')
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError("options must be an object like { durability: 'full' }")
  }
  if (options.replication !== undefined) {
    // Loaded on demand: the NATS client is only needed by replicated databases.
    const { openReplicated } = await import('./replication/database.js')
    return openReplicated(path ?? null, options)
  }
  return openWith(path ?? null, options, (nativeDb, p, max, durability) => new Database(nativeDb, p, max, durability))
}

/** {@link open} without `replication`, building the handle with `make`. @internal */
export async function openWith<D extends Database>(
  path: string | null,
  options: OpenOptions,
  make: (nativeDb: NativeDatabase, path: string | null, maxUnindexedRows: number | undefined, durability: Durability) => D,
): Promise<D> {
  const { durability, syncIntervalMs, salvage, kvMemtableBytes, rmiRebuildAppends, maxUnindexedRows, cache } = options
  if (cache !== undefined && (typeof cache !== 'object' || cache === null)) throw new InvalidArgumentError('cache must be an object like { queryBytes: 4194304 }')
  const queryCacheBytes = cache?.queryBytes
  if (queryCacheBytes !== undefined && (typeof queryCacheBytes !== 'number' || !Number.isSafeInteger(queryCacheBytes) || queryCacheBytes < 0)) {
    throw new InvalidArgumentError(`cache.queryBytes must be a non-negative integer, got ${String(queryCacheBytes)}`)
  }
  const queryCacheNearDistance = cache?.nearDistance
  if (queryCacheNearDistance !== undefined && (typeof queryCacheNearDistance !== 'number' || !Number.isFinite(queryCacheNearDistance) || queryCacheNearDistance < 0)) {
    throw new InvalidArgumentError(`cache.nearDistance must be a finite number ≥ 0, got ${String(queryCacheNearDistance)}`)
  }
  const queryCacheAdmission = cache?.admission
  if (queryCacheAdmission !== undefined && queryCacheAdmission !== 's3fifo' && queryCacheAdmission !== 'tinylfu' && queryCacheAdmission !== 'learned') {
    throw new InvalidArgumentError(`cache.admission must be 's3fifo', 'tinylfu' or 'learned', got ${String(queryCacheAdmission)}`)
  }
  if (durability !== undefined && durability !== 'full' && durability !== 'normal' && durability !== 'none') {
    throw new InvalidArgumentError(`durability must be 'full', 'normal' or 'none', got ${String(durability)}`)
  }
  if (
    syncIntervalMs !== undefined &&
    (typeof syncIntervalMs !== 'number' || !Number.isInteger(syncIntervalMs) || syncIntervalMs < 1 || syncIntervalMs > 3_600_000)
  ) {
    throw new InvalidArgumentError(`syncIntervalMs must be an integer in 1..3600000, got ${String(syncIntervalMs)}`)
  }
  if (salvage !== undefined && typeof salvage !== 'boolean') throw new InvalidArgumentError('salvage must be a boolean')
  for (const [name, v] of [['kvMemtableBytes', kvMemtableBytes], ['rmiRebuildAppends', rmiRebuildAppends]] as const) {
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(v)}`)
    }
  }
  if (maxUnindexedRows !== undefined) checkUnindexedCap(maxUnindexedRows)
  const p = path ?? null
  // Opening recovers (maps segments, replays the WAL): do it off the JS thread.
  const nativeDb = await callAsync(() =>
    native.NativeDatabase.openAsync(p, { durability, syncIntervalMs, salvage, kvMemtableBytes, rmiRebuildAppends, queryCacheBytes, queryCacheNearDistance, queryCacheAdmission }),
  )
  return make(nativeDb, p, maxUnindexedRows, durability ?? 'full')
}
