/**
 * What the LangChain.js and LlamaIndex.TS adapters share: finding or creating their
 * string-id collection, turning distances into similarity scores, and deleting every row
 * that matches a filter.
 * @internal
 * @module
 */
import type { Collection, Metadata, Metric } from '../collection.js'
import type { Database, IndexOptions } from '../database.js'
import { InvalidArgumentError, NotFoundError } from '../errors.js'
import type { Filter } from '../filter.js'

/** Where an adapter keeps its vectors: one string-id collection of a database. */
export interface KyroDBCollectionConfig {
  /**
   * An open database. The adapter uses the collection `collectionName` in it, and creates it
   * (string ids, the dimension of the first vectors added) on the first write if it does
   * not exist. Give either `db` or `collection`.
   */
  db?: Database
  /** Name of the collection in `db`; each adapter has its own default. */
  collectionName?: string
  /** A collection to use as it is; it must have been created with `idType: 'string'`. */
  collection?: Collection
  /** Metric of a collection the adapter creates; default `'cosine'`. */
  metric?: Metric
  /** Index settings of a collection the adapter creates (see {@link IndexOptions}); `false` for exact search only. */
  index?: IndexOptions | false
  /** Beam width of graph searches (`ef` of a search), at least `k`; default the engine's, `max(64, k)`. */
  ef?: number
}

/** The largest `k` one search may ask for. @internal */
export const MAX_K = 10_000

/** Finds or creates an adapter's collection. @internal */
export class CollectionRef {
  readonly #db: Database | undefined
  readonly #name: string
  readonly #metric: Metric
  readonly #index: IndexOptions | false | undefined
  #collection: Collection | undefined
  #creating: Promise<Collection> | undefined

  constructor(config: KyroDBCollectionConfig, defaultName: string) {
    if (typeof config !== 'object' || config === null) {
      throw new InvalidArgumentError('the store needs a config object like { db } or { collection }')
    }
    if (config.collection === undefined && config.db === undefined) {
      throw new InvalidArgumentError('the store needs { db } (an open database) or { collection } (a string-id collection)')
    }
    this.#db = config.db
    this.#name = config.collection?.name ?? config.collectionName ?? defaultName
    this.#metric = config.collection?.metric ?? config.metric ?? 'cosine'
    this.#index = config.index
    if (config.collection !== undefined) this.#collection = checkStringIds(config.collection)
  }

  /** The collection's name. */
  get name(): string {
    return this.#name
  }

  /** The metric, of the collection or of the one that will be created. */
  get metric(): Metric {
    return this.#collection?.metric ?? this.#metric
  }

  /** The collection if it exists, else `null` (nothing was ever added). */
  existing(): Collection | null {
    if (this.#collection !== undefined) return this.#collection
    const db = this.#db as Database
    try {
      this.#collection = checkStringIds(db.collection(this.#name))
    } catch (err) {
      if (err instanceof NotFoundError) return null
      throw err
    }
    return this.#collection
  }

  /** The collection, created with `dimension` if it does not exist yet. */
  async ensure(dimension: number): Promise<Collection> {
    const found = this.existing()
    if (found !== null) return found
    this.#creating ??= this.#create(dimension).finally(() => {
      this.#creating = undefined
    })
    return this.#creating
  }

  async #create(dimension: number): Promise<Collection> {
    const db = this.#db as Database
    const options = { dimension, metric: this.#metric, idType: 'string' as const, ...(this.#index === undefined ? {} : { index: this.#index }) }
    this.#collection = checkStringIds(await db.createCollection(this.#name, options))
    return this.#collection
  }
}

function checkStringIds(collection: Collection): Collection {
  if (collection.idType !== 'string') {
    throw new InvalidArgumentError(
      `collection '${collection.name}' has ${collection.idType} ids; LangChain and LlamaIndex ids are strings: ` +
        `use a collection created with { idType: 'string' }`,
    )
  }
  return collection
}

/**
 * A similarity score from a KyroDB distance, higher is closer: the cosine similarity under
 * `cosine` (`1 − distance`), the inner product under `ip` (`1 − distance`), and the negated
 * squared Euclidean distance under `l2`. @internal
 */
export function similarityFromDistance(metric: Metric, distance: number): number {
  return metric === 'l2' ? -distance : 1 - distance
}

/**
 * Delete every row of `collection` that matches `filter`, a search of {@link MAX_K} rows at
 * a time (a filtered search returns `k` rows whenever `k` rows match, so a short page is the
 * last); returns how many rows were removed. @internal
 */
export async function deleteMatching(collection: Collection, filter: Filter): Promise<number> {
  const probe = new Float32Array(collection.dimension)
  probe[0] = 1
  let removed = 0
  for (;;) {
    const hits = await collection.search(probe, { k: MAX_K, filter, withMetadata: false })
    if (hits.length === 0) return removed
    removed += await collection.delete(hits.map((h) => h.id as string))
    if (hits.length < MAX_K) return removed
  }
}

/** The KyroDB distance between `query` and `vector` under `metric`, computed here. @internal */
export function distanceOf(metric: Metric, query: ArrayLike<number>, vector: ArrayLike<number>): number {
  let dot = 0
  let qq = 0
  let vv = 0
  for (let i = 0; i < query.length; i++) {
    dot += query[i] * vector[i]
    qq += query[i] * query[i]
    vv += vector[i] * vector[i]
  }
  if (metric === 'l2') return qq + vv - 2 * dot
  if (metric === 'ip') return 1 - dot
  return qq === 0 || vv === 0 ? 1 : 1 - dot / Math.sqrt(qq * vv)
}

/**
 * Upsert rows whose ids may repeat within the batch (a framework may pass the same id
 * twice): the last occurrence wins, as if the rows were added one by one. Creates the
 * collection on first use through `ref`.
 */
export async function upsertLastWins(ref: CollectionRef, ids: string[], vectors: number[][], metadata: Metadata[]): Promise<void> {
  const last = new Map<string, number>()
  ids.forEach((id, i) => last.set(id, i))
  const keep = [...last.values()].sort((a, b) => a - b)
  const collection = await ref.ensure(vectors[0]!.length)
  await collection.upsert(
    keep.map((i) => ids[i]!),
    keep.map((i) => vectors[i]!),
    keep.map((i) => metadata[i]!),
  )
}
