/**
 * Vector collection routes.
 *
 * Points are upserted as JSON (`{ ids, vectors, metadata? }`) or, for bulk loads, as an
 * `application/octet-stream` body in the **KyroDB binary points layout**: `n` ids as
 * little-endian `u64` followed by `n × dimension` little-endian `f32`, row-major — so
 * `n = bodyBytes / (8 + 4 × dimension)`, and a body whose size is not a multiple of that
 * is refused. Binary upserts carry no metadata (an upsert replaces the whole point, so a
 * point upserted this way has none).
 *
 * Ids in JSON are numbers up to 2^53 − 1 or decimal strings; responses use numbers where
 * safe and strings above.
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Collection, Metadata, SearchOptions, SearchResult } from '../../collection.js'
import type { Database } from '../../database.js'
import { HttpError } from '../errors.js'
import type { LoopLoad } from '../load.js'
import type { ServerMetrics } from '../metrics.js'
import { collectionName, filter, keyToJson, pointId, toPointId, vector } from '../schemas.js'

const nameParams = { type: 'object', properties: { name: collectionName }, required: ['name'] } as const

const info = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    dimension: { type: 'integer' },
    metric: { type: 'string', enum: ['l2', 'cosine', 'ip'] },
    count: { type: 'integer' },
    idType: { type: 'string', enum: ['u64', 'string'] },
  },
  required: ['name', 'dimension', 'metric', 'count', 'idType'],
} as const

const jsonId = { type: ['integer', 'string'] } as const

const hit = {
  type: 'object',
  properties: {
    id: jsonId,
    distance: { type: 'number' },
    metadata: { type: 'object', additionalProperties: true },
    vector: { type: 'array', items: { type: 'number' } },
  },
  required: ['id', 'distance'],
} as const

const searchFields = {
  k: { type: 'integer', minimum: 1, maximum: 10000, default: 10 },
  ef: { type: 'integer', minimum: 1, maximum: 10000 },
  filter,
  withMetadata: { type: 'boolean', default: true },
  withVectors: { type: 'boolean', default: false },
  cache: { type: 'boolean', default: true, description: 'answer from (and fill) the query-result cache' },
} as const

interface SearchBody {
  k: number
  ef?: number
  filter?: SearchOptions['filter']
  withMetadata: boolean
  withVectors: boolean
  cache: boolean
}

function hitToJson(r: SearchResult) {
  const out: { id: number | string; distance: number; metadata?: Metadata; vector?: number[] } = {
    id: keyToJson(r.id),
    distance: r.distance,
  }
  if (r.metadata !== undefined) out.metadata = r.metadata
  if (r.vector !== undefined) out.vector = Array.from(r.vector)
  return out
}

function searchOptions(b: SearchBody): SearchOptions {
  return { k: b.k, ef: b.ef, filter: b.filter, withMetadata: b.withMetadata, withVectors: b.withVectors, cache: b.cache }
}

/**
 * Largest `k` and `ef` of a search the route may run on the event loop (see
 * {@link SearchRunner}): unfiltered graph searches this size take tens to a few hundred
 * microseconds.
 */
const LOOP_SEARCH_MAX_K = 100
const LOOP_SEARCH_MAX_EF = 512

/**
 * Runs the single-search route's searches: a small unfiltered search runs on the event
 * loop when nothing competes for it (`searchSync`, no thread hop; see `../load.ts`), every
 * other search on the thread pool. Filtered or large searches (which may scan rows
 * exactly, or walk far) always go to the pool.
 */
class SearchRunner {
  constructor(readonly load: LoopLoad) {}

  async run(c: Collection, vector: number[], options: SearchOptions): Promise<SearchResult[]> {
    const small =
      options.filter === undefined &&
      (options.k ?? 10) <= LOOP_SEARCH_MAX_K &&
      (options.ef ?? 0) <= LOOP_SEARCH_MAX_EF
    if (small && this.load.loopIsFree()) {
      try {
        return c.searchSync(vector, options)
      } finally {
        this.load.ranOnLoop()
      }
    }
    return c.search(vector, options)
  }
}

/** Decode the binary points layout (see the module docs). */
function binaryPoints(c: Collection, body: Buffer): { ids: BigUint64Array; vectors: Float32Array } {
  const row = 8 + 4 * c.dimension
  if (body.length === 0 || body.length % row !== 0) {
    throw new HttpError(
      400,
      'INVALID_ARGUMENT',
      `a binary body holds n little-endian u64 ids then n x ${c.dimension} little-endian f32 (${row} bytes per point); got ${body.length} bytes`,
    )
  }
  const n = body.length / row
  // Copies: the body's offset inside its pool need not be aligned.
  const bytes = new Uint8Array(body.buffer, body.byteOffset, body.length)
  const ids = new BigUint64Array(new Uint8Array(bytes.subarray(0, 8 * n)).buffer)
  const vectors = new Float32Array(new Uint8Array(bytes.subarray(8 * n)).buffer)
  return { ids, vectors }
}

/**
 * Most hits one `search_batch` answer may hold (queries x min(k, count)): each hit is a few
 * JavaScript objects and ~30 bytes of JSON, so 10,000 queries x k = 10,000 (10^8 hits)
 * would exhaust the heap and kill the process.
 */
const MAX_BATCH_HITS = 1_000_000

function isBinary(req: FastifyRequest): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'application/octet-stream'
}

/** Register the collection routes. */
export async function collectionRoutes(
  app: FastifyInstance,
  { db, metrics, load }: { db: Database; metrics: ServerMetrics; load: LoopLoad },
): Promise<void> {
  const searches = new SearchRunner(load)
  app.get(
    '/v1/collections',
    {
      config: { access: 'read' },
      schema: {
        tags: ['collections'],
        summary: 'Every collection, sorted by name.',
        response: { 200: { type: 'object', properties: { collections: { type: 'array', items: info } }, required: ['collections'] } },
      },
    },
    async () => ({ collections: db.listCollections() }),
  )

  app.post<{
    Body: {
      name: string
      dimension: number
      metric?: 'l2' | 'cosine' | 'ip'
      index?: false | { m?: number; efConstruction?: number; autoBuildRows?: number }
      idType?: 'u64' | 'string'
    }
  }>(
    '/v1/collections',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Create an empty collection.',
        body: {
          type: 'object',
          properties: {
            name: collectionName,
            dimension: { type: 'integer', minimum: 1, maximum: 16384 },
            metric: { type: 'string', enum: ['l2', 'cosine', 'ip'], default: 'cosine' },
            index: {
              anyOf: [
                { type: 'boolean', enum: [false] },
                {
                  type: 'object',
                  properties: {
                    m: { type: 'integer', minimum: 2, maximum: 64 },
                    efConstruction: { type: 'integer', minimum: 1, maximum: 10000 },
                    autoBuildRows: { type: 'integer', minimum: 1 },
                  },
                  additionalProperties: false,
                },
              ],
              description: 'HNSW settings, or false for an exact-only collection',
            },
            idType: { type: 'string', enum: ['u64', 'string'], default: 'u64', description: 'what ids are: u64 integers or strings' },
          },
          required: ['name', 'dimension'],
          additionalProperties: false,
        },
        response: { 201: info },
      },
    },
    async (req, reply) => {
      const { name, dimension, metric, index, idType } = req.body
      const c = await db.createCollection(name, { dimension, metric, index, idType })
      return reply.status(201).send({ name: c.name, dimension: c.dimension, metric: c.metric, count: 0, idType: c.idType })
    },
  )

  app.get<{ Params: { name: string } }>(
    '/v1/collections/:name',
    {
      config: { access: 'read' },
      schema: {
        tags: ['collections'],
        summary: 'A collection: settings, count and layout (hot tier, segments).',
        params: nameParams,
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      return { name: c.name, dimension: c.dimension, metric: c.metric, idType: c.idType, ...c.stats() }
    },
  )

  app.delete<{ Params: { name: string } }>(
    '/v1/collections/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Drop a collection and everything in it.',
        params: nameParams,
        response: { 200: { type: 'object', properties: { dropped: { type: 'boolean' } }, required: ['dropped'] } },
      },
    },
    async (req) => {
      await db.dropCollection(req.params.name)
      return { dropped: true }
    },
  )

  app.post<{ Params: { name: string }; Body: { ids: (number | string)[]; vectors: number[][]; metadata?: (Metadata | null)[] } | Buffer }>(
    '/v1/collections/:name/points',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Insert or replace points: JSON, or the binary points layout (application/octet-stream).',
        params: nameParams,
        body: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  ids: { type: 'array', items: pointId, maxItems: 1_000_000 },
                  vectors: { type: 'array', items: vector, maxItems: 1_000_000 },
                  metadata: { type: 'array', items: { anyOf: [{ type: 'object' }, { type: 'null' }] } },
                },
                required: ['ids', 'vectors'],
                additionalProperties: false,
              },
            },
            'application/octet-stream': {
              // No `type`: fastify validates the parsed body, a Buffer, against this schema,
              // and a Buffer is not a JSON string (`type: 'string'` refused every binary body).
              schema: { description: 'n little-endian u64 ids, then n x dimension little-endian f32 (row-major)' },
            },
          },
        },
        response: { 200: { type: 'object', properties: { upserted: { type: 'integer' } }, required: ['upserted'] } },
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      let upserted: number
      // No body at all (and no content type) reaches here unvalidated: the JSON schema
      // applies to application/json bodies only.
      if (req.body === undefined || req.body === null) {
        throw new HttpError(400, 'INVALID_ARGUMENT', 'a body is required: JSON { ids, vectors, metadata? } or the binary points layout')
      }
      if (Buffer.isBuffer(req.body)) {
        if (!isBinary(req)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send points as application/json or application/octet-stream')
        if (c.idType === 'string') {
          throw new HttpError(400, 'INVALID_ARGUMENT', 'the binary points layout carries u64 ids; send points of a string-id collection as JSON')
        }
        const { ids, vectors } = binaryPoints(c, req.body)
        upserted = await c.upsert(ids, vectors)
      } else {
        const { ids, vectors, metadata } = req.body
        upserted = await c.upsert(
          ids.map((id, i) => toPointId(c.idType, id, `ids[${i}]`)),
          vectors,
          metadata,
        )
      }
      metrics.vectorWrites.inc({ op: 'upsert' }, upserted)
      return { upserted }
    },
  )

  app.get<{ Params: { name: string; id: string } }>(
    '/v1/collections/:name/points/:id',
    {
      config: { access: 'read' },
      schema: {
        tags: ['collections'],
        summary: 'A stored point (404 NOT_FOUND when there is none).',
        params: { type: 'object', properties: { name: collectionName, id: { type: 'string', minLength: 1, maxLength: 2048 } }, required: ['name', 'id'] },
        response: {
          200: {
            type: 'object',
            properties: { id: jsonId, vector: { type: 'array', items: { type: 'number' } }, metadata: { type: 'object', additionalProperties: true } },
            required: ['id', 'vector'],
          },
        },
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      const id = toPointId(c.idType, req.params.id, 'id')
      const found = await c.get(id)
      if (found === null) throw new HttpError(404, 'NOT_FOUND', `no point ${String(id)} in collection ${req.params.name}`)
      return { id: keyToJson(found.id), vector: Array.from(found.vector), ...(found.metadata ? { metadata: found.metadata } : {}) }
    },
  )

  const deletedSchema = { type: 'object', properties: { deleted: { type: 'integer' } }, required: ['deleted'] } as const

  app.delete<{ Params: { name: string; id: string } }>(
    '/v1/collections/:name/points/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Delete a point; `deleted` is 1 when it existed, else 0.',
        params: { type: 'object', properties: { name: collectionName, id: { type: 'string', minLength: 1, maxLength: 2048 } }, required: ['name', 'id'] },
        response: { 200: deletedSchema },
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      const deleted = await c.delete([toPointId(c.idType, req.params.id, 'id')])
      metrics.vectorWrites.inc({ op: 'delete' }, deleted)
      return { deleted }
    },
  )

  app.post<{ Params: { name: string }; Body: { ids: (number | string)[]; withVectors: boolean } }>(
    '/v1/collections/:name/points/get',
    {
      config: { access: 'read' },
      schema: {
        tags: ['collections'],
        summary: 'Get many points in one request: `points[i]` is the point of `ids[i]`, or null when it is not stored.',
        params: nameParams,
        body: {
          type: 'object',
          properties: {
            ids: { type: 'array', items: pointId, maxItems: 10_000 },
            withVectors: { type: 'boolean', default: true },
          },
          required: ['ids'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              points: {
                type: 'array',
                items: {
                  anyOf: [
                    {
                      type: 'object',
                      properties: { id: jsonId, vector: { type: 'array', items: { type: 'number' } }, metadata: { type: 'object', additionalProperties: true } },
                      required: ['id'],
                    },
                    { type: 'null' },
                  ],
                },
              },
            },
            required: ['points'],
          },
        },
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      const found = await c.getMany(req.body.ids.map((id, i) => toPointId(c.idType, id, `ids[${i}]`)))
      return {
        points: found.map((p) =>
          p === null
            ? null
            : { id: keyToJson(p.id), ...(req.body.withVectors ? { vector: Array.from(p.vector) } : {}), ...(p.metadata ? { metadata: p.metadata } : {}) },
        ),
      }
    },
  )

  app.post<{ Params: { name: string }; Body: { ids: (number | string)[] } }>(
    '/v1/collections/:name/points/delete',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Delete many points; `deleted` counts those that existed.',
        params: nameParams,
        body: { type: 'object', properties: { ids: { type: 'array', items: pointId, maxItems: 1_000_000 } }, required: ['ids'], additionalProperties: false },
        response: { 200: deletedSchema },
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      const deleted = await c.delete(req.body.ids.map((id, i) => toPointId(c.idType, id, `ids[${i}]`)))
      metrics.vectorWrites.inc({ op: 'delete' }, deleted)
      return { deleted }
    },
  )

  app.post<{ Params: { name: string }; Body: SearchBody & { vector: number[] } }>(
    '/v1/collections/:name/search',
    {
      config: { access: 'read' },
      schema: {
        tags: ['collections'],
        summary: 'The k nearest neighbours of a vector, closest first, optionally filtered by metadata.',
        params: nameParams,
        body: { type: 'object', properties: { vector, ...searchFields }, required: ['vector'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: hit } }, required: ['results'] } },
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      const end = metrics.searches.startTimer({ kind: 'single' })
      const results = await searches.run(c, req.body.vector, searchOptions(req.body))
      end()
      return { results: results.map(hitToJson) }
    },
  )

  app.post<{ Params: { name: string }; Body: SearchBody & { vectors: number[][] } }>(
    '/v1/collections/:name/search_batch',
    {
      config: { access: 'read' },
      schema: {
        tags: ['collections'],
        summary:
          'Search many vectors at once (spread over every core); one result list per vector, in order. ' +
          `At most ${MAX_BATCH_HITS} hits per call (queries x min(k, count)); more is 400 INVALID_ARGUMENT.`,
        params: nameParams,
        body: {
          type: 'object',
          properties: { vectors: { type: 'array', items: vector, minItems: 1, maxItems: 10000 }, ...searchFields },
          required: ['vectors'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: { type: 'array', items: hit } } }, required: ['results'] } },
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      const count = c.count()
      const hits = req.body.vectors.length * Math.min(req.body.k, count)
      if (hits > MAX_BATCH_HITS) {
        throw new HttpError(
          400,
          'INVALID_ARGUMENT',
          `${req.body.vectors.length} queries x min(k = ${req.body.k}, ${count} points) = ${hits} hits, over the ${MAX_BATCH_HITS} a batch may return: split the batch or lower k`,
        )
      }
      const end = metrics.searches.startTimer({ kind: 'batch' })
      const results = await c.searchBatch(req.body.vectors, searchOptions(req.body))
      end()
      return { results: results.map((list) => list.map(hitToJson)) }
    },
  )

  app.post<{ Params: { name: string } }>(
    '/v1/collections/:name/build_index',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Build one HNSW graph over everything stored in the collection (after a bulk load).',
        params: nameParams,
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, count: { type: 'integer' } }, required: ['ok', 'count'] } },
      },
    },
    async (req) => {
      const c = db.collection(req.params.name)
      await c.buildIndex()
      return { ok: true, count: c.count() }
    },
  )
}
