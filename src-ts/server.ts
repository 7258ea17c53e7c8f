/**
 * The HTTP server (`kyrodb serve`): a fastify app over one {@link Database}.
 *
 * Routes (JSON in and out; errors are `{ error: { code, message } }`):
 * - `GET /health` → `{ status: "ok" }`
 * - `GET /build_info` → package and engine versions, SIMD level
 * - `GET /v1/collections` → `{ collections: CollectionInfo[] }`
 * - `POST /v1/collections` `{ name, dimension, metric? }` → 201 `CollectionInfo`
 * - `POST /v1/collections/:name/upsert` `{ ids, vectors, metadata? }` → `{ upserted }`
 * - `POST /v1/collections/:name/search` `{ vector, k }` → `{ results: SearchResult[] }`
 * @module
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Database } from './database.js'
import { KyroDBError, type ErrorCode } from './errors.js'
import { engineInfo } from './info.js'

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The database to serve. The server does not close it. */
  db: Database
  /** fastify logger setting: `false`, `true` or a pino options object. Default `false`. */
  logger?: boolean | { level: string }
  /** Largest accepted request body in bytes; default 64 MiB. */
  bodyLimit?: number
}

const httpStatus: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  DIMENSION_MISMATCH: 400,
  INVALID_FILTER: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CLOSED: 503,
  IO: 500,
  CORRUPTION: 500,
  LOCKED: 423,
  READ_ONLY: 503,
  INTERNAL: 500,
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

/** JSON numbers for ids where safe, strings for larger ids (JSON has no 64-bit integers). */
function idToJson(id: number | bigint): number | string {
  return typeof id === 'bigint' ? id.toString() : id
}

function jsonToId(value: unknown): unknown {
  return typeof value === 'string' && /^[0-9]+$/.test(value) ? BigInt(value) : value
}

/** Build the fastify app. Call `.listen()` on it to serve. */
export function createServer(options: ServerOptions): FastifyInstance {
  const { db } = options
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024 })

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof KyroDBError) {
      return reply.status(httpStatus[err.code]).send({ error: { code: err.code, message: err.message } })
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status < 500 ? 'INVALID_ARGUMENT' : 'INTERNAL'
    const message = err instanceof Error ? err.message : String(err)
    return reply.status(status).send({ error: { code, message } })
  })

  app.get('/health', async () => ({ status: 'ok' }))

  app.get('/build_info', async () => ({
    name: 'kyrodb',
    version: packageVersion(),
    ...engineInfo(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  }))

  app.get('/v1/collections', async () => ({ collections: db.listCollections() }))

  app.post('/v1/collections', async (req, reply) => {
    const body = (req.body ?? {}) as { name?: unknown; dimension?: unknown; metric?: unknown }
    const c = await db.createCollection(body.name as string, {
      dimension: body.dimension as number,
      metric: body.metric as 'l2' | 'cosine' | 'ip' | undefined,
    })
    return reply.status(201).send({ name: c.name, dimension: c.dimension, metric: c.metric, count: 0 })
  })

  app.post<{ Params: { name: string } }>('/v1/collections/:name/upsert', async (req) => {
    const body = (req.body ?? {}) as { ids?: unknown; vectors?: unknown; metadata?: unknown }
    const ids = Array.isArray(body.ids) ? body.ids.map(jsonToId) : body.ids
    const upserted = await db
      .collection(req.params.name)
      .upsert(ids as number[], body.vectors as number[][], body.metadata as undefined)
    return { upserted }
  })

  app.post<{ Params: { name: string } }>('/v1/collections/:name/search', async (req) => {
    const body = (req.body ?? {}) as { vector?: unknown; k?: unknown }
    const results = await db.collection(req.params.name).search(body.vector as number[], { k: (body.k ?? 10) as number })
    return { results: results.map((r) => ({ ...r, id: idToJson(r.id) })) }
  })

  return app
}
