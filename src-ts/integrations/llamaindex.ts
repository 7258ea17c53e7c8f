/**
 * KyroDB as a LlamaIndex.TS vector store (`@llamaindex/core` 0.6, the version `llamaindex`
 * 0.12 pins; an optional peer dependency: `npm install kyrodb llamaindex`).
 *
 * ```ts
 * import { open } from 'kyrodb'
 * import { KyroDBVectorStore } from 'kyrodb/llamaindex'
 * import { storageContextFromDefaults, VectorStoreIndex } from 'llamaindex'
 *
 * const db = await open('./rag-data')
 * const vectorStore = new KyroDBVectorStore({ db, collectionName: 'nodes', embedModel })
 * const storageContext = await storageContextFromDefaults({ vectorStore })
 * const index = await VectorStoreIndex.fromDocuments(documents, { storageContext })
 * const retriever = index.asRetriever({
 *   similarityTopK: 4,
 *   filters: { filters: [{ key: 'year', operator: '>=', value: 2020 }] },
 * })
 * ```
 *
 * Nodes are rows of a string-id collection: the node id is the row id and the row's metadata
 * is LlamaIndex's own flat layout (`nodeToMetadata`: the node's metadata fields, plus
 * `_node_content`, `_node_type`, `doc_id`, `document_id`, `ref_doc_id`), so the store keeps the
 * text (`storesText`) and {@link KyroDBVectorStore.delete} removes a source document's nodes
 * by `ref_doc_id`. Query filters become KyroDB filters ({@link toKyroDBFilter}). Similarities
 * are higher-is-closer: cosine similarity under `cosine` (the default), inner product under
 * `ip`, negated squared distance under `l2`.
 * @module kyrodb/llamaindex
 */
import { getTopKMMREmbeddings } from '@llamaindex/core/embeddings'
import type { BaseNode, Metadata as NodeMetadata } from '@llamaindex/core/schema'
import {
  BaseVectorStore,
  metadataDictToNode,
  nodeToMetadata,
  VectorStoreQueryMode,
  type MetadataFilter,
  type MetadataFilters,
  type VectorStoreBaseParams,
  type VectorStoreQuery,
  type VectorStoreQueryResult,
} from '@llamaindex/core/vector-store'
import type { Collection, Metadata, SearchResult, StoredVector } from '../collection.js'
import { InvalidArgumentError, InvalidFilterError } from '../errors.js'
import type { FilterObject, FilterValue } from '../filter.js'
import { CollectionRef, deleteMatching, distanceOf, MAX_K, similarityFromDistance, upsertLastWins, type KyroDBCollectionConfig } from './common.js'

export type { KyroDBCollectionConfig } from './common.js'

/**
 * Options of {@link KyroDBVectorStore}: where the vectors live, and LlamaIndex's `embedModel`
 * (without one, LlamaIndex's `Settings.embedModel`, which must then be set, as for every
 * LlamaIndex vector store).
 */
export interface KyroDBVectorStoreArgs extends KyroDBCollectionConfig, VectorStoreBaseParams {
  /** Collection name in `db`; default `"llamaindex"`. */
  collectionName?: string
}

/** Candidates fetched per requested node in MMR mode (LlamaIndex Python's `mmr_prefetch_factor`). */
const MMR_PREFETCH_FACTOR = 4

function scalar(f: MetadataFilter): string | number {
  const v = f.value
  if (typeof v !== 'string' && typeof v !== 'number') {
    throw new InvalidFilterError(`filter on '${f.key}' with operator '${f.operator}' needs a string or number value, got ${JSON.stringify(v)}`)
  }
  return v
}

function list(f: MetadataFilter): FilterValue[] {
  const v = f.value
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number')) {
    throw new InvalidFilterError(`filter on '${f.key}' with operator '${f.operator}' needs an array of strings or numbers, got ${JSON.stringify(v)}`)
  }
  return v
}

function number(f: MetadataFilter): number {
  const v = scalar(f)
  if (typeof v !== 'number') {
    throw new InvalidFilterError(`filter on '${f.key}' with operator '${f.operator}': KyroDB range operators compare numbers only, got ${JSON.stringify(v)}`)
  }
  return v
}

function oneFilter(f: MetadataFilter | MetadataFilters): FilterObject {
  if ('filters' in f) {
    const nested = toKyroDBFilter(f)
    return nested ?? {}
  }
  if (typeof f.key !== 'string' || f.key.length === 0) throw new InvalidFilterError(`a metadata filter needs a key, got ${JSON.stringify(f)}`)
  const key = f.key
  const present: FilterObject = { [key]: { $exists: true } }
  switch (f.operator) {
    case '==':
      return { [key]: { $eq: scalar(f) } }
    case '!=':
      return { $and: [present, { [key]: { $ne: scalar(f) } }] }
    case '>':
      return { [key]: { $gt: number(f) } }
    case '>=':
      return { [key]: { $gte: number(f) } }
    case '<':
      return { [key]: { $lt: number(f) } }
    case '<=':
      return { [key]: { $lte: number(f) } }
    case 'in':
    case 'any':
      return { [key]: { $in: list(f) } }
    case 'nin':
      return { $and: [present, { [key]: { $nin: list(f) } }] }
    case 'all': {
      const values = list(f)
      return values.length === 0 ? present : { $and: values.map((v) => ({ [key]: { $eq: v } })) }
    }
    case 'contains':
      return { [key]: { $eq: scalar(f) } }
    case 'is_empty':
      return { $or: [{ [key]: { $exists: false } }, { [key]: { $eq: null } }, { [key]: { $eq: '' } }] }
    case 'text_match':
      throw new InvalidFilterError(`filter on '${key}': KyroDB filters have no substring match ('text_match'); match whole values with '==' or 'in'`)
    default:
      throw new InvalidFilterError(`filter on '${key}': unknown operator '${String(f.operator)}'`)
  }
}

/**
 * LlamaIndex metadata filters as a KyroDB object filter (`undefined` when there are none).
 *
 * | LlamaIndex | KyroDB |
 * | --- | --- |
 * | `==`, `contains` | `{ key: { $eq: v } }` (an array field matches when it contains `v`) |
 * | `!=` | `{ $and: [{ key: { $exists: true } }, { key: { $ne: v } }] }` |
 * | `>` `>=` `<` `<=` | `$gt` `$gte` `$lt` `$lte` (numbers only) |
 * | `in`, `any` | `{ key: { $in: [...] } }` |
 * | `nin` | `{ $and: [{ key: { $exists: true } }, { key: { $nin: [...] } }] }` |
 * | `all` | `{ $and: [{ key: v1 }, { key: v2 }, ...] }` |
 * | `is_empty` | absent, `null` or `""` |
 * | `text_match` | not supported: throws `INVALID_FILTER` |
 *
 * As in LlamaIndex's in-memory store, a row without the field matches no operator but
 * `is_empty`. Differences: range operators compare numbers only (a string value throws
 * `INVALID_FILTER`), `in` and `==` also match array fields containing the value, and an empty
 * array is not `is_empty`.
 * @throws InvalidFilterError on an unknown or unsupported operator or a value of the wrong type
 */
export function toKyroDBFilter(filters: MetadataFilters | undefined): FilterObject | undefined {
  if (filters === undefined || filters === null) return undefined
  if (!Array.isArray(filters.filters)) throw new InvalidFilterError('metadata filters must be { filters: [...], condition? }')
  if (filters.filters.length === 0) return undefined
  const parts = filters.filters.map((f) => oneFilter(f as MetadataFilter | MetadataFilters))
  const condition: string = filters.condition ?? 'and'
  if (condition === 'and') return parts.length === 1 ? parts[0] : { $and: parts }
  if (condition === 'or') return { $or: parts }
  throw new InvalidFilterError(`unknown filter condition '${condition}' (expected 'and' or 'or')`)
}

/**
 * A LlamaIndex `BaseVectorStore` over a KyroDB string-id collection. Pass it to
 * `storageContextFromDefaults({ vectorStore })` or `VectorStoreIndex.fromVectorStore`.
 */
export class KyroDBVectorStore extends BaseVectorStore<Collection | null> {
  /** The store keeps each node's text and metadata, so nodes come back from queries. */
  storesText = true

  readonly #ref: CollectionRef
  readonly #ef: number | undefined

  /** @param args where the vectors live (`{ db, collectionName? }` or `{ collection }`) and the `embedModel` */
  constructor(args: KyroDBVectorStoreArgs) {
    super(args)
    this.#ref = new CollectionRef(args, 'llamaindex')
    this.#ef = args.ef
  }

  /** The collection, or `null` while nothing has been added to a collection that did not exist. */
  client(): Collection | null {
    return this.#ref.existing()
  }

  /**
   * Store nodes (each must carry its embedding); a node whose id is stored already replaces
   * it. All or nothing.
   * @returns the node ids
   */
  async add(nodes: BaseNode[]): Promise<string[]> {
    const ids = nodes.map((n) => n.id_)
    if (nodes.length === 0) return ids
    const vectors = nodes.map((n) => n.getEmbedding())
    const metadata = nodes.map((n) => nodeToMetadata(n) as Metadata)
    await upsertLastWins(this.#ref, ids, vectors, metadata)
    return ids
  }

  /** Delete every node of the source document `refDocId` (none: nothing happens). */
  async delete(refDocId: string): Promise<void> {
    const collection = this.#ref.existing()
    if (collection === null) return
    await deleteMatching(collection, { ref_doc_id: refDocId })
  }

  /**
   * The `similarityTopK` nodes closest to `queryEmbedding` that match `filters`, closest
   * first, in `default` or `mmr` mode (`mmrThreshold`, default 0.5, weighs similarity
   * against diversity among `4 × similarityTopK` candidates, as LlamaIndex's in-memory store
   * does). `docIds` restricts the query to those node ids (computed exactly, here; it cannot
   * be combined with `filters`).
   */
  async query(query: VectorStoreQuery): Promise<VectorStoreQueryResult> {
    const mode = query.mode ?? VectorStoreQueryMode.DEFAULT
    if (mode !== VectorStoreQueryMode.DEFAULT && mode !== VectorStoreQueryMode.MMR) {
      throw new InvalidArgumentError(`query mode '${mode}' is not supported by KyroDB (use 'default' or 'mmr')`)
    }
    const q = query.queryEmbedding
    if (!Array.isArray(q) || q.length === 0) throw new InvalidArgumentError('query.queryEmbedding is required')
    const filter = toKyroDBFilter(query.filters)
    const collection = this.#ref.existing()
    if (collection === null) return { ids: [], similarities: [], nodes: [] }
    const topK = query.similarityTopK
    const mmr = mode === VectorStoreQueryMode.MMR
    const metric = collection.metric

    let hits: (SearchResult | StoredVector)[]
    let distances: number[]
    if (query.docIds !== undefined) {
      if (filter !== undefined) throw new InvalidArgumentError('query.docIds cannot be combined with query.filters')
      const rows = await Promise.all([...new Set(query.docIds)].map((id) => collection.get(id)))
      const scored = rows
        .filter((r): r is StoredVector => r !== null)
        .map((row) => ({ row, distance: distanceOf(metric, q, row.vector) }))
        .sort((a, b) => a.distance - b.distance || ((a.row.id as string) < (b.row.id as string) ? -1 : 1))
      const take = mmr ? scored : scored.slice(0, topK)
      hits = take.map((s) => s.row)
      distances = take.map((s) => s.distance)
    } else {
      const k = Math.min(mmr ? topK * MMR_PREFETCH_FACTOR : topK, MAX_K)
      const ef = this.#ef === undefined ? undefined : Math.min(Math.max(this.#ef, k), MAX_K)
      const found = await collection.search(q, { k, ef, filter, withVectors: mmr })
      hits = found
      distances = found.map((h) => h.distance)
    }

    if (mmr) {
      const ids = hits.map((h) => h.id as string)
      const [similarities, picked] = getTopKMMREmbeddings(
        q,
        hits.map((h) => Array.from(h.vector as Float32Array)),
        null,
        topK,
        ids,
        undefined,
        query.mmrThreshold ?? null,
      ) as [number[], string[]]
      const byId = new Map(hits.map((h) => [h.id as string, h]))
      return {
        ids: picked,
        similarities,
        nodes: picked.map((id) => toNode(id, byId.get(id)?.metadata)),
      }
    }
    return {
      ids: hits.map((h) => h.id as string),
      similarities: distances.map((d) => similarityFromDistance(metric, d)),
      nodes: hits.map((h) => toNode(h.id as string, h.metadata)),
    }
  }
}

/** A node from its row: LlamaIndex's own layout, or a text node around foreign metadata. */
function toNode(id: string, metadata: Metadata | undefined): BaseNode {
  const m = (metadata ?? {}) as NodeMetadata
  if (typeof m._node_content === 'string') return metadataDictToNode(m)
  return metadataDictToNode(m, { fallback: { id_: id, text: typeof m.text === 'string' ? m.text : '', metadata: m } })
}
