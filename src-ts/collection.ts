/**
 * {@link Collection}: a named set of vectors with one dimension and metric.
 * @module
 */
import { progressOption, withProgress } from './progress.js'
import { call, callAsync, InvalidArgumentError } from './errors.js'
import { serializeFilter, type Filter } from './filter.js'
import { fromNativeId, toNativeId, toNativeIds, toNativeName, toNativeNames, type Id, type IdList, type IdType } from './ids.js'
import type { NativeCollection, NativeHits, NativeSearchOptions, NativeStored } from './native.js'
import { toFlatBatch, toVector, type VectorBatch, type VectorLike } from './vectors.js'

/** Distance metric. Smaller distances are closer. */
export type Metric = 'l2' | 'cosine' | 'ip'

/**
 * JSON-like metadata stored beside a vector: a plain object whose values are strings,
 * numbers, booleans, null, arrays or nested objects (at most 64 KiB as JSON).
 */
export type Metadata = { [field: string]: unknown }

/** One search hit. */
export interface SearchResult {
  /**
   * The id the vector was stored under: a string in a `'string'` collection; otherwise a
   * number (`bigint` only above `Number.MAX_SAFE_INTEGER`).
   */
  id: Id
  /**
   * Distance to the query: squared Euclidean for `l2`, `1 − cos` for `cosine`,
   * `1 − ⟨q, v⟩` for `ip`.
   */
  distance: number
  /** The vector's metadata, when it has some (and `withMetadata` is not `false`). */
  metadata?: Metadata
  /** The stored vector, when `withVectors` is `true`. */
  vector?: Float32Array
}

/** Options of a search. */
export interface SearchOptions {
  /** Number of neighbours to return, `1..10000`. */
  k: number
  /**
   * Beam width of the graph search, `k..10000`; default `max(64, k)`. Larger is slower and
   * more accurate. Exact-only collections and the hot tier ignore it.
   */
  ef?: number
  /** Only return vectors whose metadata matches. See {@link Filter}. */
  filter?: Filter
  /** Include each hit's metadata; default `true`. */
  withMetadata?: boolean
  /** Include each hit's stored vector; default `false`. */
  withVectors?: boolean
  /**
   * Answer from (and fill) the database's query-result cache; default `true`. A cached
   * answer is returned only while no write since could change it ({@link OpenOptions.cache}).
   * `searchBatch` does not use the cache.
   */
  cache?: boolean
}

/** Options of {@link Collection.buildIndex}. */
export interface BuildIndexOptions {
  /** Called from time to time with the number of vectors inserted into the graph so far. */
  onProgress?: (done: number, total: number) => void
}

/** How a collection's vectors are laid out right now. */
export interface CollectionStats {
  /** Vectors stored. */
  count: number
  /** Vectors in the hot tier (recent writes, searched exactly). */
  hotRows: number
  /** Immutable segments: rows (deleted included), live rows, and whether it has a graph. */
  segments: { rows: number; live: number; graph: boolean }[]
  /** The cap on the hot tier's live rows in force (`0`: none); see {@link OpenOptions.maxUnindexedRows}. */
  maxUnindexedRows: number
  /** Upserts that waited for background indexing since the database was opened. */
  writeStalls: number
  /** Total time upserts waited for background indexing since open, in milliseconds (waits in progress included). */
  stallMs: number
  /** Upserts waiting for background indexing right now. */
  writersWaiting: number
  /** Rows built from the hot tier into graph segments since open (sample it over time for the indexing rate). */
  indexedRows: number
  /** Rows rewritten by background merges of segments since open. */
  mergedRows: number
  /** Whether a background build or merge is running now. */
  indexing: boolean
}

/** A stored vector, as returned by {@link Collection.get}. */
export interface StoredVector {
  /** The id. */
  id: Id
  /** The vector as stored (unit length under `cosine`). */
  vector: Float32Array
  /** Its metadata, when it has some. */
  metadata?: Metadata
}

function checkCount(name: string, value: unknown, range: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) {
    throw new InvalidArgumentError(`${name} must be an integer in ${range}, got ${String(value)}`)
  }
  return value
}

/** A backlog cap (`maxUnindexedRows`): an integer in `0..2^32-1`, `0` for none. @internal */
export function checkUnindexedCap(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InvalidArgumentError(`maxUnindexedRows must be an integer in 0..4294967295 (0: no cap), got ${String(value)}`)
  }
  return value
}

function checkBool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`${name} must be true or false`)
  return value
}

function nativeSearchOptions(options: unknown): NativeSearchOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object like { k: 10 }')
  const o = options as SearchOptions
  return {
    k: checkCount('k', o.k, '1..10000'),
    ef: o.ef === undefined ? undefined : checkCount('ef', o.ef, 'k..10000'),
    filter: serializeFilter(o.filter),
    withMetadata: checkBool('withMetadata', o.withMetadata, true),
    withVectors: checkBool('withVectors', o.withVectors, false),
    cache: checkBool('cache', o.cache, true),
  }
}

function serializeMetadata(metadata: unknown, count: number): (string | null)[] | undefined {
  if (metadata === undefined || metadata === null) return undefined
  if (!Array.isArray(metadata)) throw new InvalidArgumentError('metadata must be an array with one entry (object or undefined) per id')
  if (metadata.length !== count) throw new InvalidArgumentError(`got ${count} ids but ${metadata.length} metadata entries`)
  return metadata.map((m, i) => {
    if (m === undefined || m === null) return null
    if (typeof m !== 'object' || Array.isArray(m)) throw new InvalidArgumentError(`metadata[${i}] must be a plain object`)
    try {
      return JSON.stringify(m)
    } catch (err) {
      throw new InvalidArgumentError(`metadata[${i}] cannot be stored as JSON: ${(err as Error).message}`, { cause: err })
    }
  })
}

function toResults(hits: NativeHits): SearchResult[] {
  const out: SearchResult[] = new Array(hits.ids.length)
  const named = hits.nameEnds.length > 0
  for (let i = 0; i < hits.ids.length; i++) {
    const r: SearchResult = {
      id: named ? hits.names.slice(i === 0 ? 0 : hits.nameEnds[i - 1], hits.nameEnds[i]) : fromNativeId(hits.ids[i]),
      distance: hits.distances[i],
    }
    const m = hits.metadata[i]
    if (m != null) r.metadata = JSON.parse(m) as Metadata
    if (hits.vectors.length > 0) r.vector = hits.vectors[i]
    out[i] = r
  }
  return out
}

function storedOf(id: Id, found: NativeStored | null): StoredVector | null {
  if (found === null) return null
  const out: StoredVector = { id, vector: found.vector }
  if (found.metadata != null) out.metadata = JSON.parse(found.metadata) as Metadata
  return out
}

/**
 * A collection of vectors. Get one from {@link Database.createCollection} or
 * {@link Database.collection}. Async methods run on a worker thread and copy their inputs
 * first, so arrays passed in may be reused as soon as the call returns.
 */
export class Collection {
  readonly #native: NativeCollection

  /** @internal */
  constructor(native: NativeCollection) {
    this.#native = native
  }

  /** The collection's name. */
  get name(): string {
    return this.#native.name
  }

  /** Components per vector. */
  get dimension(): number {
    return this.#native.dimension
  }

  /** The distance metric. */
  get metric(): Metric {
    return this.#native.metric as Metric
  }

  /** What the ids are: `'u64'` integers or `'string'`s (fixed at creation). */
  get idType(): IdType {
    return this.#native.idType as IdType
  }

  /** Number of vectors stored. */
  count(): number {
    return call(() => this.#native.count())
  }

  /**
   * Insert vectors, replacing any with the same id. The batch is all or nothing: if any
   * entry is invalid (wrong dimension, NaN or ±Infinity, duplicate id, bad metadata, zero
   * vector under cosine) nothing is written.
   *
   * @param ids one id per vector
   * @param vectors one flat row-major `Float32Array` of `ids.length × dimension` numbers, or one vector per id
   * @param metadata optional, one plain object (or `undefined`) per id
   * @returns the number of vectors written
   */
  async upsert(ids: IdList, vectors: VectorBatch, metadata?: readonly (Metadata | undefined | null)[]): Promise<number> {
    if (this.idType === 'string') {
      const names = toNativeNames(ids)
      const flat = toFlatBatch(vectors, this.dimension)
      const meta = serializeMetadata(metadata, names.length)
      return callAsync(() => this.#native.upsertNamed(names, flat, meta))
    }
    const nativeIds = toNativeIds(ids)
    const flat = toFlatBatch(vectors, this.dimension)
    const meta = serializeMetadata(metadata, nativeIds.length)
    return callAsync(() => this.#native.upsert(nativeIds, flat, meta))
  }

  /**
   * Remove vectors by id. Ids that are not present are ignored.
   * @returns how many vectors were removed
   */
  async delete(ids: IdList): Promise<number> {
    if (this.idType === 'string') {
      const names = toNativeNames(ids)
      return callAsync(() => this.#native.deleteNamed(names))
    }
    const nativeIds = toNativeIds(ids)
    return callAsync(() => this.#native.delete(nativeIds))
  }

  /** The stored vector and metadata of `id`, or `null` when there is none. */
  async get(id: Id): Promise<StoredVector | null> {
    if (this.idType === 'string') {
      const name = toNativeName(id)
      return storedOf(name, call(() => this.#native.getNamed(name)))
    }
    const nativeId = toNativeId(id)
    return storedOf(fromNativeId(nativeId), call(() => this.#native.get(nativeId)))
  }

  /**
   * Every stored vector, in pages read on the calling thread (`pageSize` rows each,
   * default 1,000), in a fixed order (by id; for string ids, by their hash). Rows written
   * or deleted while the iteration runs may or may not be seen, but no row is yielded
   * twice and a row present throughout is yielded once.
   */
  async *entries(options: { pageSize?: number } = {}): AsyncIterableIterator<StoredVector> {
    const pageSize = options.pageSize ?? 1000
    if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1_000_000) {
      throw new InvalidArgumentError(`pageSize must be an integer in 1..1000000, got ${String(pageSize)}`)
    }
    const dim = this.dimension
    let after: bigint | null = null
    for (;;) {
      const page = call(() => this.#native.scanPage(after, pageSize))
      const named = page.nameEnds.length > 0
      for (let i = 0; i < page.ids.length; i++) {
        const id: Id = named ? page.names.slice(i === 0 ? 0 : page.nameEnds[i - 1], page.nameEnds[i]) : fromNativeId(page.ids[i]!)
        const out: StoredVector = { id, vector: page.vectors.slice(i * dim, (i + 1) * dim) }
        const m = page.metadata[i]
        if (m != null) out.metadata = JSON.parse(m) as Metadata
        yield out
      }
      if (page.next == null) return
      after = page.next
    }
  }

  /**
   * The stored vectors of many ids at once, in the order given: `null` for an id that is
   * not stored. Ids are checked first; a bad one rejects the whole call.
   */
  async getMany(ids: IdList): Promise<(StoredVector | null)[]> {
    if (this.idType === 'string') {
      const names = toNativeNames(ids)
      return names.map((name) => storedOf(name, call(() => this.#native.getNamed(name))))
    }
    const nativeIds = toNativeIds(ids)
    return Array.from(nativeIds, (id) => storedOf(fromNativeId(id), call(() => this.#native.get(id))))
  }

  /**
   * The `k` nearest neighbours of `query`, closest first (equal distances: smaller id
   * first; in a string-id collection, a fixed order by the ids' 64-bit hash). Exact: every stored vector is compared with the SIMD kernels. Runs on a
   * worker thread.
   */
  async search(query: VectorLike, options: SearchOptions): Promise<SearchResult[]> {
    const q = toVector(query, 'query')
    const o = nativeSearchOptions(options)
    if (o.cache !== false) {
      // A repeat still valid in the query cache is answered here, without the thread hop
      // (and in the same turn as the queueing below: the caller may reuse `query` as soon
      // as this call returns).
      const cached = call(() => this.#native.searchCached(q, o))
      if (cached !== null) return toResults(cached)
    }
    const [hits] = await callAsync(() => this.#native.search(q, o))
    return toResults(hits)
  }

  /**
   * {@link Collection.search} on the calling thread: no thread hop and no copy of the
   * query. Use it in hot loops where a search takes microseconds; it blocks the event
   * loop for as long as the search runs.
   */
  searchSync(query: VectorLike, options: SearchOptions): SearchResult[] {
    const q = toVector(query, 'query')
    const o = nativeSearchOptions(options)
    return toResults(call(() => this.#native.searchSync(q, o)))
  }

  /**
   * Search many queries at once, spread over every core. `queries` is one flat row-major
   * `Float32Array` (`n × dimension`) or one vector per query. Returns one result list per
   * query, in order.
   */
  async searchBatch(queries: VectorBatch, options: SearchOptions): Promise<SearchResult[][]> {
    const flat = toFlatBatch(queries, this.dimension, 'queries')
    const o = nativeSearchOptions(options)
    const hits = await callAsync(() => this.#native.searchBatch(flat, o))
    return hits.map(toResults)
  }

  /**
   * Build the graph index over everything stored: recent writes (the hot tier) and every
   * existing segment merge into one HNSW segment. Reads and writes continue while it runs;
   * writes that land meanwhile win over the copies being indexed. Collections also build
   * in the background on their own once `autoBuildRows` recent writes accumulate; call
   * this after a bulk load to get one well-connected graph. Exact-only collections
   * (`index: false`) resolve at once.
   */
  async buildIndex(options: BuildIndexOptions = {}): Promise<void> {
    const onProgress = progressOption(options)
    await withProgress(onProgress, (cb) => callAsync(() => this.#native.buildIndex(cb)))
  }

  /** How the collection's vectors are laid out right now (hot tier, segments). */
  stats(): CollectionStats {
    const s = call(() => this.#native.stats())
    return { ...s, segments: s.segments.map((x) => ({ ...x })) }
  }

  /**
   * Cap this collection's unindexed backlog (recent writes not yet in a graph segment,
   * scanned exactly by every search): an upsert that would pass it waits for background
   * builds. `0` removes the cap (bulk loads; then {@link Collection.buildIndex}). Exact-only
   * collections (`index: false`) have no cap. See {@link OpenOptions.maxUnindexedRows}.
   * @throws InvalidArgumentError unless an integer in `0..4294967295`
   */
  setMaxUnindexedRows(rows: number): void {
    const cap = checkUnindexedCap(rows)
    call(() => this.#native.setMaxUnindexedRows(cap))
  }
}
