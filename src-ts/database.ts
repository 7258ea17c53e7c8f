/**
 * {@link Database} and {@link open}: the entry point.
 * @module
 */
import { Collection, type Metric } from './collection.js'
import { call, InvalidArgumentError } from './errors.js'
import { native, type NativeDatabase } from './native.js'

/** Graph index settings of a collection. */
export interface IndexOptions {
  /** Neighbours per node (`2·m` on the bottom layer), `2..64`; default 16. */
  m?: number
  /** Beam width while building, `1..10000`; default 200. */
  efConstruction?: number
  /** Recent writes that trigger a background build into a graph segment; default 10,000. */
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
}

function optionalCount(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`)
  }
  return value
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
}

/**
 * An open KyroDB database. Close it with {@link Database.close}, or let
 * `await using db = await open(...)` close it.
 */
export class Database {
  readonly #native: NativeDatabase
  readonly #path: string | null

  /** @internal */
  constructor(nativeDb: NativeDatabase, path: string | null) {
    this.#native = nativeDb
    this.#path = path
  }

  /** The directory the database was opened at, or `null` for an in-memory database. */
  get path(): string | null {
    return this.#path
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
    const { dimension, metric = 'cosine', index = {} } = options
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
    return new Collection(call(() => this.#native.createCollection(name, dimension, metric, nativeIndex)))
  }

  /**
   * An existing collection.
   * @throws NotFoundError when there is none by that name
   */
  collection(name: string): Collection {
    if (typeof name !== 'string') throw new InvalidArgumentError('collection name must be a string')
    return new Collection(call(() => this.#native.collection(name)))
  }

  /** Every collection, sorted by name. */
  listCollections(): CollectionInfo[] {
    return call(() => this.#native.listCollections()).map((c) => ({ ...c, metric: c.metric as Metric }))
  }

  /**
   * Delete a collection and everything in it. Existing handles to it throw `NOT_FOUND`.
   * @throws NotFoundError when there is none by that name
   */
  async dropCollection(name: string): Promise<void> {
    if (typeof name !== 'string') throw new InvalidArgumentError('collection name must be a string')
    call(() => this.#native.dropCollection(name))
  }

  /** Close the database. Every later call on it or its collections throws `CLOSED`. Idempotent. */
  async close(): Promise<void> {
    this.#native.close()
  }

  /** Closes the database (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * Open a database. With a `path`, the directory is created if needed and holds the
 * database's files; without one the database lives in memory only.
 *
 * Storage is in memory in this release: data does not yet survive `close()` or a restart
 * even when a path is given (durable storage is the next milestone).
 */
export async function open(path?: string | null): Promise<Database> {
  if (path !== undefined && path !== null && (typeof path !== 'string' || path.length === 0 || path.includes('\0'))) {
    throw new InvalidArgumentError('path must be a non-empty string without NUL characters')
  }
  const p = path ?? null
  return new Database(call(() => native.NativeDatabase.open(p)), p)
}
