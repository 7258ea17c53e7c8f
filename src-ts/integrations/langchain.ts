/**
 * KyroDB as a LangChain.js vector store (`@langchain/core` 1.x, an optional peer dependency:
 * `npm install kyrodb @langchain/core`).
 *
 * ```ts
 * import { open } from 'kyrodb'
 * import { KyroDBVectorStore } from 'kyrodb/langchain'
 *
 * const db = await open('./rag-data')
 * const store = await KyroDBVectorStore.fromDocuments(docs, embeddings, { db, collectionName: 'chunks' })
 * const hits = await store.similaritySearchWithScore('how do I back up?', 4, { source: 'manual.md' })
 * const diverse = await store.maxMarginalRelevanceSearch('backups', { k: 4, fetchK: 20, lambda: 0.5 })
 * ```
 *
 * Documents are rows of a string-id collection: the document's `id` (or a random UUID) is the
 * row id, its metadata fields are the row's metadata, and its text is stored under one more
 * field (`textKey`, default `"text"`). Filters are KyroDB filters on the metadata fields, in
 * either form: `{ source: 'manual.md', page: { $gte: 3 } }` or `"source == 'manual.md'"`.
 * Scores are similarities, higher is closer: cosine similarity under `cosine` (the default
 * metric), inner product under `ip`, negated squared distance under `l2`.
 * @module kyrodb/langchain
 */
import { randomUUID } from 'node:crypto'
import { Document, type DocumentInterface } from '@langchain/core/documents'
import type { EmbeddingsInterface } from '@langchain/core/embeddings'
import { maximalMarginalRelevance } from '@langchain/core/utils/math'
import { VectorStore, type MaxMarginalRelevanceSearchOptions } from '@langchain/core/vectorstores'
import type { Collection, Metadata } from '../collection.js'
import { InvalidArgumentError } from '../errors.js'
import type { Filter } from '../filter.js'
import { CollectionRef, deleteMatching, MAX_K, similarityFromDistance, upsertLastWins, type KyroDBCollectionConfig } from './common.js'

export type { KyroDBCollectionConfig } from './common.js'

/** Options of {@link KyroDBVectorStore}. */
export interface KyroDBVectorStoreArgs extends KyroDBCollectionConfig {
  /** Collection name in `db`; default `"langchain"`. */
  collectionName?: string
  /** Metadata field that holds each document's text; default `"text"`. Documents may not use it as a metadata field. */
  textKey?: string
}

/** Options of {@link KyroDBVectorStore.addVectors} and {@link KyroDBVectorStore.addDocuments}. */
export interface KyroDBAddOptions {
  /** One id per document; default each document's `id`, else a random UUID. An existing id is overwritten. */
  ids?: string[]
}

/** Parameters of {@link KyroDBVectorStore.delete}: ids, a filter, or both (rows matching either go). */
export interface KyroDBDeleteParams {
  /** Ids to delete; ids that are not stored are ignored. */
  ids?: string[]
  /** Delete every document whose metadata matches. */
  filter?: Filter
}

/**
 * A LangChain `VectorStore` over a KyroDB string-id collection. Use it like any LangChain
 * store (`similaritySearch`, `asRetriever`, `maxMarginalRelevanceSearch`, ...), with
 * KyroDB filters as its `FilterType`.
 */
export class KyroDBVectorStore extends VectorStore {
  /** KyroDB filters: the object form or the string form. */
  declare FilterType: Filter

  readonly #ref: CollectionRef
  readonly #textKey: string
  readonly #ef: number | undefined

  /** LangChain's name of this store type. */
  override _vectorstoreType(): string {
    return 'kyrodb'
  }

  /**
   * @param embeddings embeds documents and queries
   * @param args where the vectors live: `{ db, collectionName? }` or `{ collection }`
   */
  constructor(embeddings: EmbeddingsInterface, args: KyroDBVectorStoreArgs) {
    super(embeddings, {})
    this.#ref = new CollectionRef(args, 'langchain')
    const textKey = args.textKey ?? 'text'
    if (typeof textKey !== 'string' || textKey.length === 0) throw new InvalidArgumentError('textKey must be a non-empty string')
    this.#textKey = textKey
    this.#ef = args.ef
  }

  /** The collection, or `null` while nothing has been added to a collection that did not exist. */
  get collection(): Collection | null {
    return this.#ref.existing()
  }

  /**
   * Store documents with their vectors; documents whose id is already stored replace it.
   * All or nothing: if any entry is invalid nothing is written.
   * @returns the ids, one per document
   */
  override async addVectors(vectors: number[][], documents: DocumentInterface[], options: KyroDBAddOptions = {}): Promise<string[]> {
    if (vectors.length !== documents.length) {
      throw new InvalidArgumentError(`got ${vectors.length} vectors but ${documents.length} documents`)
    }
    if (options.ids !== undefined && options.ids.length !== documents.length) {
      throw new InvalidArgumentError(`got ${options.ids.length} ids but ${documents.length} documents`)
    }
    const ids = documents.map((doc, i) => options.ids?.[i] ?? doc.id ?? randomUUID())
    if (documents.length === 0) return ids
    const metadata = documents.map((doc, i) => {
      if (Object.prototype.hasOwnProperty.call(doc.metadata ?? {}, this.#textKey)) {
        throw new InvalidArgumentError(
          `documents[${i}].metadata has a field '${this.#textKey}', the field that holds the text (textKey); rename it or choose another textKey`,
        )
      }
      return { ...doc.metadata, [this.#textKey]: doc.pageContent } as Metadata
    })
    await upsertLastWins(this.#ref, ids, vectors, metadata)
    return ids
  }

  /** Embed the documents' text with the store's embeddings, then {@link KyroDBVectorStore.addVectors}. */
  override async addDocuments(documents: DocumentInterface[], options: KyroDBAddOptions = {}): Promise<string[]> {
    const vectors = await this.embeddings.embedDocuments(documents.map((d) => d.pageContent))
    return this.addVectors(vectors, documents, options)
  }

  /** The `k` documents closest to `query`, with their similarity scores, closest first. */
  override async similaritySearchVectorWithScore(query: number[], k: number, filter?: this['FilterType']): Promise<[Document, number][]> {
    const collection = this.#ref.existing()
    if (collection === null) return []
    const hits = await collection.search(query, { k, ef: this.#efFor(k), filter })
    const metric = collection.metric
    return hits.map((h) => [this.#toDocument(h.id as string, h.metadata), similarityFromDistance(metric, h.distance)])
  }

  /**
   * Maximal marginal relevance: fetch the `fetchK` (default 20) documents closest to the
   * query, then pick `k` of them one at a time, each maximising
   * `lambda · similarity to the query − (1 − lambda) · its highest similarity to those picked`
   * (LangChain's `maximalMarginalRelevance`; `lambda` default 0.5: 1 is plain similarity, 0 is
   * most diverse).
   */
  override async maxMarginalRelevanceSearch(query: string, options: MaxMarginalRelevanceSearchOptions<this['FilterType']>): Promise<Document[]> {
    const collection = this.#ref.existing()
    if (collection === null) return []
    const { k, fetchK = 20, lambda = 0.5, filter } = options
    const queryVector = await this.embeddings.embedQuery(query)
    const fetch = Math.min(Math.max(fetchK, k), MAX_K)
    const hits = await collection.search(queryVector, { k: fetch, ef: this.#efFor(fetch), filter, withVectors: true })
    if (hits.length === 0) return []
    const picked = maximalMarginalRelevance(
      queryVector,
      hits.map((h) => Array.from(h.vector as Float32Array)),
      lambda,
      Math.min(k, hits.length),
    )
    return picked.map((i) => this.#toDocument(hits[i].id as string, hits[i].metadata))
  }

  /**
   * Delete documents by id (ids that are not stored are ignored, as LangChain expects) and/or
   * every document matching `filter`.
   */
  override async delete(params: KyroDBDeleteParams = {}): Promise<void> {
    const { ids, filter } = params
    if (ids === undefined && filter === undefined) throw new InvalidArgumentError('delete needs { ids } or { filter }')
    const collection = this.#ref.existing()
    if (collection === null) return
    if (ids !== undefined && ids.length > 0) await collection.delete(ids)
    if (filter !== undefined) await deleteMatching(collection, filter)
  }

  /**
   * The stored documents with these ids, in the order asked, each with its `id` set. Ids that
   * are not stored are left out (so fewer documents may come back than ids were asked for).
   */
  async getByIds(ids: string[]): Promise<Document[]> {
    const collection = this.#ref.existing()
    if (collection === null) return []
    const found = await Promise.all(ids.map((id) => collection.get(id)))
    const out: Document[] = []
    for (const row of found) if (row !== null) out.push(this.#toDocument(row.id as string, row.metadata))
    return out
  }

  /** A store over `args`, with these texts added (`metadatas`: one object per text, or one for all). */
  static override async fromTexts(
    texts: string[],
    metadatas: object[] | object,
    embeddings: EmbeddingsInterface,
    args: KyroDBVectorStoreArgs,
  ): Promise<KyroDBVectorStore> {
    const docs = texts.map(
      (pageContent, i) =>
        new Document({ pageContent, metadata: { ...(Array.isArray(metadatas) ? (metadatas[i] as object | undefined) : metadatas) } }),
    )
    return KyroDBVectorStore.fromDocuments(docs, embeddings, args)
  }

  /** A store over `args`, with these documents added. */
  static override async fromDocuments(docs: DocumentInterface[], embeddings: EmbeddingsInterface, args: KyroDBVectorStoreArgs): Promise<KyroDBVectorStore> {
    const store = new KyroDBVectorStore(embeddings, args)
    await store.addDocuments(docs)
    return store
  }

  /** A store over an existing collection (or one that will be created on the first add). */
  static async fromExistingIndex(embeddings: EmbeddingsInterface, args: KyroDBVectorStoreArgs): Promise<KyroDBVectorStore> {
    return new KyroDBVectorStore(embeddings, args)
  }

  #efFor(k: number): number | undefined {
    return this.#ef === undefined ? undefined : Math.min(Math.max(this.#ef, k), MAX_K)
  }

  #toDocument(id: string, metadata: Metadata | undefined): Document {
    const { [this.#textKey]: text, ...rest } = metadata ?? {}
    return new Document({ id, pageContent: typeof text === 'string' ? text : '', metadata: rest })
  }
}
