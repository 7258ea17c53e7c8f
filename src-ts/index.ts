/**
 * KyroDB: an embedded vector database for Node.js with a SIMD Rust core.
 *
 * ```ts
 * import { open } from 'kyrodb'
 *
 * await using db = await open('./my-data')
 * const docs = await db.createCollection('docs', { dimension: 3, metric: 'cosine' })
 * await docs.upsert([1, 2], [new Float32Array([1, 0, 0]), new Float32Array([0, 1, 0])], [{ title: 'a' }, { title: 'b' }])
 * const hits = await docs.search(new Float32Array([0.9, 0.1, 0]), { k: 1 })
 * // [{ id: 1, distance: 0.0061..., metadata: { title: 'a' } }]
 * ```
 * @module kyrodb
 */
export { open, Database } from './database.js'
export type {
  CacheOptions,
  CreateCollectionOptions,
  CollectionInfo,
  DatabaseStats,
  IndexOptions,
  OpenOptions,
  Durability,
  ProgressOptions,
  QueryCacheStats,
  GroupWrite,
  GroupOutcome,
} from './database.js'
export { Collection } from './collection.js'
export type {
  Metric,
  Metadata,
  SearchOptions,
  SearchResult,
  StoredVector,
  BuildIndexOptions,
  CollectionStats,
} from './collection.js'
export type { Filter, FilterObject, FieldCondition, FilterValue } from './filter.js'
export type { Id, IdList, IdType, NumericId } from './ids.js'
export { KeyValueStore, MAX_VALUE_BYTES } from './kv.js'
export type { Key, KvValue, KvWrite, KvStats, RangeOptions } from './kv.js'
export type { VectorLike, VectorBatch } from './vectors.js'
export {
  KyroDBError,
  InvalidArgumentError,
  DimensionMismatchError,
  InvalidFilterError,
  NotFoundError,
  AlreadyExistsError,
  ClosedError,
  IoError,
  CorruptionError,
  LockedError,
  ReadOnlyError,
  InternalError,
  UnavailableError,
} from './errors.js'
export type { ErrorCode } from './errors.js'
export type { ProgressCallback } from './progress.js'
export { ReplicationError } from './replication/errors.js'
export type { ReplicationErrorReason } from './replication/errors.js'
export type { ReplicationOptions, ReplicationStatus, Consistency } from './replication/config.js'
export type { Replication } from './replication/database.js'
export { engineInfo } from './info.js'
export type { EngineInfo } from './info.js'
