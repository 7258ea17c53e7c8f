/**
 * Key-value routes of the original KyroDB v1 API, plus delete, range and stats.
 *
 * Keys are u64: JSON numbers up to 2^53 − 1 or decimal strings (any u64); in paths and
 * query strings, decimal digits. Values stored through `/v1/put` are strings; values
 * stored through `/v1/put_fast/{key}` are raw bytes. `/v1/lookup` returns a string value
 * as is and a byte value in base64 (`"encoding": "base64"`); `/v1/get_fast/{key}` returns
 * the raw bytes of either.
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { Database } from '../../database.js'
import { HttpError } from '../errors.js'
import { keyToJson, toKey, u64, u64String } from '../schemas.js'

const jsonValue = (value: Buffer | string) =>
  typeof value === 'string' ? { value } : { value: value.toString('base64'), encoding: 'base64' as const }

const valueSchema = {
  type: 'object',
  properties: {
    key: { type: ['integer', 'string'] },
    value: { type: 'string' },
    encoding: { type: 'string', enum: ['base64'], description: 'present when the value is bytes (base64 in `value`)' },
  },
  required: ['key', 'value'],
} as const

const okSchema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } as const

function notFound(key: number | bigint): HttpError {
  return new HttpError(404, 'NOT_FOUND', `no value under key ${String(key)}`)
}

/** Register the key-value routes. */
export async function kvRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  const kv = db.kv

  app.post<{ Body: { key: number | string; value: string } }>(
    '/v1/put',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['kv'],
        summary: 'Store a string value under a key (durable when this returns).',
        body: {
          type: 'object',
          properties: { key: u64, value: { type: 'string' } },
          required: ['key', 'value'],
          additionalProperties: false,
        },
        response: { 200: okSchema },
      },
    },
    async (req) => {
      await kv.put(toKey(req.body.key, 'key'), req.body.value)
      return { ok: true }
    },
  )

  app.get<{ Querystring: { key: string } }>(
    '/v1/lookup',
    {
      config: { access: 'read' },
      schema: {
        tags: ['kv'],
        summary: 'The value under a key (404 NOT_FOUND when there is none).',
        querystring: { type: 'object', properties: { key: u64String }, required: ['key'] },
        response: { 200: valueSchema },
      },
    },
    async (req) => {
      const key = toKey(req.query.key, 'key')
      const value = kv.getSync(key)
      if (value === undefined) throw notFound(key)
      return { key: keyToJson(key), ...jsonValue(value) }
    },
  )

  // put_fast stores the body exactly as sent, whatever its content type (curl's
  // --data-binary sends application/x-www-form-urlencoded): its own parser scope.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers()
    raw.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
    raw.post<{ Params: { key: string }; Body: Buffer | undefined }>(
      '/v1/put_fast/:key',
      {
        config: { access: 'admin' },
        schema: {
          tags: ['kv'],
          summary: 'Store the raw request body (any content type) as a byte value. 204 when durable.',
          params: { type: 'object', properties: { key: u64String }, required: ['key'] },
          // Documentation only: the bytes are stored as sent, whatever the content type (a
          // Buffer is valid against this empty schema; other media types are not validated).
          body: { content: { 'application/octet-stream': { schema: { description: 'the value: raw bytes, any content type' } } } },
          response: { 204: { type: 'null', description: 'stored' } },
        },
      },
      async (req, reply) => {
        await kv.put(toKey(req.params.key, 'key'), req.body ?? Buffer.alloc(0))
        return reply.status(204).send()
      },
    )
  })

  app.get<{ Params: { key: string } }>(
    '/v1/get_fast/:key',
    {
      config: { access: 'read' },
      schema: {
        tags: ['kv'],
        summary: 'The raw bytes under a key (a string value as UTF-8). 404 NOT_FOUND when there is none.',
        params: { type: 'object', properties: { key: u64String }, required: ['key'] },
      },
    },
    (req, reply) => {
      const key = toKey(req.params.key, 'key')
      const value = kv.getSync(key)
      if (value === undefined) throw notFound(key)
      if (typeof value === 'string') void reply.type('text/plain; charset=utf-8').send(value)
      else void reply.type('application/octet-stream').send(value)
      return reply
    },
  )

  app.post<{ Body: { key: number | string } }>(
    '/v1/delete',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['kv'],
        summary: 'Remove a key. `deleted` tells whether it had a value.',
        body: { type: 'object', properties: { key: u64 }, required: ['key'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { deleted: { type: 'boolean' } }, required: ['deleted'] } },
      },
    },
    async (req) => ({ deleted: await kv.delete(toKey(req.body.key, 'key')) }),
  )

  app.get<{ Querystring: { gte?: string; gt?: string; lt?: string; lte?: string; limit?: string; reverse?: string } }>(
    '/v1/range',
    {
      config: { access: 'read' },
      schema: {
        tags: ['kv'],
        summary: 'Entries in key order within bounds; `next` continues the scan (pass it as `gt`, or `lt` when reverse).',
        querystring: {
          type: 'object',
          properties: {
            gte: u64String,
            gt: u64String,
            lt: u64String,
            lte: u64String,
            limit: { type: 'string', pattern: '^[0-9]{1,5}$', description: '1..10000, default 100' },
            reverse: { type: 'string', enum: ['true', 'false'] },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              entries: { type: 'array', items: valueSchema },
              next: { type: ['integer', 'string'] },
            },
            required: ['entries'],
          },
        },
      },
    },
    async (req) => {
      const q = req.query
      const limit = q.limit === undefined ? 100 : Number(q.limit)
      if (limit < 1 || limit > 10_000) throw new HttpError(400, 'INVALID_ARGUMENT', `limit must be in 1..10000, got ${limit}`)
      const bound = (v: string | undefined, name: string) => (v === undefined ? undefined : toKey(v, name))
      const entries: { key: number | string; value: string; encoding?: 'base64' }[] = []
      let last: number | bigint | undefined
      // One more than asked, to know whether there is a next page.
      for await (const [key, value] of kv.range({
        gte: bound(q.gte, 'gte'),
        gt: bound(q.gt, 'gt'),
        lt: bound(q.lt, 'lt'),
        lte: bound(q.lte, 'lte'),
        reverse: q.reverse === 'true',
        limit: limit + 1,
      })) {
        if (entries.length === limit) return { entries, next: keyToJson(last!) }
        entries.push({ key: keyToJson(key), ...jsonValue(value) })
        last = key
      }
      return { entries }
    },
  )

  app.get(
    '/v1/kv/stats',
    {
      config: { access: 'read' },
      schema: { tags: ['kv'], summary: 'Counters of the key-value store and its learned index.' },
    },
    async () => kv.stats(),
  )
}
